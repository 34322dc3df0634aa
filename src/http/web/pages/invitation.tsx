import type { InvitationView } from '../../../services/invitations.service.js';
import { NewPasswordFields, SubmitBlock } from '../password-form.js';
import { AuthDocument, ErrorSummary, type FormErrors } from '../ui.js';

/** What the holder of an invitation link sees: who invited them to what, and how to accept. */
export function InvitationPage(p: {
  view: InvitationView;
  /** The form's action: this page's own path (the link). */
  action: string;
  /** Signed in: the session's CSRF token and email. Signed out: the pre-session token. */
  csrf: string;
  signedInAs?: string | undefined;
  sso: boolean;
  ssoOnly: boolean;
  errors?: FormErrors | undefined;
}) {
  const { view } = p;
  const e = p.errors?.fields ?? {};
  const next = encodeURIComponent(p.action);
  return (
    <AuthDocument title={`Join ${view.project.name}`}>
      <div class="card">
        <div class="card-body">
          <h1>Join {view.project.name}</h1>
          <p class="lead">
            {view.invitedBy} invited <strong>{view.email}</strong> to the project <strong>{view.project.name}</strong> as <strong>{view.role}</strong>.
          </p>
          <ErrorSummary errors={p.errors} title="Could not accept the invitation" />
          {p.signedInAs !== undefined ? (
            p.signedInAs === view.email ? (
              <form method="post" action={p.action} novalidate>
                <input type="hidden" name="_csrf" value={p.csrf} />
                <SubmitBlock>Accept and open {view.project.name}</SubmitBlock>
              </form>
            ) : (
              <p class="alert alert-error" role="alert">
                You are signed in as {p.signedInAs}, but this invitation is for another email address. Sign out, then open the link again.
              </p>
            )
          ) : (
            <>
              {p.ssoOnly ? null : (
                <form method="post" action={p.action} novalidate>
                  <input type="hidden" name="_csrf" value={p.csrf} />
                  <p>New to keyloft? Choose a password for {view.email}.</p>
                  <NewPasswordFields errors={e} label="Password" repeatLabel="Repeat password" />
                  <SubmitBlock>Create account and join</SubmitBlock>
                </form>
              )}
              {p.sso ? (
                <div class="form-actions">
                  <a class="btn btn-block" href={`/sso/login?next=${next}`}>
                    Sign in with SSO to accept
                  </a>
                </div>
              ) : null}
              {p.ssoOnly ? null : (
                <p class="auth-foot">
                  Already have an account? <a href={`/login?next=${next}`}>Sign in</a> to accept.
                </p>
              )}
            </>
          )}
        </div>
      </div>
    </AuthDocument>
  );
}
