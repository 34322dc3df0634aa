import type { Project } from '../../../../services/projects.service.js';
import type { SecretMeta } from '../../../../services/secrets.service.js';
import { EnvFilter } from '../../components.js';
import { Csrf, EmptyState, ErrorSummary, Field, type FormErrors, type PageCtx, ScopeBadge } from '../../ui.js';
import { CopyCard, type CopyForm } from './copy.js';
import { SecretsTable } from './secrets-table.js';
import { canWrite, Head, ReadOnlyNote, type SecretsMode, SettingsShell, settingsHref } from './shell.js';

export type { SecretsMode };

export interface SecretForm {
  name: string;
  scope: string;
  /** Preview only: the pull request of an override. */
  pr?: string;
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
  /** The name filter (?q=), already applied to `secrets`. */
  nameFilter?: string;
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
  return (
    <SettingsShell ctx={p.ctx} project={project} section={mode} title={build ? 'Build' : 'Secrets'}>
      {build ? (
        <Head title="Build secrets">Available only while the source is built — never at runtime. Values are write-only: nobody can read them back here.</Head>
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
              <code>RUN --mount=type=secret,id=NAME</code>. <code>keyloft run --build -- COMMAND</code> sets them as environment variables and writes each one
              as a file in the private directory named by <code>KEYLOFT_SECRETS_DIR</code>; output is masked.
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
                {(a) => (
                  <input
                    {...a}
                    name="name"
                    type="text"
                    class="input-mono"
                    value={form.name}
                    placeholder="DATABASE_URL"
                    autocomplete="off"
                    spellcheck={false}
                    required
                  />
                )}
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
        <ReadOnlyNote role={project.role} need="member" what={build ? 'add or change build secrets' : 'add or change secrets'} />
      )}

      <section class="card" aria-labelledby="list-h">
        <div class="card-head">
          <h2 id="list-h">
            {build ? 'Build secrets' : 'Secrets'} <span class="muted">({rows.filter((s) => !s.deleted).length})</span>
          </h2>
          <div class="toolbar">
            <form method="get" action={base} role="search" aria-label="Filter secrets by name" class="inline-form">
              {build || p.env === 'all' ? null : <input type="hidden" name="env" value={p.env} />}
              <label class="sr-only" for="secret-filter">
                Name contains
              </label>
              <input
                id="secret-filter"
                name="q"
                type="search"
                class="input-mono"
                value={p.nameFilter ?? ''}
                placeholder="Filter by name"
                maxlength={255}
                autocomplete="off"
                spellcheck={false}
              />
              <button class="btn btn-sm" type="submit">
                Filter
              </button>
            </form>
            {build ? null : <EnvFilter href={base} current={p.env} />}
          </div>
        </div>
        {rows.length === 0 && p.nameFilter ? (
          <EmptyState title={`No secret names contain “${p.nameFilter}”`}>
            <p>
              <a href={p.env === 'all' || build ? base : `${base}?env=${p.env}`}>Show all</a>
            </p>
          </EmptyState>
        ) : rows.length === 0 ? (
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
                One <code>NAME=value</code> per line; quoted values may span lines. All or nothing: if one line is wrong, nothing is written. Unchanged values
                are skipped.
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
              {(a) => (
                <textarea
                  {...a}
                  name="dotenv"
                  rows={6}
                  autocomplete="off"
                  spellcheck={false}
                  placeholder={'API_KEY=…\nPRIVATE_KEY="-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----"'}
                ></textarea>
              )}
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
      {write && p.canCopy ? (
        <CopyCard
          ctx={p.ctx}
          project={project}
          form={p.copyForm ?? { from: build ? 'build' : 'production', to: build ? 'production' : 'preview', names: '', overwrite: false }}
          errors={p.copyErrors}
        />
      ) : null}
    </SettingsShell>
  );
}
