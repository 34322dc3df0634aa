import { NewPasswordFields, SubmitBlock } from '../password-form.js';
import { AuthDocument, ErrorSummary, type FormErrors } from '../ui.js';

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
            <NewPasswordFields errors={e} label="New password" repeatLabel="Repeat the new password" />
            <SubmitBlock>Save the new password</SubmitBlock>
          </form>
        </div>
      </div>
    </AuthDocument>
  );
}
