import type { ChangeSet, Changes, Deployment, Pinned } from '../../../../services/deployments.service.js';
import type { Project } from '../../../../services/projects.service.js';
import { Badge, Csrf, Document, formatDate, type PageCtx, ProjectTabs, RelTime, ScopeBadge } from '../../ui.js';
import { deploymentTone, StartedByLabel } from './deployments-table.js';
import { crumbsFor, projectHref } from './links.js';

/** Added / changed (digest before → after) / removed names of one change set; never a value. */
function ChangeList(p: { set: ChangeSet; label: string }) {
  const { added, changed, removed } = p.set;
  if (added.length + changed.length + removed.length === 0) return <p class="muted">No {p.label} changes.</p>;
  return (
    <ul class="pinned-list changes-list">
      {added.map((n) => (
        <li>
          <Badge tone="green">added</Badge> {n}
        </li>
      ))}
      {changed.map((c) => (
        <li>
          <Badge tone="amber">changed</Badge> {c.name}{' '}
          <span class="muted">
            <span class="digest">{c.digestBefore}</span> → <span class="digest">{c.digestAfter}</span>
          </span>
        </li>
      ))}
      {removed.map((n) => (
        <li>
          <Badge tone="red">removed</Badge> {n}
        </li>
      ))}
    </ul>
  );
}

export function DeploymentPage(p: { ctx: PageCtx; project: Project; deployment: Deployment; pinned: Pinned; app: string | undefined; changes?: Changes }) {
  const { project, deployment: d, pinned } = p;
  const base = projectHref(project.slug);
  const pinList = (items: Array<{ name: string; version: number }>, empty: string) =>
    items.length === 0 ? (
      <p class="muted">{empty}</p>
    ) : (
      <ul class="pinned-list">
        {items.map((i) => (
          <li>
            {i.name} <span class="muted">v{i.version}</span>
          </li>
        ))}
      </ul>
    );
  return (
    <Document ctx={p.ctx} title={`Deployment ${d.id}`} crumbs={crumbsFor(project)} tabs={<ProjectTabs slug={project.slug} active="deployments" />}>
      <p class="small">
        <a href={`${base}/deployments`}>← Deployments</a>
      </p>
      <div class="page-head">
        <div>
          <h1>{d.environment === 'production' ? 'Production deployment' : `Preview deployment${d.pr !== null ? ` · PR #${d.pr}` : ''}`}</h1>
          <p class="mono">{d.id}</p>
        </div>
        <div class="row">
          <Badge tone={deploymentTone(d.status)} dot>
            {d.status}
          </Badge>
          {d.status === 'running' && (project.role === 'admin' || project.role === 'member') ? (
            <form method="post" action={`${base}/deployments/${encodeURIComponent(d.id)}/cancel`} class="inline-form">
              <Csrf ctx={p.ctx} />
              <button class="btn btn-sm btn-danger-ghost" type="submit">
                Cancel deployment
              </button>
            </form>
          ) : null}
        </div>
      </div>
      {d.reason ? (
        <section class="alert alert-error" aria-label="Why it failed">
          <p>
            <strong>Failed:</strong> <span class="mono">{d.reason}</span>
          </p>
        </section>
      ) : null}
      <div class="two-col">
        <section class="card" aria-labelledby="pinned-h">
          <div class="card-head">
            <div>
              <h2 id="pinned-h">Pinned secrets</h2>
              <p>Names and versions this deployment received. Values are never shown.</p>
            </div>
          </div>
          <div class="card-body stack">
            <div>
              <h3>Runtime ({d.environment})</h3>
              <div class="row">{pinList(pinned.runtime, 'No runtime secrets.')}</div>
            </div>
            <div>
              <h3>Build</h3>
              <div class="row">{pinList(pinned.build, 'No build secrets.')}</div>
            </div>
          </div>
        </section>
        {p.changes ? (
          <section class="card" aria-labelledby="changes-h">
            <div class="card-head">
              <div>
                <h2 id="changes-h">Changes</h2>
                <p>
                  {p.changes.previous ? (
                    <>
                      Since the previous succeeded {d.environment} deployment{d.environment === 'preview' && d.pr !== null ? ` of PR #${d.pr}` : ''},{' '}
                      <a class="mono" href={`${base}/deployments/${p.changes.previous}`}>
                        {p.changes.previous}
                      </a>
                      . Compared by digest; values are never shown.
                    </>
                  ) : (
                    'The first succeeded deployment of this environment: everything is new.'
                  )}
                </p>
              </div>
            </div>
            <div class="card-body stack">
              <div>
                <h3>Runtime</h3>
                <ChangeList set={p.changes} label="runtime" />
              </div>
              <div>
                <h3>Build</h3>
                <ChangeList set={p.changes.build} label="build" />
              </div>
            </div>
          </section>
        ) : null}
        <section class="card" aria-labelledby="facts-h">
          <div class="card-head">
            <h2 id="facts-h">Details</h2>
          </div>
          <div class="card-body">
            <dl class="facts">
              <dt>Environment</dt>
              <dd>
                <ScopeBadge scope={d.environment} />
              </dd>
              <dt>Pull request</dt>
              <dd>{d.pr !== null ? `#${d.pr}` : '—'}</dd>
              <dt>Ref</dt>
              <dd class="mono">{d.ref ?? '—'}</dd>
              {p.app ? (
                <>
                  <dt>Fly app</dt>
                  <dd class="mono">{p.app}</dd>
                </>
              ) : null}
              <dt>Started by</dt>
              <dd data-started-by={d.startedBy.kind}>
                <StartedByLabel startedBy={d.startedBy} />
                {d.startedBy.kind === 'person' ? <span class="muted"> (started by a person with the release grant, not the pipeline)</span> : null}
              </dd>
              <dt>Started</dt>
              <dd>
                <RelTime iso={d.createdAt} now={p.ctx.now} />
              </dd>
              <dt>{d.completedAt ? 'Completed' : 'Token expires'}</dt>
              <dd title={formatDate(d.completedAt ?? d.expiresAt)}>
                <RelTime iso={d.completedAt ?? d.expiresAt} now={p.ctx.now} />
              </dd>
            </dl>
          </div>
        </section>
      </div>
    </Document>
  );
}
