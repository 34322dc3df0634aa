import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from '../../domain/schema-type.js';
import { ValidationError } from '../../domain/errors.js';
import { DOTENV_MAX_BYTES } from '../../domain/dotenv.js';
import { parseScope } from '../../domain/rules.js';
import { requireActor } from '../plugins/auth.js';
import type { RouteOptions } from './session.routes.js';
import { AuditPage, ImportResult } from '../../domain/contract.js';
import { bearer, errors, PrNumber, requireStringValues, ScopeParam, SecretMeta, SecretName, Slug, Value, ValueBase64, VersionMeta } from './schemas.js';

const SecretParams = Type.Object({ slug: Slug, scope: ScopeParam, name: SecretName });
/** The answer to a single write: `unchanged` when the value was already the current one (nothing written: no version, no audit event). */
const SecretWrite = Type.Object({ secret: SecretMeta, created: Type.Boolean(), unchanged: Type.Boolean() });

/** Secrets: metadata list, upsert, import, delete, history. No route returns a value. */
export const secretRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl }) => {
  const auth = requireActor(publicUrl);

  app.get(
    '/projects/:slug/secrets',
    {
      preHandler: auth,
      schema: {
        tags: ['secrets'],
        summary: 'Secret metadata (never values), optionally of one scope',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        querystring: Type.Object({ scope: Type.Optional(ScopeParam) }),
        response: { 200: Type.Object({ secrets: Type.Array(SecretMeta) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { scope } = req.query;
      reply.type('application/json; charset=utf-8');
      // Production and build: the answer's bytes from the service (kept while the scope is
      // unchanged), sent as they are. The other lists are built property by property in the
      // schema's order (secrets.service metaOf), so JSON.stringify writes the same text as the
      // schema's serializer, in a third of the time (issue 18 §4;
      // test/http/secrets-list-serialization.test.ts checks both against that serializer).
      if (scope === 'production' || scope === 'build') {
        const body = await services.secrets.listScopeBody(req.actor!, req.params.slug, scope);
        return (reply as FastifyReply).send(body);
      }
      const secrets = await services.secrets.list(req.actor!, req.params.slug, scope);
      return reply.serializer(JSON.stringify).send({ secrets });
    },
  );

  app.put(
    '/projects/:slug/secrets/:scope/:name',
    {
      preHandler: auth,
      preValidation: async (req) => requireStringValues(req.body),
      schema: {
        tags: ['secrets'],
        summary:
          'Add or overwrite a secret (a new version; the current value again writes nothing and answers unchanged: true); give value (text) or valueBase64; ?pr=N (preview) writes the override for pull request N',
        security: bearer,
        params: SecretParams,
        querystring: Type.Object({ pr: Type.Optional(PrNumber('preview only: the per-pull-request override')) }),
        body: Type.Object({ value: Type.Optional(Value), valueBase64: Type.Optional(ValueBase64) }),
        response: { 200: SecretWrite, 201: SecretWrite, ...errors(400, 401, 403, 404, 409, 413) },
      },
    },
    async (req, reply) => {
      const r = await services.secrets.upsert(req.actor!, req.params.slug, req.params.scope, req.params.name, req.body, req.query.pr);
      return reply.status(r.created ? 201 : 200).send(r);
    },
  );

  app.post(
    '/projects/:slug/secrets/:scopeImport',
    {
      preHandler: auth,
      bodyLimit: DOTENV_MAX_BYTES + 64 * 1024,
      schema: {
        tags: ['secrets'],
        summary: 'Bulk import into one scope, all or nothing: POST …/secrets/{scope}:import with a dotenv body (text/plain) or { secrets: { NAME: value } }',
        security: bearer,
        params: Type.Object({ slug: Slug, scopeImport: Type.String({ maxLength: 40, description: '{scope}:import, e.g. production:import' }) }),
        querystring: Type.Object({
          dryRun: Type.Optional(Type.Boolean()),
          replace: Type.Optional(
            Type.Boolean({ description: 'also delete the secrets of the scope that the body does not name (same transaction); listed as change removed' }),
          ),
        }),
        body: Type.Union([
          Type.String({ description: `dotenv text, at most ${DOTENV_MAX_BYTES} bytes (checked by the parser: 413)` }),
          Type.Object({ secrets: Type.Record(Type.String({ maxLength: 255 }), Type.Unknown()) }),
        ]),
        response: {
          200: ImportResult,
          ...errors(400, 401, 403, 404, 413),
        },
      },
    },
    async (req) => {
      const m = /^([a-z]+):import$/.exec(req.params.scopeImport);
      if (!m) throw new ValidationError('scope', 'use POST /projects/{slug}/secrets/{scope}:import, with scope production, preview or build');
      const scope = parseScope(m[1]!, 'scope');
      const body = req.body;
      const source = typeof body === 'string' ? { dotenv: body } : { map: body.secrets };
      return services.secrets.importSecrets(req.actor!, req.params.slug, scope, source, req.query.dryRun ?? false, req.query.replace ?? false);
    },
  );

  app.delete(
    '/projects/:slug/secrets/:scope/:name',
    {
      preHandler: auth,
      schema: {
        tags: ['secrets'],
        summary: 'Delete a secret (a tombstone version; pending removal until the next deployment); ?pr=N (preview) deletes the override for pull request N',
        security: bearer,
        params: SecretParams,
        querystring: Type.Object({ pr: Type.Optional(PrNumber('preview only: the per-pull-request override')) }),
        response: { 200: Type.Object({ secret: Type.Union([SecretMeta, Type.Null()]) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => ({ secret: (await services.secrets.remove(req.actor!, req.params.slug, req.params.scope, req.params.name, req.query.pr)) ?? null }),
  );

  app.get(
    '/projects/:slug/secrets/:scope/:name/versions',
    {
      preHandler: auth,
      schema: {
        tags: ['secrets'],
        summary: 'Version history of a secret (metadata only); ?pr=N for a preview override',
        security: bearer,
        params: SecretParams,
        querystring: Type.Object({ pr: Type.Optional(PrNumber('preview only: the per-pull-request override')) }),
        response: { 200: Type.Object({ versions: Type.Array(VersionMeta) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => ({ versions: await services.secrets.versions(req.actor!, req.params.slug, req.params.scope, req.params.name, req.query.pr) }),
  );

  app.get(
    '/projects/:slug/audit',
    {
      preHandler: auth,
      schema: {
        tags: ['audit'],
        summary: 'Audit events, newest first, paged with `before`',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
          before: Type.Optional(Type.String({ maxLength: 64 })),
          action: Type.Optional(Type.String({ maxLength: 64 })),
          name: Type.Optional(Type.String({ maxLength: 255 })),
        }),
        response: {
          200: AuditPage,
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => services.audit.list(req.actor!, req.params.slug, req.query),
  );
};
