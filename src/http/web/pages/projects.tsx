import type { ChangeSet, Changes, Deployment, Pinned } from '../../../services/deployments.service.js';
import type { Project } from '../../../services/projects.service.js';
import type { SecretMeta } from '../../../services/secrets.service.js';
import {
  Badge,
  type BadgeTone,
  Csrf,
  Document,
  EmptyState,
  ErrorSummary,
  Field,
  type FormErrors,
  formatDate,
  type PageCtx,
  ProjectTabs,
  RelTime,
  ScopeBadge,
} from '../ui.js';

export const projectHref = (slug: string) => `/projects/${encodeURIComponent(slug)}`;

export function crumbsFor(p: Project) {
  return [{ label: p.name, href: projectHref(p.slug), badge: p.role }];
}

export function ProjectsPage({ ctx, projects }: { ctx: PageCtx; projects: Project[] }) {
  return (
    <Document ctx={ctx} title="Projects">
      <div class="page-head">
        <div>
          <h1>Projects</h1>
          <p>Each project keeps the secrets of one production app and its preview apps.</p>
        </div>
        <a class="btn btn-primary" href="/projects/new">
          New project
        </a>
      </div>
      {projects.length === 0 ? (
        <div class="card">
          <EmptyState title="No projects yet">
            <p>Create a project to store its production, preview and build secrets.</p>
            <a class="btn btn-primary" href="/projects/new">
              Create your first project
            </a>
          </EmptyState>
        </div>
      ) : (
        <ul class="grid" role="list">
          {projects.map((p) => (
            <li>
              <a class="card project-card" href={projectHref(p.slug)}>
                <h2>
                  <span class="project-icon" aria-hidden="true">
                    {p.name.slice(0, 1).toUpperCase()}
                  </span>
                  <span>{p.name}</span>
                </h2>
                <div class="project-meta">
                  <span class="mono">{p.slug}</span>
                  <span>
                    Fly app <span class="mono">{p.flyApp}</span>
                  </span>
                  <span>
                    Your role: <Badge tone="gray">{p.role}</Badge>
                  </span>
                </div>
              </a>
            </li>
          ))}
        </ul>
      )}
    </Document>
  );
}

export interface NewProjectRow {
  name: string;
  scope: string;
}

export interface NewProjectForm {
  name: string;
  slug: string;
  flyApp: string;
  flyPreviewPattern: string;
  rows: NewProjectRow[];
}

