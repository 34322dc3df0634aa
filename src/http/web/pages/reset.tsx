import { AuthDocument, ErrorSummary, Field, type FormErrors } from '../ui.js';

/** Set a new password through a one-time reset link. The token travels in a hidden field, never in a log line. */
export function ResetPasswordPage(p: { pre: string; token: string; email: string; errors?: FormErrors }) {
  const e = p.errors?.fields ?? {};
  return (
    <AuthDocument title="Set a new password">
      <div class="card">
        <div class="card-body">
          <h1>Set a new password</h1>
          <p class="lead">For {p.email}. Every session of this account ends when you save.</p>
          <ErrorSummary errors={p.errors} />
          <form method="post" action="/reset-password" novalidate>
            <input type="hidden" name="_csrf" value={p.pre} />
            <input type="hidden" name="token" value={p.token} />
            <Field name="password" label="New password" error={e.password} hint="At least 10 characters.">
              {(a) => <input {...a} name="password" type="password" autocomplete="new-password" required />}
            </Field>
            <Field name="password2" label="Repeat the new password" error={e.password2}>
              {(a) => <input {...a} name="password2" type="password" autocomplete="new-password" required />}
            </Field>
            <div class="form-actions">
              <button class="btn btn-primary btn-block" type="submit">
                Save the new password
              </button>
            </div>
          </form>
        </div>
      </div>
    </AuthDocument>
  );
}
