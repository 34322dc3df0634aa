import { type TSchema, Type } from 'typebox';
import { ValidationError } from '../../domain/errors.js';

/** Shared field schemas: every string bounded; rules that need more than a pattern live in domain/. */
export const Slug = Type.String({ minLength: 1, maxLength: 63, description: 'project slug: [a-z0-9][a-z0-9-]{0,62}' });
export const ScopeParam = Type.Union([Type.Literal('production'), Type.Literal('preview'), Type.Literal('build')], { description: 'production | preview | build' });
export const SecretName = Type.String({ minLength: 1, maxLength: 255, description: 'secret name: [A-Za-z_][A-Za-z0-9_]*' });
export const Email = Type.String({ minLength: 1, maxLength: 254 });
export const Role = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Literal('viewer')]);
/** 64 KiB of UTF-8 is at most 65,536 UTF-16 code units; the byte limit is checked in domain/. */
export const Value = Type.String({ maxLength: 65536, description: 'UTF-8 text, at most 64 KiB, no NUL' });
export const ValueBase64 = Type.String({ maxLength: 87400, description: 'base64 bytes (build secrets may be binary), at most 64 KiB decoded' });
export const Iso = Type.String({ format: 'date-time' });

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

export const SecretMeta = Type.Object({
  name: Type.String(),
  scope: ScopeParam,
  version: Type.Integer(),
  digest: Type.Union([Type.String(), Type.Null()], { description: 'short keyed digest (HMAC) of the value; null for a deleted secret' }),
  size: Type.Union([Type.Integer(), Type.Null()], { description: 'value size in bytes' }),
  updatedAt: Iso,
  updatedBy: Type.String(),
  deleted: Type.Boolean(),
  status: Type.Union([Type.Literal('deployed'), Type.Literal('pending'), Type.Literal('pending_removal')]),
  applied: Type.Optional(Type.Object({ count: Type.Integer(), of: Type.Integer() })),
  pr: Type.Optional(Type.Integer({ description: 'a per-pull-request preview override: the pull request it is for' })),
  binary: Type.Optional(
    Type.Boolean({ description: 'a build secret whose value is binary (not UTF-8 text): keyloft deploy fly cannot pass it as --build-secret; read it as a file (keyloft run --build)' }),
  ),
});

export const VersionMeta = Type.Object({
  version: Type.Integer(),
  kind: Type.Union([Type.Literal('set'), Type.Literal('delete'), Type.Literal('restore')]),
  digest: Type.Union([Type.String(), Type.Null()]),
  size: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Iso,
  createdBy: Type.String(),
});

export const Project = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  flyApp: Type.String(),
  flyPreviewPattern: Type.String(),
  previewBuildSecrets: Type.Boolean({
    description: 'build secrets for preview deployments (default true); workflows of fork pull requests get them too, so turn it off where forks can open pull requests',
  }),
  role: Role,
  createdAt: Iso,
});

export const Member = Type.Object({
  email: Type.String(),
  role: Role,
  release: Type.Boolean({ description: 'the release grant: may start deployments, and so read values (off by default for every role)' }),
  addedAt: Iso,
});

export const ReleaseGrant = Type.Boolean({ description: 'the release grant: can read values by starting a deployment (admin sets it; default false)' });

export const User = Type.Object({ id: Type.String(), email: Type.String(), isAdmin: Type.Boolean(), createdAt: Type.String() });

export const ApiToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Iso,
  lastUsedAt: Type.Union([Iso, Type.Null()]),
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
