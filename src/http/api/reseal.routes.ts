import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '../../domain/schema-type.js';
import { KeyloftError } from '../../domain/errors.js';
import { requireActor } from '../plugins/auth.js';
import type { RouteOptions } from './session.routes.js';
import { CopyResult, RestoreResult } from '../../domain/contract.js';
import { bearer, errors, PrNumber, ScopeParam, SecretMeta, SecretName, Slug } from './schemas.js';

export interface ResealRouteOptions extends RouteOptions {
  /** Named on the api role (whose services have no reseal, holding no master key). */
  releaseUrl: string | undefined;
}

/** The refusal of the api role, which cannot open values: restore and copy run where the keys are. */
export function wrongRole(releaseUrl: string | undefined, what: string): KeyloftError {
  return new KeyloftError(
    'wrong_role',
    releaseUrl
      ? `this keyloft instance holds no keys (role api), so it cannot ${what}; send the request to the release instance at ${releaseUrl}`
      : `this keyloft instance holds no keys (role api), so it cannot ${what}; send the request to a release instance (set KEYLOFT_RELEASE_URL)`,
    undefined,
    releaseUrl ? { releaseUrl } : undefined,
  );
}

/** Restore and copy: values are opened and re-sealed inside the server, never returned (roles all and release; api answers 421). */
export const resealRoutes: FastifyPluginAsyncTypebox<ResealRouteOptions> = async (app, { services, publicUrl, releaseUrl }) => {
  const { reseal } = services;
  const auth = requireActor(publicUrl);

  app.post(
    '/projects/:slug/secrets/:scope/:name/versions/:version/restore',
    {
      preHandler: auth,
      schema: {
        tags: ['secrets'],
        summary: 'Make an old version current again as a new version; the value is re-sealed on the server and never returned',
        security: bearer,
        params: Type.Object({ slug: Slug, scope: ScopeParam, name: SecretName, version: Type.Integer({ minimum: 1, maximum: 2147483647 }) }),
        querystring: Type.Object({ pr: Type.Optional(PrNumber('preview only: restore a version of the override for pull request N')) }),
        response: {
          200: RestoreResult,
          ...errors(400, 401, 403, 404, 409, 421),
        },
      },
    },
    async (req) => {
      if (!reseal) throw wrongRole(releaseUrl, 'restore a version');
      const { slug, scope, name, version } = req.params;
      return reseal.restore(req.actor!, slug, scope, name, version, req.query.pr);
    },
  );

  app.post(
    '/projects/:slug/secrets::copy',
    {
      preHandler: auth,
      schema: {
        tags: ['secrets'],
        summary: 'Copy chosen secrets (or all) from one scope to another, all or nothing; existing ones are skipped unless overwrite',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        body: Type.Object({
          from: ScopeParam,
          to: ScopeParam,
          names: Type.Optional(Type.Array(SecretName, { maxItems: 5000 })),
          overwrite: Type.Optional(Type.Boolean()),
          dryRun: Type.Optional(Type.Boolean()),
        }),
        response: {
          200: CopyResult,
          ...errors(400, 401, 403, 404, 409, 421),
        },
      },
    },
    async (req) => {
      if (!reseal) throw wrongRole(releaseUrl, 'copy secrets');
      return reseal.copy(req.actor!, req.params.slug, req.body);
    },
  );
};
