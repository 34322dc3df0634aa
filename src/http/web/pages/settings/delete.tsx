import type { Project } from '../../../../services/projects.service.js';
import type { SecretMeta } from '../../../../services/secrets.service.js';
import { Csrf, type PageCtx } from '../../ui.js';
import type { SecretsMode } from './secrets.js';
import { SettingsShell, settingsHref } from './shell.js';

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
            The secret is removed from the {secret.scope === 'build' ? 'builds' : `${secret.scope} app${secret.scope === 'preview' ? 's' : ''}`} at the next
            deployment; running apps keep it until then. Its version history stays in the audit trail.
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
