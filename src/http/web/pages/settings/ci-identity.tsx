import type { Project } from '../../../../services/projects.service.js';
import type { TrustPolicy } from '../../../../services/trust-policies.service.js';
import { DataTable } from '../../components.js';
import { Csrf, ErrorSummary, Field, type FormErrors, type PageCtx, RelTime } from '../../ui.js';
import { Head, settingsHref, SettingsShell } from './shell.js';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

export interface TrustPolicyForm {
  name: string;
  issuer: string;
  audience: string;
  subject: string;
  environment: string;
  /** One CLAIM=PATTERN per line. */
  claims: string;
}

/** Ready-made policies for the form (`?preset=`): GitHub Actions production and previews, GitLab production. */
export function presetForm(preset: string | undefined, audience: string): TrustPolicyForm | undefined {
  switch (preset) {
    case 'github-main':
      return { name: 'github-main', issuer: GITHUB_ISSUER, audience, subject: 'repo:OWNER/REPO:ref:refs/heads/main', environment: 'production', claims: '' };
    case 'github-pulls':
      return { name: 'github-pulls', issuer: GITHUB_ISSUER, audience, subject: 'repo:OWNER/REPO:pull_request', environment: 'preview', claims: '' };
    case 'gitlab-main':
      return {
        name: 'gitlab-main',
        issuer: 'https://gitlab.com',
        audience,
        subject: 'project_path:GROUP/PROJECT:ref_type:branch:ref:main',
        environment: 'production',
        claims: 'ref_protected=true',
      };
    default:
      return undefined;
  }
}

