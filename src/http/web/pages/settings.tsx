import type { ComponentChildren } from 'preact';
import type { AuditEvent } from '../../../services/audit.service.js';
import type { DeployKeyInfo } from '../../../services/deploy-keys.service.js';
import type { Member, Project } from '../../../services/projects.service.js';
import type { SecretMeta, VersionMeta } from '../../../services/secrets.service.js';
import {
  Badge,
  Csrf,
  Document,
  EmptyState,
  ErrorSummary,
  FlashMessage,
  Field,
  type FormErrors,
  type PageCtx,
  ProjectTabs,
  RelTime,
  ScopeBadge,
  SettingsNav,
  type SettingsSection,
} from '../ui.js';
import { crumbsFor, projectHref } from './projects.js';

export const settingsHref = (slug: string, section: string) => `${projectHref(slug)}/settings/${section}`;

export const canWrite = (p: Project) => p.role === 'admin' || p.role === 'member';

export function SettingsShell(p: { ctx: PageCtx; project: Project; section: SettingsSection; title: string; children: ComponentChildren }) {
  return (
    <Document
      ctx={{ ...p.ctx, flash: undefined }}
      title={`${p.title} · ${p.project.name}`}
      crumbs={crumbsFor(p.project)}
      tabs={<ProjectTabs slug={p.project.slug} active="settings" />}
    >
      <div class="settings">
        <SettingsNav slug={p.project.slug} active={p.section} />
        <div class="settings-body stack-lg">
          {p.ctx.flash ? <FlashMessage flash={p.ctx.flash} /> : null}
          {p.children}
        </div>
      </div>
    </Document>
  );
}

export function Head({ title, children, actions }: { title: string; children?: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="page-head">
      <div>
        <h1>{title}</h1>
        {children ? <p>{children}</p> : null}
      </div>
      {actions}
    </div>
  );
}

function ReadOnlyNote({ what }: { what: string }) {
  return (
    <div class="alert alert-info" role="note">
      <span class="alert-icon" aria-hidden="true">
        i
      </span>
      <p>You have read access to this project. Ask a project admin for the member role to {what}.</p>
    </div>
  );
}

// ---------------------------------------------------------------- General

export function GeneralPage(p: {
  ctx: PageCtx;
  project: Project;
  form?: { name: string; flyApp: string; flyPreviewPattern: string };
  errors?: FormErrors;
  deleteErrors?: FormErrors;
  /** Admins only; undefined when the server has no deploy keys. */
  deployKeys?: DeployKeyInfo[] | undefined;
  createdKey?: { name: string; token: string };
  keyName?: string;
  keyErrors?: FormErrors;
}) {
  const { project } = p;
  const isAdmin = project.role === 'admin';
  const f = p.form ?? { name: project.name, flyApp: project.flyApp, flyPreviewPattern: project.flyPreviewPattern };
  const e = p.errors?.fields ?? {};
  const de = p.deleteErrors?.fields ?? {};
  const base = settingsHref(project.slug, 'general');
  return (
    <SettingsShell ctx={p.ctx} project={project} section="general" title="General">
      <Head title="General">Name and the Fly.io apps this project deploys to.</Head>
      <ErrorSummary errors={p.errors ?? p.deleteErrors ?? p.keyErrors} />
      {isAdmin ? (
        <form method="post" action={base} novalidate class="card">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <h2>Project</h2>
          </div>
          <div class="card-body">
            <div class="form-grid">
              <Field name="name" label="Name" error={e.name}>
                {(a) => <input {...a} name="name" type="text" value={f.name} required maxLength={100} />}
              </Field>
              <Field name="slug" label="Slug" hint="The slug cannot be changed.">
                {(a) => <input {...a} name="slug" type="text" class="input-mono" value={project.slug} readOnly />}
              </Field>
              <Field name="flyApp" label="Fly app name (production)" error={e.flyApp}>
                {(a) => <input {...a} name="flyApp" type="text" class="input-mono" value={f.flyApp} spellcheck={false} />}
              </Field>
              <Field name="flyPreviewPattern" label="Preview app name pattern" error={e.flyPreviewPattern} hint="Placeholders <slug> and <pr>.">
                {(a) => <input {...a} name="flyPreviewPattern" type="text" class="input-mono" value={f.flyPreviewPattern} spellcheck={false} />}
              </Field>
            </div>
          </div>
          <div class="card-foot">
            <span class="muted">Changes apply to the next deployment.</span>
            <button class="btn btn-primary" type="submit">
              Save
            </button>
          </div>
        </form>
      ) : (
        <section class="card">
          <div class="card-head">
            <h2>Project</h2>
          </div>
          <div class="card-body">
            <dl class="facts">
              <dt>Name</dt>
              <dd>{project.name}</dd>
              <dt>Slug</dt>
              <dd class="mono">{project.slug}</dd>
              <dt>Fly app</dt>
              <dd class="mono">{project.flyApp}</dd>
              <dt>Previews</dt>
              <dd class="mono">{project.flyPreviewPattern}</dd>
            </dl>
          </div>
        </section>
      )}
      {isAdmin && p.deployKeys ? (
        <DeployKeys ctx={p.ctx} project={project} keys={p.deployKeys} created={p.createdKey} name={p.keyName} errors={p.keyErrors} />
      ) : null}
      {isAdmin ? (
        <form method="post" action={`${projectHref(project.slug)}/settings/delete`} novalidate class="card danger">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <div>
              <h2>Delete project</h2>
              <p>Deletes the project, every secret and version, its deployments and deploy keys. This cannot be undone.</p>
            </div>
          </div>
          <div class="card-body">
            <Field name="confirm" label={`Type the slug "${project.slug}" to confirm`} error={de.confirm}>
              {(a) => <input {...a} name="confirm" type="text" class="input-mono" autocomplete="off" spellcheck={false} />}
            </Field>
          </div>
          <div class="card-foot">
            <span class="muted">Running apps keep the values they already have.</span>
            <button class="btn btn-danger" type="submit">
              Delete project
            </button>
          </div>
        </form>
      ) : null}
    </SettingsShell>
  );
}

