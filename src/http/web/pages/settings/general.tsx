import type { DeployKeyInfo } from '../../../../services/deploy-keys.service.js';
import type { Project } from '../../../../services/projects.service.js';
import { CredentialsTable, TokenBox } from '../../components.js';
import { Csrf, ErrorSummary, Field, type FormErrors, type PageCtx } from '../../ui.js';
import { projectHref } from '../projects.js';
import { settingsHref, SettingsShell, Head } from './shell.js';

export function GeneralPage(p: {
  ctx: PageCtx;
  project: Project;
  form?: { name: string; flyApp: string; flyPreviewPattern: string; previewBuildSecrets?: boolean };
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
  const f = p.form ?? {
    name: project.name,
    flyApp: project.flyApp,
    flyPreviewPattern: project.flyPreviewPattern,
    previewBuildSecrets: project.previewBuildSecrets,
  };
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
              <div class="field">
                <input type="hidden" name="previewBuildSecretsShown" value="1" />
                <label class="check">
                  <input type="checkbox" name="previewBuildSecrets" value="yes" checked={f.previewBuildSecrets !== false} aria-describedby="pbs-hint" /> Build
                  secrets for preview deployments
                </label>
                <p class="hint" id="pbs-hint">
                  Preview deployments run your pull requests' workflows, including those of fork pull requests when your CI gives them a deploy key: with this
                  on, they get the build secrets. Turn it off and preview deployments get none.
                </p>
              </div>
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
              <dt>Build secrets for previews</dt>
              <dd>{project.previewBuildSecrets ? 'yes' : 'no'}</dd>
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

function DeployKeys(p: {
  ctx: PageCtx;
  project: Project;
  keys: DeployKeyInfo[];
  created: { name: string; token: string } | undefined;
  name: string | undefined;
  errors: FormErrors | undefined;
}) {
  const base = `${projectHref(p.project.slug)}/settings/deploy-keys`;
  const e = p.errors?.fields ?? {};
  return (
    <section class={`card ${p.created ? 'highlight' : ''}`} aria-labelledby="dk-h">
      <div class="card-head">
        <div>
          <h2 id="dk-h">Deploy keys</h2>
          <p>
            For your CD system: a deploy key starts and completes this project's deployments (<code>KEYLOFT_TOKEN</code> for <code>keyloft deploy fly</code>)
            and can do nothing else.
          </p>
        </div>
      </div>
      {p.created ? (
        <div class="card-body stack">
          <div class="field">
            <label for="new-deploy-key">New deploy key “{p.created.name}” — copy it now, it is shown only this once</label>
            <TokenBox id="new-deploy-key" value={p.created.token} />
          </div>
        </div>
      ) : null}
      {p.keys.length > 0 ? (
        <CredentialsTable
          rows={p.keys}
          now={p.ctx.now}
          createdBy={(k) => k.createdBy}
          action={(k) => (
            <a class="btn btn-sm btn-danger-ghost" href={`${base}/${encodeURIComponent(k.id)}/revoke`}>
              Revoke<span class="sr-only"> deploy key {k.name}</span>
            </a>
          )}
        />
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
