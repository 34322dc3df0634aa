import { SCOPES } from '../../../../domain/rules.js';
import type { Deployment } from '../../../../services/deployments.service.js';
import type { Project } from '../../../../services/projects.service.js';
import type { SecretMeta } from '../../../../services/secrets.service.js';
import { Badge, Document, type PageCtx, ProjectTabs, RelTime, ScopeBadge } from '../../ui.js';
import { DeploymentsList } from './deployments-table.js';
import { crumbsFor, projectHref } from './links.js';

export function OverviewPage(p: { ctx: PageCtx; project: Project; secrets: SecretMeta[]; deployments: Deployment[] | undefined }) {
  const { project, secrets } = p;
  const base = projectHref(project.slug);
  const scopes = SCOPES;
  const count = (scope: string) => secrets.filter((s) => s.scope === scope && !s.deleted).length;
  const pending = (scope: string) => secrets.filter((s) => s.scope === scope && s.status !== 'deployed').length;
  return (
    <Document ctx={p.ctx} title={project.name} crumbs={crumbsFor(project)} tabs={<ProjectTabs slug={project.slug} active="overview" />}>
      <div class="page-head">
        <div>
          <h1>{project.name}</h1>
          <p>
            Production app <span class="mono">{project.flyApp}</span> · previews <span class="mono">{project.flyPreviewPattern}</span>
          </p>
        </div>
        <a class="btn" href={`${base}/settings/secrets`}>
          Manage secrets
        </a>
      </div>
      <div class="stack-lg">
        <section aria-labelledby="pending-h">
          <h2 id="pending-h" class="sr-only">
            Pending secrets
          </h2>
          <div class="stats">
            {scopes.map((s) => {
              const n = pending(s);
              return (
                <a class="card stat project-card" href={`${base}/settings/${s === 'build' ? 'build' : `secrets?env=${s}`}`}>
                  <div>
                    <div class="stat-label">
                      <ScopeBadge scope={s} /> pending
                    </div>
                    <div class="stat-note">
                      {n === 0
                        ? `${count(s)} secret${count(s) === 1 ? '' : 's'} · all deployed`
                        : `${n} pending change${n === 1 ? '' : 's'} · of ${count(s)} secret${count(s) === 1 ? '' : 's'}, at the next deployment`}
                    </div>
                  </div>
                  <div class="stat-value">{n}</div>
                </a>
              );
            })}
          </div>
        </section>
        <div class="two-col">
          <section class="card" aria-labelledby="recent-h">
            <div class="card-head">
              <h2 id="recent-h">Recent deployments</h2>
              <a href={`${base}/deployments`}>View all</a>
            </div>
            <DeploymentsList slug={project.slug} deployments={p.deployments} now={p.ctx.now}>
              <p>
                Your CD pipeline starts one with <code>keyloft deploy fly</code> and a deploy key.
              </p>
            </DeploymentsList>
          </section>
          <section class="card" aria-labelledby="about-h">
            <div class="card-head">
              <h2 id="about-h">Project</h2>
            </div>
            <div class="card-body">
              <dl class="facts">
                <dt>Slug</dt>
                <dd class="mono">{project.slug}</dd>
                <dt>Fly app</dt>
                <dd class="mono">{project.flyApp}</dd>
                <dt>Previews</dt>
                <dd class="mono">{project.flyPreviewPattern}</dd>
                <dt>Your role</dt>
                <dd>
                  <Badge tone="gray">{project.role}</Badge>
                </dd>
                <dt>Created</dt>
                <dd>
                  <RelTime iso={project.createdAt} now={p.ctx.now} />
                </dd>
              </dl>
            </div>
          </section>
        </div>
      </div>
    </Document>
  );
}
