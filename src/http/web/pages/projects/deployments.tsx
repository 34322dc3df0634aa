import type { Deployment } from '../../../../services/deployments.service.js';
import type { Project } from '../../../../services/projects.service.js';
import { EnvFilter } from '../../components.js';
import { Document, type PageCtx, ProjectTabs } from '../../ui.js';
import { DeploymentsList } from './deployments-table.js';
import { crumbsFor, projectHref } from './links.js';

export function DeploymentsPage(p: {
  ctx: PageCtx;
  project: Project;
  deployments: Deployment[] | undefined;
  env: string;
  /** Only this pull request's preview deployments. */
  pr?: number | undefined;
  /** The last id of this page, when there are older deployments. */
  next?: string | undefined;
  firstPage?: boolean;
}) {
  const { project } = p;
  const base = projectHref(project.slug);
  const list = `${base}/deployments`;
  const qs = (extra: Record<string, string>) => {
    const u = new URLSearchParams();
    if (p.pr !== undefined) u.set('pr', String(p.pr));
    else if (p.env !== 'all') u.set('env', p.env);
    for (const [k, v] of Object.entries(extra)) u.set(k, v);
    const s = u.toString();
    return s ? `${list}?${s}` : list;
  };
  return (
    <Document ctx={p.ctx} title={`Deployments · ${project.name}`} crumbs={crumbsFor(project)} tabs={<ProjectTabs slug={project.slug} active="deployments" />}>
      <div class="page-head">
        <div>
          <h1>Deployments</h1>
          <p>Each deployment pins the secret versions it started with; only it can read them, only while it runs.</p>
        </div>
        <div class="toolbar">
          <form method="get" action={list} role="search" aria-label="Filter by pull request" class="inline-form">
            <label class="sr-only" for="deployments-pr">
              Pull request
            </label>
            <input
              id="deployments-pr"
              name="pr"
              type="text"
              inputmode="numeric"
              pattern="[0-9]*"
              value={p.pr ?? ''}
              placeholder="PR #"
              maxlength={10}
              class="input-narrow"
            />
            <button class="btn btn-sm" type="submit">
              Filter
            </button>
          </form>
          <EnvFilter href={list} current={p.pr !== undefined ? 'none' : p.env} />
        </div>
      </div>
      {p.pr !== undefined ? (
        <p class="small">
          Preview deployments of pull request #{p.pr}. <a href={list}>Show all</a>
        </p>
      ) : null}
      <div class="card">
        <DeploymentsList slug={project.slug} deployments={p.deployments} now={p.ctx.now}>
          <p>
            Start one from CI with <code>keyloft deploy fly --project {project.slug} --env production</code>.
          </p>
        </DeploymentsList>
        {p.next || p.firstPage === false ? (
          <div class="card-foot pager">
            {p.firstPage === false ? <a href={qs({})}>← Newest</a> : <span class="muted">Newest deployments</span>}
            {p.next ? (
              <a class="btn btn-sm" href={qs({ before: p.next })}>
                Older deployments →
              </a>
            ) : (
              <span class="muted">No older deployments</span>
            )}
          </div>
        ) : null}
      </div>
    </Document>
  );
}
