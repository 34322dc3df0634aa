import type { Project } from '../../../../services/projects.service.js';
import type { SecretMeta } from '../../../../services/secrets.service.js';
import {
  Badge,
  Csrf,
  EmptyState,
  ErrorSummary,
  Field,
  type FormErrors,
  type PageCtx,
  RelTime,
  ScopeBadge,
} from '../../ui.js';
import { projectHref } from '../projects.js';
import { settingsHref, canWrite, SettingsShell, Head, ReadOnlyNote } from './shell.js';

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
