import type { TSchema } from 'typebox';
import { Type } from '../../domain/schema-type.js';
import { Iso } from '../../domain/contract.js';
import { ValidationError } from '../../domain/errors.js';
import { NAME_MAX, NAME_PATTERN, PR_MAX } from '../../domain/rules.js';

/** The resource schemas are the API contract in domain/contract.ts (services and clients use their types). */
export { ApiToken, Iso, Member, Project, Role, ScopeParam, SecretMeta, User, VersionMeta } from '../../domain/contract.js';

/** Shared field schemas: every string bounded; rules that need more than a pattern live in domain/. */
export const Slug = Type.String({ minLength: 1, maxLength: 63, description: 'project slug: [a-z0-9][a-z0-9-]{0,62}' });
export const SecretName = Type.String({ minLength: 1, maxLength: NAME_MAX, description: `secret name: ${NAME_PATTERN}` });
/** A pull request number (the bound is domain/'s PR_MAX). */
export const PrNumber = (description?: string) => Type.Integer({ minimum: 1, maximum: PR_MAX, ...(description ? { description } : {}) });
export const Email = Type.String({ minLength: 1, maxLength: 254 });
/** 64 KiB of UTF-8 is at most 65,536 UTF-16 code units; the byte limit is checked in domain/. */
export const Value = Type.String({ maxLength: 65536, description: 'UTF-8 text, at most 64 KiB, no NUL' });
export const ValueBase64 = Type.String({ maxLength: 87400, description: 'base64 bytes (build secrets may be binary), at most 64 KiB decoded' });

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      field: Type.Union([Type.String(), Type.Null()]),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
    requestId: Type.String(),
  },
  { $id: 'Error' },
);

/** One row of `GET /users` (the Users page). */
export const UserSummary = Type.Object({
  id: Type.String(),
  email: Type.String(),
  isAdmin: Type.Boolean(),
  createdAt: Iso,
  lastLoginAt: Type.Union([Iso, Type.Null()]),
  locked: Type.Boolean({ description: 'a sign-in lock is in force for at least one address' }),
  disabled: Type.Boolean(),
  projects: Type.Array(Type.String(), { description: 'slugs of the projects the person is a member of' }),
});

export const SessionInfo = Type.Object({
  id: Type.String(),
  createdAt: Iso,
  lastSeenAt: Iso,
  expiresAt: Iso,
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'the session this request came with' }),
});

/** Standard error responses for a route, referenced from the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Ref('Error');
  return out;
}

export const bearer: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { sessionCookie: [] }];

/**
 * The validator coerces types (query strings need it), which would turn `{"value": 42}` into "42"
 * and `{"value": null}` into "" — silently changing a secret. Secret values must arrive as strings:
 * a preValidation check on the raw body, before coercion.
 */
export function requireStringValues(body: unknown, prefix = ''): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return;
  for (const key of ['value', 'valueBase64'] as const) {
    if (Object.hasOwn(body, key) && typeof (body as Record<string, unknown>)[key] !== 'string') {
      throw new ValidationError(`${prefix}${key}`, `${prefix}${key} must be a string`);
    }
  }
}
