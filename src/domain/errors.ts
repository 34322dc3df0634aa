/**
 * One error vocabulary for keyloft. Services throw these; the HTTP layer maps each code once
 * to a status (`http/plugins/errors.ts`) and answers `{ error: { code, message, field } }`.
 * Messages never carry a secret value. The domain knows no HTTP status.
 */
export const ERROR_CODES = [
  'validation_failed',
  'invalid_json',
  'unauthenticated',
  'forbidden',
  'release_not_granted',
  'csrf_failed',
  'not_found',
  'conflict',
  'payload_too_large',
  'unprocessable',
  'locked_out',
  'rate_limited',
  'running_deployments_limit',
  'wrong_role',
  'unsupported_media_type',
  'bad_request',
  'read_only_token',
  'account_disabled',
  'last_admin',
  'reset_link_invalid',
  'internal',
  'unavailable',
  'storage_unavailable',
  'storage_full',
  'secret_damaged',
  /** An invitation link that is unknown, used, revoked or expired. */
  'invitation_invalid',
  /** An invitation accepted by a signed-in person whose email is not the invited one. */
  'invitation_other_email',
  /** A single sign-on callback that cannot be trusted (state, code, email, domain). */
  'sso_failed',
  /** Password sign-in is off for people (KEYLOFT_SSO_ONLY=true). */
  'sso_only',
  'oidc_token_invalid',
  'oidc_policy_mismatch',
  'oidc_pr_mismatch',
  'oidc_issuer_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class KeyloftError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  /** Extra, non-secret data that the client may use (e.g. a release URL). */
  readonly details: Record<string, string | number> | undefined;

  constructor(code: ErrorCode, message: string, field?: string, details?: Record<string, string | number>) {
    super(message);
    this.name = 'KeyloftError';
    this.code = code;
    this.field = field;
    this.details = details;
  }
}

/** A rule broken by an input field, with the field's name. */
export class ValidationError extends KeyloftError {
  constructor(field: string, message: string, code: 'validation_failed' | 'payload_too_large' | 'unprocessable' = 'validation_failed') {
    super(code, message, field);
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends KeyloftError {
  constructor(message: string, field?: string) {
    super('not_found', message, field);
    this.name = 'NotFoundError';
  }
}

export class ForbiddenError extends KeyloftError {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'ForbiddenError';
  }
}

export class UnauthenticatedError extends KeyloftError {
  constructor(message = 'authentication required') {
    super('unauthenticated', message);
    this.name = 'UnauthenticatedError';
  }
}

export class ConflictError extends KeyloftError {
  constructor(message: string, field?: string) {
    super('conflict', message, field);
    this.name = 'ConflictError';
  }
}

/** Quote a user-supplied, non-secret string in a message, shortened and with control characters made visible. */
export function quote(input: string, max = 64): string {
  const cut = input.length > max ? `${input.slice(0, max)}…` : input;
  return JSON.stringify(cut);
}
