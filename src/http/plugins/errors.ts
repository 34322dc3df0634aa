import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCode, KeyloftError } from '../../domain/errors.js';

/**
 * The one table from a domain error code to its HTTP status. One line per code: a code added
 * to `domain/errors.ts` fails to compile until it has its status here.
 */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  invalid_json: 400,
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  release_not_granted: 403,
  csrf_failed: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  wrong_role: 421,
  unprocessable: 422,
  locked_out: 429,
  rate_limited: 429,
  running_deployments_limit: 429,
  oidc_token_invalid: 401,
  oidc_policy_mismatch: 403,
  oidc_pr_mismatch: 403,
  oidc_issuer_unavailable: 503,
  read_only_token: 403,
  account_disabled: 403,
  last_admin: 409,
  reset_link_invalid: 410,
  internal: 500,
  secret_damaged: 500,
  unavailable: 503,
  storage_unavailable: 503,
  storage_full: 507,
  invitation_invalid: 410,
  invitation_other_email: 403,
  sso_failed: 401,
  sso_only: 403,
};

/** The HTTP status of an error: its code's for a KeyloftError, else a client error Fastify set, else 500. */
export function errorStatus(err: unknown): number {
  if (err instanceof KeyloftError) return ERROR_STATUS[err.code];
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 500 ? s : 500;
}

/** The one error envelope: `{ error: { code, message, field }, requestId }`. */
export function errorBody(code: string, message: string, field: string | undefined, requestId: string, details?: Record<string, unknown>) {
  return { error: { code, message, field: field ?? null, ...(details ? { details } : {}) }, requestId };
}

/** A storage failure (503 storage_unavailable, 507 storage_full): expected during an outage, not a bug. */
export function isStorageError(err: unknown): boolean {
  return err instanceof KeyloftError && (err.code === 'storage_unavailable' || err.code === 'storage_full');
}

/** Turns a JSON-schema validation error into `field` and a message that names it. */
function validationField(err: FastifyError): { field: string; message: string } {
  const v = err.validation?.[0];
  const ctx = (err as { validationContext?: string }).validationContext ?? 'body';
  if (!v) return { field: ctx, message: err.message };
  // `/secrets/0/scope` → `secrets[0].scope`: the same spelling domain/ uses for the field.
  let path = v.instancePath
    .replace(/^\//, '')
    .split('/')
    .map((seg, i) => (/^\d+$/.test(seg) && i > 0 ? `[${seg}]` : i > 0 ? `.${seg}` : seg))
    .join('');
  const params = v.params as Record<string, unknown>;
  if (v.keyword === 'required' && typeof params.missingProperty === 'string') path = path ? `${path}.${params.missingProperty}` : params.missingProperty;
  const field = path || ctx;
  let message: string;
  switch (v.keyword) {
    case 'required':
      message = `${field} is required`;
      break;
    case 'enum':
      message = `${field} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
      break;
    case 'const': {
      // A union of literals (e.g. scope): list every allowed value at this path, not just the first.
      const allowed = (err.validation ?? [])
        .filter((e) => e.keyword === 'const' && e.instancePath === v.instancePath)
        .map((e) => String((e.params as { allowedValue?: unknown }).allowedValue));
      message = allowed.length > 1 ? `${field} must be one of ${allowed.join(', ')}` : `${field} must be ${allowed[0] ?? 'a fixed value'}`;
      break;
    }
    case 'maxLength':
      message = `${field} must be at most ${String(params.limit)} characters`;
      break;
    case 'minLength':
      message = `${field} must be at least ${String(params.limit)} character${params.limit === 1 ? '' : 's'}`;
      break;
    case 'type':
      message = `${field} must be of type ${String(params.type)}`;
      break;
    case 'pattern':
      message = `${field} has an invalid format`;
      break;
    default:
      message = `${field} ${v.message ?? 'is invalid'}`;
  }
  return { field, message };
}

/** Maps every error once; 5xx details are logged, never sent. Messages never contain request bodies. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof KeyloftError) {
      const status = ERROR_STATUS[err.code];
      // A storage outage is logged once when it starts (cli/serve.ts), not once per request.
      if (status >= 500 && !isStorageError(err)) req.log.error({ err }, 'request failed');
      if (err.code === 'storage_unavailable') reply.header('retry-after', '5');
      return reply.status(status).send(errorBody(err.code, err.message, err.field, req.id, err.details));
    }
    if (err.validation) {
      const { field, message } = validationField(err);
      // A secret value over the schema's length bound is the same 64 KiB rule that domain/ reports
      // as payload_too_large; answer it the same way whichever check caught it first.
      if (err.validation[0]?.keyword === 'maxLength' && /(^|\.)(value|valueBase64)$/.test(field)) {
        return reply.status(413).send(errorBody('payload_too_large', `${field} must be at most 65536 bytes (64 KiB)`, field, req.id));
      }
      return reply.status(400).send(errorBody('validation_failed', message, field, req.id));
    }
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.status(413).send(errorBody('payload_too_large', 'the request body is too large', 'body', req.id));
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.status(400).send(errorBody('invalid_json', 'the request body is not valid JSON', 'body', req.id));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.status(415).send(errorBody('unsupported_media_type', 'the Content-Type of the body is not supported here', 'body', req.id));
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return reply.status(400).send(errorBody('validation_failed', 'the Content-Length header does not match the body', 'body', req.id));
    }
    if (err instanceof SyntaxError) return reply.status(400).send(errorBody('invalid_json', 'the request body is not valid JSON', 'body', req.id));
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err: { type: err.name, code: err.code, stack: err.stack } }, 'unhandled error');
      return reply.status(500).send(errorBody('internal', 'internal server error', undefined, req.id));
    }
    return reply.status(status).send(errorBody('bad_request', err.message.slice(0, 200), undefined, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody('not_found', `no route for ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`, undefined, req.id));
  });
}
