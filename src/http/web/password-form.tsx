/**
 * The markup the sign-in forms share (first admin set-up, password reset, accepting an
 * invitation): one place for the new-password pair and the full-width submit button, so the
 * forms keep the same fields, autocomplete hints and length rule.
 */
import type { ComponentChildren } from 'preact';
import { Field, type FieldErrors } from './ui.js';

/** `password` (with the length rule) and its repeat `password2`, both `autocomplete="new-password"`. */
export function NewPasswordFields(p: { errors: FieldErrors; label: string; repeatLabel: string }) {
  return (
    <>
      <Field name="password" label={p.label} error={p.errors.password} hint="At least 10 characters.">
        {(a) => <input {...a} name="password" type="password" autocomplete="new-password" required />}
      </Field>
      <Field name="password2" label={p.repeatLabel} error={p.errors.password2}>
        {(a) => <input {...a} name="password2" type="password" autocomplete="new-password" required />}
      </Field>
    </>
  );
}

/** The form's one primary action, full width. */
export function SubmitBlock({ children }: { children: ComponentChildren }) {
  return (
    <div class="form-actions">
      <button class="btn btn-primary btn-block" type="submit">
        {children}
      </button>
    </div>
  );
}