export function NewProjectPage(p: { ctx: PageCtx; form: NewProjectForm; errors?: FormErrors; returned: boolean }) {
  const e = p.errors?.fields ?? {};
  const { form } = p;
  return (
    <Document ctx={p.ctx} title="New project" crumbs={[{ label: 'New project', href: '/projects/new' }]}>
      <div class="narrow">
        <div class="page-head">
          <div>
            <h1>New project</h1>
            <p>A project holds the secrets of one Fly.io production app and its per-pull-request preview apps.</p>
          </div>
        </div>
        <ErrorSummary errors={p.errors} title="The project was not created" />
        {p.returned && form.rows.some((r) => r.name) && !p.errors ? (
          <div class="alert alert-info" role="status">
            <span class="alert-icon" aria-hidden="true">
              i
            </span>
            <p>Secret values are never sent back to the browser: enter the values again before you create the project.</p>
          </div>
        ) : null}
        <form method="post" action="/projects/new" novalidate class="stack-lg">
          <Csrf ctx={p.ctx} />
          <div class="card">
            <div class="card-head">
              <div>
                <h2>Project</h2>
              </div>
            </div>
            <div class="card-body">
              <div class="form-grid">
                <Field name="name" id="project-name" label="Name" error={e.name}>
                  {(a) => <input {...a} name="name" type="text" value={form.name} autocomplete="off" required maxLength={100} />}
                </Field>
                <Field name="slug" id="project-slug" label="Slug" error={e.slug} hint="Lowercase letters, digits and dashes; used in URLs and the CLI.">
                  {(a) => <input {...a} name="slug" type="text" class="input-mono" value={form.slug} autocomplete="off" spellcheck={false} required maxLength={63} />}
                </Field>
                <Field name="flyApp" id="project-flyApp" label="Fly app name (production)" error={e.flyApp} hint="Leave empty to use the slug.">
                  {(a) => (
                    <input {...a} name="flyApp" type="text" class="input-mono" value={form.flyApp} placeholder={form.slug || 'same as the slug'} autocomplete="off" spellcheck={false} />
                  )}
                </Field>
                <Field name="flyPreviewPattern" label="Preview app name pattern" error={e.flyPreviewPattern} hint="Placeholders <slug> and <pr>. Default: <slug>-pr-<pr>.">
                  {(a) => (
                    <input
                      {...a}
                      name="flyPreviewPattern"
                      type="text"
                      class="input-mono"
                      value={form.flyPreviewPattern}
                      placeholder="<slug>-pr-<pr>"
                      autocomplete="off"
                      spellcheck={false}
                    />
                  )}
                </Field>
              </div>
            </div>
          </div>

          <div class="card">
            <div class="card-head">
              <div>
                <h2>App secrets</h2>
                <p>Optional. Rows with an empty key are skipped. Values are write-only: nobody can read them back, not even you.</p>
              </div>
            </div>
            <div class="card-body">
              <input type="hidden" name="rows" id="row-count" value={String(form.rows.length)} />
              <div class="secret-rows" id="secret-rows">
                {form.rows.map((r, i) => (
                  <div class="secret-row" role="group" aria-label={`Secret ${i + 1}`}>
                    <div class="row-num" aria-hidden="true">
                      Secret {i + 1}
                    </div>
                    <Field name={`name_${i}`} label="Key" error={e[`name_${i}`]}>
                      {(a) => <input {...a} name={`name_${i}`} type="text" class="input-mono" value={r.name} placeholder="DATABASE_URL" autocomplete="off" spellcheck={false} />}
                    </Field>
                    <Field
                      name={`value_${i}`}
                      label="Value"
                      error={e[`value_${i}`]}
                      hint={p.returned && r.name ? 'Values are never sent back to the browser — enter this one again.' : 'Multi-line values (PEM keys) are kept as typed.'}
                    >
                      {(a) => <textarea {...a} name={`value_${i}`} rows={1} autocomplete="off" spellcheck={false}></textarea>}
                    </Field>
                    <Field name={`scope_${i}`} label="Environment" error={e[`scope_${i}`]}>
                      {(a) => (
                        <select {...a} name={`scope_${i}`}>
                          <option value="production" selected={r.scope !== 'preview'}>
                            production
                          </option>
                          <option value="preview" selected={r.scope === 'preview'}>
                            preview
                          </option>
                        </select>
                      )}
                    </Field>
                  </div>
                ))}
              </div>
            </div>
            <div class="card-foot">
              <button class="btn" type="submit" name="_action" value="add_row" id="add-row" formnovalidate>
                + Add another row
              </button>
              <span class="muted">Build secrets are added later under Project Settings → Build.</span>
            </div>
          </div>
          <div class="form-actions">
            <button class="btn btn-primary" type="submit" name="_action" value="create">
              Create project
            </button>
            <a class="btn btn-ghost" href="/projects">
              Cancel
            </a>
          </div>
        </form>
      </div>
    </Document>
  );
}

export function deploymentTone(status: string): BadgeTone {
  return status === 'succeeded' ? 'green' : status === 'failed' ? 'red' : status === 'running' ? 'blue' : 'gray';
}

