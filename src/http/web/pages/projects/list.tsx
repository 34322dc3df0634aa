import type { Project } from '../../../../services/projects.service.js';
import { Badge, Csrf, Document, EmptyState, ErrorSummary, Field, type FormErrors, type PageCtx } from '../../ui.js';
import { projectHref } from './links.js';

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
  /** The row had a value when the form came back with errors (never the value itself). */
  hadValue?: boolean;
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
        {p.returned && p.errors && form.rows.some((r) => r.hadValue) ? (
          <div class="alert alert-info" role="status">
            <span class="alert-icon" aria-hidden="true">
              i
            </span>
            <p>
              Secret values are never sent back to the browser. Enter these again:{' '}
              {form.rows
                .map((r, i) => ({ r, i }))
                .filter(({ r }) => r.hadValue)
                .map(({ r, i }) => `${r.name || '(no key)'} (secret ${i + 1})`)
                .join(', ')}
              .
            </p>
          </div>
        ) : null}
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
                  {(a) => (
                    <input {...a} name="slug" type="text" class="input-mono" value={form.slug} autocomplete="off" spellcheck={false} required maxLength={63} />
                  )}
                </Field>
                <Field name="flyApp" id="project-flyApp" label="Fly app name (production)" error={e.flyApp} hint="Leave empty to use the slug.">
                  {(a) => (
                    <input
                      {...a}
                      name="flyApp"
                      type="text"
                      class="input-mono"
                      value={form.flyApp}
                      placeholder={form.slug || 'same as the slug'}
                      autocomplete="off"
                      spellcheck={false}
                    />
                  )}
                </Field>
                <Field
                  name="flyPreviewPattern"
                  label="Preview app name pattern"
                  error={e.flyPreviewPattern}
                  hint="Placeholders <slug> and <pr>. Default: <slug>-pr-<pr>."
                >
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
                      {(a) => (
                        <input
                          {...a}
                          name={`name_${i}`}
                          type="text"
                          class="input-mono"
                          value={r.name}
                          placeholder="DATABASE_URL"
                          autocomplete="off"
                          spellcheck={false}
                        />
                      )}
                    </Field>
                    <Field
                      name={`value_${i}`}
                      label="Value"
                      error={e[`value_${i}`]}
                      hint={
                        p.returned && r.name
                          ? 'Values are never sent back to the browser — enter this one again.'
                          : 'Multi-line values (PEM keys) are kept as typed.'
                      }
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
