import { NewPasswordFields, SubmitBlock } from '../password-form.js';
import { AuthDocument, ErrorSummary, Field, FlashMessage, type Flash, type FormErrors } from '../ui.js';

export function SetupPage(p: { pre: string; email?: string; errors?: FormErrors }) {
  const e = p.errors?.fields ?? {};
  return (
    <AuthDocument title="Set up keyloft">
      <div class="card">
        <div class="card-body">
          <h1>Set up keyloft</h1>
          <p class="lead">Create the first admin account. You need the one-time setup token that the server printed when it first started.</p>
          <ErrorSummary errors={p.errors} />
          <form method="post" action="/setup" novalidate>
            <input type="hidden" name="_csrf" value={p.pre} />
            <Field name="setupToken" label="Setup token" error={e.setupToken} hint="Printed once in the server log: klsetup_…">
              {(a) => <input {...a} name="setupToken" type="text" class="input-mono" autocomplete="off" spellcheck={false} required />}
            </Field>
            <Field name="email" label="Email" error={e.email}>
              {(a) => <input {...a} name="email" type="email" autocomplete="email" value={p.email ?? ''} required />}
            </Field>
            <NewPasswordFields errors={e} label="Password" repeatLabel="Repeat password" />
            <SubmitBlock>Create admin account</SubmitBlock>
          </form>
        </div>
      </div>
    </AuthDocument>
  );
}

export function LoginPage(p: { pre: string; email?: string; next?: string; errors?: FormErrors; flash?: Flash | undefined; sso?: boolean; ssoOnly?: boolean }) {
  const e = p.errors?.fields ?? {};
  return (
    <AuthDocument title="Sign in">
      {p.flash ? <FlashMessage flash={p.flash} /> : null}
      <div class="card">
        <div class="card-body">
          <h1>Sign in</h1>
          <p class="lead">Secrets for your deployments, sealed until they ship.</p>
          <ErrorSummary errors={p.errors} title="Could not sign in" />
          {p.ssoOnly ? null : (
            <form method="post" action="/login" novalidate>
              <input type="hidden" name="_csrf" value={p.pre} />
              {p.next ? <input type="hidden" name="next" value={p.next} /> : null}
              <Field name="email" label="Email" error={e.email}>
                {(a) => <input {...a} name="email" type="email" autocomplete="username" value={p.email ?? ''} required autofocus />}
              </Field>
              <Field name="password" label="Password" error={e.password}>
                {(a) => <input {...a} name="password" type="password" autocomplete="current-password" required />}
              </Field>
              <SubmitBlock>Sign in</SubmitBlock>
            </form>
          )}
          {p.sso ? (
            <div class="form-actions">
              <a class={`btn btn-block${p.ssoOnly ? ' btn-primary' : ''}`} href={`/sso/login${p.next ? `?next=${encodeURIComponent(p.next)}` : ''}`}>
                Sign in with SSO
              </a>
            </div>
          ) : null}
        </div>
      </div>
      <p class="auth-foot">No account? Ask an admin of your keyloft instance.</p>
    </AuthDocument>
  );
}

export function ErrorPage(p: { status: number; title: string; message: string; signedIn: boolean }) {
  return (
    <AuthDocument title={p.title}>
      <div class="card">
        <div class="card-body">
          <p class="muted small">Error {p.status}</p>
          <h1>{p.title}</h1>
          <p class="lead">{p.message}</p>
          <div class="form-actions">
            <a class="btn btn-primary" href={p.signedIn ? '/projects' : '/login'}>
              {p.signedIn ? 'Back to projects' : 'Sign in'}
            </a>
          </div>
        </div>
      </div>
    </AuthDocument>
  );
}