function DeploymentsTable({ slug, deployments, now }: { slug: string; deployments: Deployment[]; now: number }) {
  return (
    <div class="table-wrap">
      <table class="responsive">
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Status</th>
            <th scope="col">Environment</th>
            <th scope="col">Ref</th>
            <th scope="col">Started</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr>
              <td class="primary" data-label="Deployment">
                <a class="mono" href={`${projectHref(slug)}/deployments/${encodeURIComponent(d.id)}`}>
                  {d.id}
                </a>
              </td>
              <td data-label="Status">
                <Badge tone={deploymentTone(d.status)} dot>
                  {d.status}
                </Badge>
              </td>
              <td data-label="Environment" class="nowrap">
                <ScopeBadge scope={d.environment} />
                {d.pr !== null ? <span class="muted"> PR #{d.pr}</span> : null}
              </td>
              <td data-label="Ref">
                <span class="mono">{d.ref ? d.ref.slice(0, 12) : '—'}</span>
              </td>
              <td data-label="Started">
                <RelTime iso={d.createdAt} now={now} />
                <span class="who" title={d.startedBy}>
                  by {d.startedBy}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function OverviewPage(p: { ctx: PageCtx; project: Project; secrets: SecretMeta[]; deployments: Deployment[] | undefined }) {
  const { project, secrets } = p;
  const base = projectHref(project.slug);
  const scopes = ['production', 'preview', 'build'] as const;
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
                      {count(s)} secret{count(s) === 1 ? '' : 's'} · {n === 0 ? 'all deployed' : 'apply at the next deployment'}
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
            {p.deployments === undefined ? (
              <EmptyState title="Deployments are not available">
                <p>This keyloft server does not track deployments.</p>
              </EmptyState>
            ) : p.deployments.length === 0 ? (
              <EmptyState title="No deployments yet">
                <p>
                  Your CD pipeline starts one with <code>keyloft deploy fly</code> and a deploy key.
                </p>
              </EmptyState>
            ) : (
              <DeploymentsTable slug={project.slug} deployments={p.deployments} now={p.ctx.now} />
            )}
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

export function DeploymentsPage(p: { ctx: PageCtx; project: Project; deployments: Deployment[] | undefined; env: string }) {
  const { project } = p;
  const base = projectHref(project.slug);
  const filters: Array<[string, string]> = [
    ['all', 'All'],
    ['production', 'Production'],
    ['preview', 'Preview'],
  ];
  return (
    <Document ctx={p.ctx} title={`Deployments · ${project.name}`} crumbs={crumbsFor(project)} tabs={<ProjectTabs slug={project.slug} active="deployments" />}>
      <div class="page-head">
        <div>
          <h1>Deployments</h1>
          <p>Each deployment pins the secret versions it started with; only it can read them, only while it runs.</p>
        </div>
        <nav class="segmented" aria-label="Filter by environment">
          {filters.map(([k, label]) => (
            <a href={k === 'all' ? `${base}/deployments` : `${base}/deployments?env=${k}`} aria-current={p.env === k ? 'true' : undefined}>
              {label}
            </a>
          ))}
        </nav>
      </div>
      <div class="card">
        {p.deployments === undefined ? (
          <EmptyState title="Deployments are not available">
            <p>This keyloft server does not track deployments.</p>
          </EmptyState>
        ) : p.deployments.length === 0 ? (
          <EmptyState title="No deployments yet">
            <p>
              Start one from CI with <code>keyloft deploy fly --project {project.slug} --env production</code>.
            </p>
          </EmptyState>
        ) : (
          <DeploymentsTable slug={project.slug} deployments={p.deployments} now={p.ctx.now} />
        )}
      </div>
    </Document>
  );
}

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
          <h1>
            {d.environment === 'production' ? 'Production deployment' : `Preview deployment${d.pr !== null ? ` · PR #${d.pr}` : ''}`}
          </h1>
          <p class="mono">{d.id}</p>
        </div>
        <Badge tone={deploymentTone(d.status)} dot>
          {d.status}
        </Badge>
      </div>
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
              <dd>{d.startedBy}</dd>
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
