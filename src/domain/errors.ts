/**
 * One error vocabulary for keyloft. Services throw these; the HTTP layer maps them once
 * to `{ error: { code, message, field } }` with `status`. Messages never carry a secret value.
 */
export const ERROR_CODES = {
  validation_failed: 400,
  invalid_json: 400,
  unauthenticated: 401,
  forbidden: 403,
  release_not_granted: 403,
  csrf_failed: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unprocessable: 422,
  locked_out: 429,
  rate_limited: 429,
  running_deployments_limit: 429,
  wrong_role: 421,
  unsupported_media_type: 415,
  bad_request: 400,
  internal: 500,
  unavailable: 503,
  oidc_token_invalid: 401,
  oidc_policy_mismatch: 403,
  oidc_pr_mismatch: 403,
  oidc_issuer_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class KeyloftError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  /** Extra, non-secret data that the client may use (e.g. a release URL). */
  readonly details: Record<string, string | number> | undefined;

  constructor(code: ErrorCode, message: string, field?: string, details?: Record<string, string | number>) {
    super(message);
    this.name = 'KeyloftError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.field = field;
    this.details = details;
  }
}

/** A rule broken by an input field: 400 with the field's name. */
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