/** Parses the claims text area: one CLAIM=PATTERN per line; blank lines ignored. */
export function parseClaimsText(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const eq = line.indexOf('=');
    if (eq <= 0) return `line ${i + 1} of claims must be CLAIM=PATTERN (e.g. repository_owner=acme)`;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export function CiIdentityPage(p: {
  ctx: PageCtx;
  project: Project;
  /** Admins only. */
  policies?: TrustPolicy[] | undefined;
  form?: TrustPolicyForm | undefined;
  errors?: FormErrors | undefined;
  /** The audience `keyloft deploy --oidc` asks GitHub for: this server's URL. */
  audience: string;
}) {
  const { project } = p;
  const isAdmin = project.role === 'admin';
  const base = settingsHref(project.slug, 'ci-identity');
  const f = p.form ?? { name: '', issuer: GITHUB_ISSUER, audience: p.audience, subject: '', environment: 'production', claims: '' };
  const e = p.errors?.fields ?? {};
  return (
    <SettingsShell ctx={p.ctx} project={project} section="ci-identity" title="CI identity">
      <Head title="CI identity">Let a CI system's OpenID Connect ID token start deployments — no deploy key stored in the CI.</Head>
      {!isAdmin ? (
        <div class="alert alert-info" role="note">
          <span class="alert-icon" aria-hidden="true">
            i
          </span>
          <p>Only project admins see and manage trust policies.</p>
        </div>
      ) : (
        <>
          <ErrorSummary errors={p.errors} />
          <section class="card" aria-labelledby="tp-h">
            <div class="card-head">
              <div>
                <h2 id="tp-h">Trust policies</h2>
                <p>
                  A CI job whose ID token comes from the issuer, names the audience, and whose subject (and every listed claim) matches may start a deployment
                  of the policy's environment with <code>keyloft deploy fly --oidc</code>. A pull-request token only ever deploys its own pull request's
                  preview.
                </p>
              </div>
            </div>
            {p.policies && p.policies.length > 0 ? (
              <DataTable columns={['Name', 'Environment', 'Subject and claims', 'Issuer and audience', 'Last used']} actions>
                {p.policies.map((t) => (
                  <tr>
                    <td class="primary" data-label="Name">
                      <strong>{t.name}</strong>
                    </td>
                    <td data-label="Environment">{t.environment}</td>
                    <td data-label="Subject and claims">
                      <code>{t.subject}</code>
                      {Object.entries(t.claims).map(([k, v]) => (
                        <div class="small">
                          <code>
                            {k}={v}
                          </code>
                        </div>
                      ))}
                    </td>
                    <td data-label="Issuer and audience">
                      <span class="mono small">{t.issuer === GITHUB_ISSUER ? 'GitHub Actions' : t.issuer}</span>
                      <div class="muted small">aud {t.audience}</div>
                    </td>
                    <td data-label="Last used">{t.lastUsedAt ? <RelTime iso={t.lastUsedAt} now={p.ctx.now} /> : <span class="muted">never</span>}</td>
                    <td class="actions">
                      <a class="btn btn-sm btn-danger-ghost" href={`${base}/${encodeURIComponent(t.id)}/delete`}>
                        Delete<span class="sr-only"> trust policy {t.name}</span>
                      </a>
                    </td>
                  </tr>
                ))}
              </DataTable>
            ) : (
              <div class="card-body">
                <p class="muted">No trust policies yet: CI jobs need a deploy key.</p>
              </div>
            )}
          </section>

          <form method="post" action={base} novalidate class="card" aria-labelledby="tp-add-h">
            <Csrf ctx={p.ctx} />
            <div class="card-head">
              <div>
                <h2 id="tp-add-h">Add a trust policy</h2>
                <p>
                  Start from an example: <a href={`${base}?preset=github-main`}>GitHub Actions, push to main → production</a> ·{' '}
                  <a href={`${base}?preset=github-pulls`}>GitHub Actions, pull requests → preview</a> ·{' '}
                  <a href={`${base}?preset=gitlab-main`}>GitLab, main → production</a>
                </p>
              </div>
            </div>
            <div class="card-body">
              <div class="form-grid">
                <Field name="name" label="Name" error={e.name} hint="Shown as who started a deployment.">
                  {(a) => <input {...a} name="name" type="text" value={f.name} maxLength={100} autocomplete="off" />}
                </Field>
                <Field name="environment" label="Environment" error={e.environment}>
                  {(a) => (
                    <select {...a} name="environment">
                      <option value="production" selected={f.environment === 'production'}>
                        production
                      </option>
                      <option value="preview" selected={f.environment === 'preview'}>
                        preview
                      </option>
                    </select>
                  )}
                </Field>
                <Field name="issuer" label="Issuer" error={e.issuer} hint="https:// URL, exactly as the tokens' iss claim.">
                  {(a) => <input {...a} name="issuer" type="url" class="input-mono" value={f.issuer} maxLength={500} spellcheck={false} />}
                </Field>
                <Field
                  name="audience"
                  label="Audience"
                  error={e.audience}
                  hint="The tokens' aud claim; keyloft deploy --oidc asks GitHub for this server's URL."
                >
                  {(a) => <input {...a} name="audience" type="text" class="input-mono" value={f.audience} maxLength={500} spellcheck={false} />}
                </Field>
                <Field name="subject" label="Subject" error={e.subject} hint="Exact, or * for any run of characters; e.g. repo:OWNER/REPO:ref:refs/heads/main.">
                  {(a) => <input {...a} name="subject" type="text" class="input-mono" value={f.subject} maxLength={500} spellcheck={false} />}
                </Field>
                <Field name="claims" label="Other claims (optional)" error={e.claims} hint="One CLAIM=PATTERN per line; every one must match.">
                  {(a) => (
                    <textarea {...a} name="claims" rows={2} class="input-mono" spellcheck={false} placeholder="repository_owner=acme">
                      {f.claims}
                    </textarea>
                  )}
                </Field>
              </div>
            </div>
            <div class="card-foot">
              <span class="muted">A leading * in the subject is refused: it would trust every repository of the issuer.</span>
              <button class="btn btn-primary" type="submit">
                Add trust policy
              </button>
            </div>
          </form>

          <section class="card" aria-labelledby="tp-ex-h">
            <div class="card-head">
              <h2 id="tp-ex-h">In the CI</h2>
            </div>
            <div class="card-body stack">
              <p>
                GitHub Actions: give the job <code>permissions: id-token: write</code>, set <code>KEYLOFT_URL</code>, and run{' '}
                <code>keyloft deploy fly --oidc --project {project.slug} --env production</code> (or <code>--env preview</code> on pull requests: the pull
                request number comes from the token).
              </p>
              <p>
                GitLab CI: declare <code>id_tokens: KEYLOFT_OIDC_TOKEN: aud: {p.audience}</code> in the job and run the same command; any other CI: put its ID
                token in <code>KEYLOFT_OIDC_TOKEN</code> or a file named by <code>KEYLOFT_OIDC_TOKEN_FILE</code>.
              </p>
            </div>
          </section>
        </>
      )}
    </SettingsShell>
  );
}

export function ConfirmDeletePolicyPage(p: { ctx: PageCtx; project: Project; policy: TrustPolicy }) {
  const base = settingsHref(p.project.slug, 'ci-identity');
  return (
    <SettingsShell ctx={p.ctx} project={p.project} section="ci-identity" title="Delete trust policy">
      <form method="post" action={`${base}/${encodeURIComponent(p.policy.id)}/delete`} class="card danger" aria-labelledby="dp-h">
        <Csrf ctx={p.ctx} />
        <div class="card-head">
          <h2 id="dp-h">Delete the trust policy “{p.policy.name}”?</h2>
        </div>
        <div class="card-body">
          <p>
            CI jobs whose tokens match <code>{p.policy.subject}</code> can no longer start {p.policy.environment} deployments of {p.project.name}. Deployments
            they already started keep their own short-lived tokens.
          </p>
        </div>
        <div class="card-foot">
          <a class="btn" href={base}>
            Cancel
          </a>
          <button class="btn btn-danger" type="submit">
            Delete trust policy
          </button>
        </div>
      </form>
    </SettingsShell>
  );
}