function DeployKeys(p: { ctx: PageCtx; project: Project; keys: DeployKeyInfo[]; created: { name: string; token: string } | undefined; name: string | undefined; errors: FormErrors | undefined }) {
  const base = `${projectHref(p.project.slug)}/settings/deploy-keys`;
  const e = p.errors?.fields ?? {};
  return (
    <section class={`card ${p.created ? 'highlight' : ''}`} aria-labelledby="dk-h">
      <div class="card-head">
        <div>
          <h2 id="dk-h">Deploy keys</h2>
          <p>
            For your CD system: a deploy key starts and completes this project's deployments (<code>KEYLOFT_TOKEN</code> for <code>keyloft deploy fly</code>) and can do
            nothing else.
          </p>
        </div>
      </div>
      {p.created ? (
        <div class="card-body stack">
          <div class="field">
            <label for="new-deploy-key">New deploy key “{p.created.name}” — copy it now, it is shown only this once</label>
            <div class="token-box">
              <input id="new-deploy-key" type="text" readOnly value={p.created.token} class="input-mono" autocomplete="off" spellcheck={false} />
              <button class="btn btn-primary" type="button" data-copy-target="new-deploy-key" hidden>
                Copy
              </button>
            </div>
          </div>
        </div>
      ) : null}
      {p.keys.length > 0 ? (
        <div class="table-wrap">
          <table class="responsive">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {p.keys.map((k) => (
                <tr>
                  <td class="primary" data-label="Name">
                    <strong>{k.name}</strong>
                  </td>
                  <td data-label="Created">
                    <RelTime iso={k.createdAt} now={p.ctx.now} />
                    <span class="who" title={k.createdBy}>
                      by {k.createdBy}
                    </span>
                  </td>
                  <td data-label="Last used">{k.lastUsedAt ? <RelTime iso={k.lastUsedAt} now={p.ctx.now} /> : <span class="muted">never</span>}</td>
                  <td class="actions">
                    <a class="btn btn-sm btn-danger-ghost" href={`${base}/${encodeURIComponent(k.id)}/revoke`}>
                      Revoke<span class="sr-only"> deploy key {k.name}</span>
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <form method="post" action={base} novalidate class="card-foot">
        <Csrf ctx={p.ctx} />
        <div class="inline-form">
          <label class="sr-only" for="f-keyName">
            Deploy key name
          </label>
          <input
            id="f-keyName"
            name="name"
            type="text"
            value={p.name ?? ''}
            placeholder="e.g. GitHub Actions"
            maxLength={100}
            autocomplete="off"
            aria-invalid={e.keyName ? 'true' : undefined}
            aria-describedby={e.keyName ? 'f-keyName-error' : undefined}
          />
          <button class="btn btn-primary" type="submit">
            Create deploy key
          </button>
        </div>
        {e.keyName ? (
          <p class="field-error" id="f-keyName-error">
            {e.keyName}
          </p>
        ) : null}
      </form>
    </section>
  );
}

export function ConfirmRevokeKeyPage(p: { ctx: PageCtx; project: Project; deployKey: DeployKeyInfo }) {
  const base = `${projectHref(p.project.slug)}/settings/deploy-keys`;
  return (
    <SettingsShell ctx={p.ctx} project={p.project} section="general" title="Revoke deploy key">
      <form method="post" action={`${base}/${encodeURIComponent(p.deployKey.id)}/revoke`} class="card danger" aria-labelledby="rk-h">
        <Csrf ctx={p.ctx} />
        <div class="card-head">
          <h2 id="rk-h">Revoke the deploy key “{p.deployKey.name}”?</h2>
        </div>
        <div class="card-body">
          <p>CD jobs that use it can no longer start or complete deployments of {p.project.name}. Running deployments keep their own short-lived tokens.</p>
        </div>
        <div class="card-foot">
          <a class="btn" href={settingsHref(p.project.slug, 'general')}>
            Cancel
          </a>
          <button class="btn btn-danger" type="submit">
            Revoke deploy key
          </button>
        </div>
      </form>
    </SettingsShell>
  );
}

// ---------------------------------------------------------------- Secrets and Build

export type SecretsMode = 'secrets' | 'build';

export interface SecretForm {
  name: string;
  scope: string;
  /** Preview only: the pull request of an override. */
  pr?: string;
}

function StatusCell({ s }: { s: SecretMeta }) {
  if (s.status === 'pending_removal') {
    return (
      <>
        <Badge tone="red" dot>
          pending removal
        </Badge>
        <span class="status-note">
          {s.applied && s.applied.of > 0 ? `removed from ${s.applied.count} of ${s.applied.of} preview apps` : 'removed at the next deployment'}
        </span>
      </>
    );
  }
  if (s.scope === 'preview' && s.applied && s.applied.of > 0 && s.applied.count > 0 && s.applied.count < s.applied.of) {
    return (
      <>
        <Badge tone="amber" dot>
          applied to {s.applied.count} of {s.applied.of} preview apps
        </Badge>
        <span class="status-note">the others get it at their next deployment</span>
      </>
    );
  }
  if (s.status === 'deployed') {
    return (
      <Badge tone="green" dot>
        deployed
      </Badge>
    );
  }
  return (
    <>
      <Badge tone="amber" dot>
        pending
      </Badge>
      <span class="status-note">applies at the next deployment</span>
    </>
  );
}

function SecretsTable(p: { project: Project; secrets: SecretMeta[]; mode: SecretsMode; now: number }) {
  const { project } = p;
  const write = canWrite(project);
  return (
    <div class="table-wrap">
      <table class="responsive">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Digest</th>
            <th scope="col">Last change</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {p.secrets.map((s) => {
            const prQ = s.pr !== undefined ? `pr=${s.pr}` : '';
            const history = `${projectHref(project.slug)}/settings/history/${s.scope}/${encodeURIComponent(s.name)}${prQ ? `?${prQ}` : ''}`;
            const del = `${settingsHref(project.slug, p.mode)}/delete?scope=${s.scope}&name=${encodeURIComponent(s.name)}${prQ ? `&${prQ}` : ''}`;
            return (
              <tr>
                <td class="primary" data-label="Key">
                  <span class="key">{s.name}</span>
                  <span class="key-meta">
                    {p.mode === 'secrets' ? <ScopeBadge scope={s.scope} /> : null}
                    {s.pr !== undefined ? <Badge tone="violet">override · PR #{s.pr}</Badge> : null}
                    <span>v{s.version}</span>
                    <span aria-hidden="true">·</span>
                    <a href={history}>
                      History<span class="sr-only"> of {s.name} ({s.scope})</span>
                    </a>
                  </span>
                </td>
                <td data-label="Digest">{s.digest ? <span class="digest" title="keyed digest of the value (HMAC), not the value">{s.digest}</span> : <span class="muted">deleted</span>}</td>
                <td data-label="Last change">
                  <RelTime iso={s.updatedAt} now={p.now} />
                  <span class="who" title={s.updatedBy}>
                    by {s.updatedBy}
                  </span>
                </td>
                <td data-label="Status">
                  <StatusCell s={s} />
                </td>
                <td class="actions">
                  {write && !s.deleted ? (
                    <a class="btn btn-sm btn-danger-ghost" href={del}>
                      Delete<span class="sr-only"> {s.name} ({s.scope}{s.pr !== undefined ? ` PR #${s.pr}` : ''})</span>
                    </a>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function SecretsPage(p: {
  ctx: PageCtx;
  project: Project;
  mode: SecretsMode;
  secrets: SecretMeta[];
  env: 'all' | 'production' | 'preview';
  form?: SecretForm;
  errors?: FormErrors;
  importScope?: string;
  importErrors?: FormErrors;
  /** Copy between scopes (only where the server holds the keys). */
  canCopy?: boolean;
  copyForm?: CopyForm;
  copyErrors?: FormErrors;
}) {
  const { project, mode } = p;
  const write = canWrite(project);
  const build = mode === 'build';
  const base = settingsHref(project.slug, mode);
  const form = p.form ?? { name: '', scope: build ? 'build' : p.env === 'preview' ? 'preview' : 'production' };
  const e = p.errors?.fields ?? {};
  const ie = p.importErrors?.fields ?? {};
  // Overrides sort right under their preview default (same name and scope, then by pull request).
  const rows = [...p.secrets].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : (a.pr ?? 0) - (b.pr ?? 0),
  );
  const importScope = p.importScope ?? form.scope;
  const filters: Array<[string, string]> = [
    ['all', 'All'],
    ['production', 'Production'],
    ['preview', 'Preview'],
  ];
  return (
    <SettingsShell ctx={p.ctx} project={project} section={mode} title={build ? 'Build' : 'Secrets'}>
      {build ? (
        <Head title="Build secrets">
          Available only while the source is built — never at runtime. Values are write-only: nobody can read them back here.
        </Head>
      ) : (
        <Head title="Secrets">
          Runtime environment variables of the production app and the preview apps. Values are write-only: nobody can read them back here.
        </Head>
      )}
      {build ? (
        <section class="alert alert-info" aria-label="How build secrets are used">
          <span class="alert-icon" aria-hidden="true">
            i
          </span>
          <div>
            <p>
              <code>keyloft deploy fly</code> passes each build secret to <code>flyctl deploy --build-secret NAME=…</code>, so your Dockerfile reads it with{' '}
              <code>RUN --mount=type=secret,id=NAME</code>. <code>keyloft run --build -- COMMAND</code> sets them as environment variables and writes each one as a
              file in the private directory named by <code>KEYLOFT_SECRETS_DIR</code>; output is masked.
            </p>
          </div>
        </section>
      ) : null}
      <ErrorSummary errors={p.errors} title={form.name ? `${form.name} was not saved` : 'The secret was not saved'} />
      <ErrorSummary errors={p.importErrors} title="Nothing was imported" />
      <ErrorSummary errors={p.copyErrors} title="Nothing was copied" />
      {write ? (
        <form method="post" action={base} novalidate class="card" aria-labelledby="add-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <div>
              <h2 id="add-h">Add or update a {build ? 'build secret' : 'secret'}</h2>
              <p>Saving an existing key replaces its value with a new version. Changes apply at the next deployment.</p>
            </div>
          </div>
          <div class="card-body">
            <div class={build ? 'secret-form' : 'secret-form with-pr'}>
              <Field name="name" label="Key" error={e.name}>
                {(a) => <input {...a} name="name" type="text" class="input-mono" value={form.name} placeholder="DATABASE_URL" autocomplete="off" spellcheck={false} required />}
              </Field>
              <Field
                name="value"
                label="Value"
                class="field-value"
                error={e.value}
                hint={p.errors ? 'Values are never sent back to the browser — enter it again.' : 'Multi-line values (PEM keys) are kept as typed.'}
              >
                {(a) => <textarea {...a} name="value" rows={1} autocomplete="off" spellcheck={false} required></textarea>}
              </Field>
              {build ? (
                <div class="field">
                  <span class="label">Scope</span>
                  <input type="hidden" name="scope" value="build" />
                  <span>
                    <ScopeBadge scope="build" />
                  </span>
                </div>
              ) : (
                <Field name="scope" label="Environment" error={e.scope}>
                  {(a) => (
                    <select {...a} name="scope">
                      <option value="production" selected={form.scope !== 'preview'}>
                        production
                      </option>
                      <option value="preview" selected={form.scope === 'preview'}>
                        preview
                      </option>
                    </select>
                  )}
                </Field>
              )}
              {build ? null : (
                <Field name="pr" label="Pull request (preview override)" error={e.pr} hint="Optional: a value for one preview app only.">
                  {(a) => <input {...a} name="pr" type="text" inputmode="numeric" value={form.pr ?? ''} placeholder="e.g. 42" autocomplete="off" />}
                </Field>
              )}
              <div class="submit-cell">
                <button class="btn btn-primary" type="submit">
                  Save
                </button>
              </div>
            </div>
          </div>
        </form>
      ) : (
        <ReadOnlyNote what="change secrets" />
      )}

      <section class="card" aria-labelledby="list-h">
        <div class="card-head">
          <h2 id="list-h">
            {build ? 'Build secrets' : 'Secrets'} <span class="muted">({rows.filter((s) => !s.deleted).length})</span>
          </h2>
          {build ? null : (
            <nav class="segmented" aria-label="Filter by environment">
              {filters.map(([k, label]) => (
                <a href={k === 'all' ? base : `${base}?env=${k}`} aria-current={p.env === k ? 'true' : undefined}>
                  {label}
                </a>
              ))}
            </nav>
          )}
        </div>
        {rows.length === 0 ? (
          <EmptyState title={build ? 'No build secrets' : p.env === 'all' ? 'No secrets yet' : `No ${p.env} secrets`}>
            <p>{write ? 'Add one with the form above, or paste a .env file below.' : 'Members of the project can add them.'}</p>
          </EmptyState>
        ) : (
          <SecretsTable project={project} secrets={rows} mode={mode} now={p.ctx.now} />
        )}
      </section>

      {write ? (
        <form method="post" action={`${base}/import`} novalidate class="card" aria-labelledby="import-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <div>
              <h2 id="import-h">Paste a .env file</h2>
              <p>
                One <code>NAME=value</code> per line; quoted values may span lines. All or nothing: if one line is wrong, nothing is written. Unchanged values are
                skipped.
              </p>
            </div>
          </div>
          <div class="card-body">
            {build ? (
              <input type="hidden" name="scope" value="build" />
            ) : (
              <Field name="importScope" label="Environment" error={ie.importScope}>
                {(a) => (
                  <select {...a} name="scope" class="select-narrow">
                    <option value="production" selected={importScope !== 'preview'}>
                      production
                    </option>
                    <option value="preview" selected={importScope === 'preview'}>
                      preview
                    </option>
                  </select>
                )}
              </Field>
            )}
            <Field
              name="dotenv"
              label=".env contents"
              error={ie.dotenv}
              hint={p.importErrors ? 'The pasted text contains values, so it is never sent back to the browser — paste it again.' : undefined}
            >
              {(a) => <textarea {...a} name="dotenv" rows={6} autocomplete="off" spellcheck={false} placeholder={'API_KEY=…\nPRIVATE_KEY="-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----"'}></textarea>}
            </Field>
            <label class="check">
              <input type="checkbox" name="replace" value="1" /> Replace: delete the keys of this environment that the pasted text does not name
            </label>
          </div>
          <div class="card-foot">
            <span class="muted">You review the changes (by digest) before anything is written. Values are encrypted on arrival and never shown again.</span>
            <button class="btn btn-primary" type="submit">
              Review import
            </button>
          </div>
        </form>
      ) : null}
      {write && p.canCopy ? <CopyCard ctx={p.ctx} project={project} form={p.copyForm ?? { from: build ? 'build' : 'production', to: build ? 'production' : 'preview', names: '', overwrite: false }} errors={p.copyErrors} /> : null}
    </SettingsShell>
  );
}

export interface CopyForm {
  from: string;
  to: string;
  names: string;
  overwrite: boolean;
}

function ScopeSelect(p: { name: string; selected: string; a: Record<string, unknown> }) {
  return (
    <select {...p.a} name={p.name} class="select-narrow">
      {['production', 'preview', 'build'].map((s) => (
        <option value={s} selected={p.selected === s}>
          {s}
        </option>
      ))}
    </select>
  );
}

/** Copy secrets between scopes: reviewed first (a dry run), then confirmed. Values stay on the server. */
function CopyCard(p: { ctx: PageCtx; project: Project; form: CopyForm; errors: FormErrors | undefined }) {
  const e = p.errors?.fields ?? {};
  return (
    <form method="post" action={settingsHref(p.project.slug, 'copy')} novalidate class="card" aria-labelledby="copy-h">
      <Csrf ctx={p.ctx} />
      <div class="card-head">
        <div>
          <h2 id="copy-h">Copy between environments</h2>
          <p>Copies values from one environment to another on the server — nobody sees them. You review the result before anything is written; all or nothing.</p>
        </div>
      </div>
      <div class="card-body">
        <div class="secret-form">
          <Field name="copyFrom" label="From" error={e.from}>
            {(a) => <ScopeSelect name="from" selected={p.form.from} a={a} />}
          </Field>
          <Field name="copyTo" label="To" error={e.to}>
            {(a) => <ScopeSelect name="to" selected={p.form.to} a={a} />}
          </Field>
          <Field name="copyNames" label="Keys (optional)" error={e.names} hint="Space- or comma-separated; leave empty to copy all.">
            {(a) => <input {...a} name="names" type="text" class="input-mono" value={p.form.names} autocomplete="off" spellcheck={false} />}
          </Field>
        </div>
        <label class="check">
          <input type="checkbox" name="overwrite" value="1" checked={p.form.overwrite} /> Overwrite keys that already exist in the target
        </label>
      </div>
      <div class="card-foot">
        <span class="muted">Nothing is written until you confirm.</span>
        <button class="btn" type="submit">
          Review copy
        </button>
      </div>
    </form>
  );
}

export function ConfirmDeletePage(p: { ctx: PageCtx; project: Project; mode: SecretsMode; secret: SecretMeta }) {
  const { project, secret } = p;
  const base = settingsHref(project.slug, p.mode);
  return (
    <SettingsShell ctx={p.ctx} project={project} section={p.mode} title={`Delete ${secret.name}`}>
      <form method="post" action={`${base}/delete`} class="card danger" aria-labelledby="del-h">
        <Csrf ctx={p.ctx} />
        <input type="hidden" name="scope" value={secret.scope} />
        <input type="hidden" name="name" value={secret.name} />
        {secret.pr !== undefined ? <input type="hidden" name="pr" value={String(secret.pr)} /> : null}
        <div class="card-head">
          <div>
            <h2 id="del-h">
              Delete <span class="mono">{secret.name}</span> ({secret.scope})?
            </h2>
          </div>
        </div>
        <div class="card-body">
          <p>
            The secret is removed from the {secret.scope === 'build' ? 'builds' : `${secret.scope} app${secret.scope === 'preview' ? 's' : ''}`} at the next deployment;
            running apps keep it until then. Its version history stays in the audit trail.
          </p>
          <dl class="facts">
            <dt>Digest</dt>
            <dd>
              <span class="digest">{secret.digest ?? '—'}</span>
            </dd>
            <dt>Version</dt>
            <dd>v{secret.version}</dd>
          </dl>
        </div>
        <div class="card-foot">
          <a class="btn" href={base}>
            Cancel
          </a>
          <button class="btn btn-danger" type="submit">
            Delete {secret.name}
          </button>
        </div>
      </form>
    </SettingsShell>
  );
}

export function HistoryPage(p: { ctx: PageCtx; project: Project; scope: string; name: string; versions: VersionMeta[]; canRestore?: boolean; errors?: FormErrors }) {
  const { project } = p;
  const mode: SecretsMode = p.scope === 'build' ? 'build' : 'secrets';
  const restore = p.canRestore === true && canWrite(project);
  const restoreAction = `${projectHref(project.slug)}/settings/history/${p.scope}/${encodeURIComponent(p.name)}/restore`;
  return (
    <SettingsShell ctx={p.ctx} project={project} section={mode} title={`History of ${p.name}`}>
      <div>
        <p class="small">
          <a href={settingsHref(project.slug, mode)}>← {mode === 'build' ? 'Build secrets' : 'Secrets'}</a>
        </p>
        <Head title={`Version history`}>
          <span class="key">{p.name}</span> <ScopeBadge scope={p.scope} /> — metadata only; values are never shown.
          {restore ? ' Restoring a version makes it current again as a new version; the value is re-sealed on the server and never shown.' : null}
        </Head>
      </div>
      <ErrorSummary errors={p.errors} title="Nothing was restored" />
      <section class="card">
        <div class="table-wrap">
          <table class="responsive">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Change</th>
                <th scope="col">Digest</th>
                <th scope="col">Size</th>
                <th scope="col">When</th>
                {restore ? (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {p.versions.map((v, i) => (
                <tr>
                  <td class="primary" data-label="Version">
                    <strong>v{v.version}</strong> {i === 0 ? <Badge tone="blue">current</Badge> : null}
                  </td>
                  <td data-label="Change">
                    {v.kind === 'delete' ? <Badge tone="red">deleted</Badge> : v.kind === 'restore' ? <Badge tone="violet">restored</Badge> : <Badge tone="gray">set</Badge>}
                  </td>
                  <td data-label="Digest">{v.digest ? <span class="digest">{v.digest}</span> : <span class="muted">—</span>}</td>
                  <td data-label="Size">{v.size === null ? '—' : `${v.size} B`}</td>
                  <td data-label="When">
                    <RelTime iso={v.createdAt} now={p.ctx.now} />
                    <span class="who" title={v.createdBy}>
                      by {v.createdBy}
                    </span>
                  </td>
                  {restore ? (
                    <td class="actions">
                      {i > 0 && v.kind !== 'delete' && v.digest !== null ? (
                        <form method="post" action={restoreAction} class="inline-form">
                          <Csrf ctx={p.ctx} />
                          <input type="hidden" name="version" value={String(v.version)} />
                          <button class="btn btn-sm" type="submit">
                            Restore v{v.version}
                            <span class="sr-only"> of {p.name}</span>
                          </button>
                        </form>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </SettingsShell>
  );
}

// ---------------------------------------------------------------- Members

const ROLE_HELP: Record<string, string> = {
  admin: 'members, settings, delete project',
  member: 'write and delete secrets, start deployments',
  viewer: 'metadata only',
};

function RoleOptions({ selected }: { selected: string }) {
  return (
    <>
      {(['viewer', 'member', 'admin'] as const).map((r) => (
        <option value={r} selected={selected === r}>
          {r}
        </option>
      ))}
    </>
  );
}

export function MembersPage(p: { ctx: PageCtx; project: Project; members: Member[]; form?: { email: string; role: string }; errors?: FormErrors }) {
  const { project } = p;
  const isAdmin = project.role === 'admin';
  const base = settingsHref(project.slug, 'members');
  const e = p.errors?.fields ?? {};
  const form = p.form ?? { email: '', role: 'member' };
  return (
    <SettingsShell ctx={p.ctx} project={project} section="members" title="Members">
      <Head title="Members">
        Admins manage members and settings; members write secrets and start deployments; viewers see metadata only.
      </Head>
      <ErrorSummary errors={p.errors} />
      {isAdmin ? (
        <form method="post" action={base} novalidate class="card" aria-labelledby="add-member-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <div>
              <h2 id="add-member-h">Add a member</h2>
              <p>The person needs a keyloft account; an instance admin creates one with <code>keyloft admin create-user</code>.</p>
            </div>
          </div>
          <div class="card-body">
            <div class="secret-form">
              <Field name="email" label="Email" error={e.email}>
                {(a) => <input {...a} name="email" type="email" value={form.email} autocomplete="off" required />}
              </Field>
              <Field name="role" label="Role" error={e.role}>
                {(a) => (
                  <select {...a} name="role">
                    <RoleOptions selected={form.role} />
                  </select>
                )}
              </Field>
              <div class="submit-cell">
                <button class="btn btn-primary" type="submit">
                  Add member
                </button>
              </div>
            </div>
          </div>
        </form>
      ) : (
        <ReadOnlyNote what="manage members (admins only)" />
      )}
      <section class="card" aria-labelledby="members-h">
        <div class="card-head">
          <h2 id="members-h">
            People <span class="muted">({p.members.length})</span>
          </h2>
        </div>
        <div class="table-wrap">
          <table class="responsive">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Added</th>
                {isAdmin ? (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {p.members.map((m, i) => (
                <tr>
                  <td class="primary" data-label="Email">
                    {m.email} {m.email === p.ctx.email ? <span class="badge badge-outline">you</span> : null}
                  </td>
                  <td data-label="Role">
                    {isAdmin ? (
                      <form method="post" action={`${base}/role`} class="inline-form">
                        <Csrf ctx={p.ctx} />
                        <input type="hidden" name="email" value={m.email} />
                        <label class="sr-only" for={`role-${i}`}>
                          Role of {m.email}
                        </label>
                        <select id={`role-${i}`} name="role">
                          <RoleOptions selected={m.role} />
                        </select>
                        <button class="btn btn-sm" type="submit">
                          Change
                        </button>
                      </form>
                    ) : (
                      <span title={ROLE_HELP[m.role]}>
                        <Badge tone={m.role === 'admin' ? 'violet' : m.role === 'member' ? 'blue' : 'gray'}>{m.role}</Badge>
                      </span>
                    )}
                  </td>
                  <td data-label="Added">
                    <RelTime iso={m.addedAt} now={p.ctx.now} />
                  </td>
                  {isAdmin ? (
                    <td class="actions">
                      <a class="btn btn-sm btn-danger-ghost" href={`${base}/remove?email=${encodeURIComponent(m.email)}`} aria-label={`Remove ${m.email}`}>
                        Remove
                      </a>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </SettingsShell>
  );
}

export function ConfirmRemoveMemberPage(p: { ctx: PageCtx; project: Project; member: Member }) {
  const base = settingsHref(p.project.slug, 'members');
  return (
    <SettingsShell ctx={p.ctx} project={p.project} section="members" title="Remove member">
      <form method="post" action={`${base}/remove`} class="card danger" aria-labelledby="rm-h">
        <Csrf ctx={p.ctx} />
        <input type="hidden" name="email" value={p.member.email} />
        <div class="card-head">
          <h2 id="rm-h">Remove {p.member.email}?</h2>
        </div>
        <div class="card-body">
          <p>
            They lose their <strong>{p.member.role}</strong> access to {p.project.name} at once. Their API tokens stay valid for other projects.
          </p>
        </div>
        <div class="card-foot">
          <a class="btn" href={base}>
            Cancel
          </a>
          <button class="btn btn-danger" type="submit">
            Remove member
          </button>
        </div>
      </form>
    </SettingsShell>
  );
}

// ---------------------------------------------------------------- Audit log

function describe(e: AuditEvent): string {
  const d = e.detail ?? {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'object') continue;
    parts.push(`${k}: ${String(v)}`);
  }
  return parts.join(' · ');
}

export function AuditPage(p: {
  ctx: PageCtx;
  project: Project;
  events: AuditEvent[];
  actions: string[];
  filter: { action: string; name: string };
  nextCursor: string | null;
  isFirstPage: boolean;
}) {
  const { project } = p;
  const base = settingsHref(project.slug, 'audit');
  const qs = (extra: Record<string, string>) => {
    const u = new URLSearchParams();
    if (p.filter.action) u.set('action', p.filter.action);
    if (p.filter.name) u.set('name', p.filter.name);
    for (const [k, v] of Object.entries(extra)) u.set(k, v);
    const s = u.toString();
    return s ? `${base}?${s}` : base;
  };
  return (
    <SettingsShell ctx={p.ctx} project={project} section="audit" title="Audit log">
      <Head title="Audit log">Who did what and when, newest first. Events name secrets and versions, never values.</Head>
      <form method="get" action={base} class="card" role="search" aria-label="Filter the audit log">
        <div class="card-body">
          <div class="secret-form">
            <Field name="action" label="Action">
              {(a) => (
                <select {...a} name="action">
                  <option value="" selected={!p.filter.action}>
                    All actions
                  </option>
                  {p.actions.map((x) => (
                    <option value={x} selected={p.filter.action === x}>
                      {x}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field name="q-name" label="Secret name">
              {(a) => <input {...a} name="name" type="search" class="input-mono" value={p.filter.name} placeholder="DATABASE_URL" spellcheck={false} />}
            </Field>
            <div class="submit-cell row">
              <button class="btn btn-primary" type="submit">
                Filter
              </button>
              {p.filter.action || p.filter.name ? (
                <a class="btn btn-ghost" href={base}>
                  Clear
                </a>
              ) : null}
            </div>
          </div>
        </div>
      </form>
      <section class="card" aria-label="Events">
        {p.events.length === 0 ? (
          <EmptyState title="No events">
            <p>{p.filter.action || p.filter.name ? 'Nothing matches these filters.' : 'Nothing has happened in this project yet.'}</p>
          </EmptyState>
        ) : (
          <div class="table-wrap">
            <table class="responsive">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {p.events.map((e) => (
                  <tr>
                    <td class="primary" data-label="When">
                      <RelTime iso={e.at} now={p.ctx.now} />
                    </td>
                    <td data-label="Action">
                      <Badge tone={e.action.includes('deleted') || e.action.includes('removed') || e.action.includes('failed') ? 'red' : e.action.startsWith('secret.') ? 'blue' : 'gray'}>
                        {e.action}
                      </Badge>
                    </td>
                    <td data-label="Target">
                      {e.name ? (
                        <span>
                          <span class="key">{e.name}</span>
                          {e.scope ? <span class="muted"> ({e.scope})</span> : null}
                          {e.version !== null ? <span class="muted"> v{e.version}</span> : null}
                        </span>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                    <td data-label="Actor">
                      {e.actor}
                      {e.ip ? <span class="who">{e.ip}</span> : null}
                    </td>
                    <td data-label="Details" class="detail">
                      {describe(e) || '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div class="card-foot pager">
          {p.isFirstPage ? <span class="muted">Newest events</span> : <a href={qs({})}>← Newest</a>}
          {p.nextCursor ? (
            <a class="btn btn-sm" href={qs({ before: p.nextCursor })}>
              Older events →
            </a>
          ) : (
            <span class="muted">No older events</span>
          )}
        </div>
      </section>
    </SettingsShell>
  );
}
