import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '../../domain/schema-type.js';
import { KeyloftError } from '../../domain/errors.js';
import { AUDIENCE_MAX, CLAIMS_MAX, ISSUER_MAX, PATTERN_MAX, POLICY_NAME_MAX } from '../../domain/trust-policy.js';
import { requireActor } from '../plugins/auth.js';
import { EnvironmentParam, StartedDeployment, TrustPolicy } from '../../domain/contract.js';
import { bearer, errors, PrNumber, Slug } from './schemas.js';
import type { RouteOptions } from './session.routes.js';

const Claims = Type.Record(Type.String({ maxLength: 64 }), Type.String({ minLength: 1, maxLength: PATTERN_MAX }), {
  maxProperties: CLAIMS_MAX,
  description: 'CLAIM: pattern (exact, or * for any run of characters); every one must match',
});
/** Trust policies of a project (admin; roles all and api). */
export const trustPolicyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl }) => {
  const auth = requireActor(publicUrl);

  app.post(
    '/projects/:slug/trust-policies',
    {
      preHandler: auth,
      schema: {
        tags: ['trust policies'],
        summary:
          'Create a trust policy (admin): CI ID tokens of this issuer and audience whose subject and claims match may start deployments of the environment',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: POLICY_NAME_MAX }),
          issuer: Type.String({
            minLength: 1,
            maxLength: ISSUER_MAX,
            description: "https:// issuer URL, exactly as the token's iss claim (e.g. https://token.actions.githubusercontent.com)",
          }),
          audience: Type.String({ minLength: 1, maxLength: AUDIENCE_MAX, description: "the token's aud claim" }),
          subject: Type.String({
            minLength: 1,
            maxLength: PATTERN_MAX,
            description: 'sub pattern, e.g. repo:OWNER/REPO:ref:refs/heads/main or repo:OWNER/REPO:pull_request',
          }),
          environment: EnvironmentParam,
          claims: Type.Optional(Claims),
        }),
        response: { 201: TrustPolicy, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => reply.status(201).send(await services.trustPolicies.create(req.actor!, req.params.slug, req.body)),
  );

  app.get(
    '/projects/:slug/trust-policies',
    {
      preHandler: auth,
      schema: {
        tags: ['trust policies'],
        summary: "A project's trust policies (admin)",
        security: bearer,
        params: Type.Object({ slug: Slug }),
        response: { 200: Type.Object({ trustPolicies: Type.Array(TrustPolicy) }), ...errors(401, 403, 404) },
      },
    },
    async (req) => ({ trustPolicies: await services.trustPolicies.list(req.actor!, req.params.slug) }),
  );

  app.delete(
    '/projects/:slug/trust-policies/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['trust policies'],
        summary: 'Delete a trust policy (admin); deployments it started keep running until they complete or expire',
        security: bearer,
        params: Type.Object({ slug: Slug, id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 204: Type.Null(), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      await services.trustPolicies.remove(req.actor!, req.params.slug, req.params.id);
      return reply.status(204).send(null);
    },
  );
};

export interface OidcRouteOptions extends RouteOptions {
  /** False on the api role: the exchange then answers 421 naming the release URL. */
  enabled: boolean;
  /** Exchanges per minute per client address (KEYLOFT_OIDC_RATE_LIMIT). */
  ratePerMinute: number;
  releaseUrl: string | undefined;
}

/** The OpenID Connect exchange (no bearer; roles all and release, the api role answers 421). */
export const oidcRoutes: FastifyPluginAsyncTypebox<OidcRouteOptions> = async (app, { services, enabled, releaseUrl, ratePerMinute }) => {
  app.post(
    '/oidc/deployments',
    {
      // Anonymous callers: a per-address limit on top of what verification costs.
      config: { rateLimit: { max: ratePerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['deployments'],
        summary:
          "Start a deployment with a CI system's OpenID Connect ID token accepted by one of the project's trust policies (no bearer); the same reply as starting one with a deploy key",
        body: Type.Object({
          project: Slug,
          environment: EnvironmentParam,
          pr: Type.Optional(PrNumber('preview: taken from the token (ref refs/pull/N/merge) when it names one')),
          ref: Type.Optional(Type.String({ maxLength: 200, description: "git ref being deployed (default: the token's sha claim)" })),
          idToken: Type.String({ minLength: 1, maxLength: 65536, description: 'the CI ID token (a signed JWT, RS256 or ES256, at most 16 KiB)' }),
        }),
        response: { 201: StartedDeployment, ...errors(400, 401, 403, 404, 421, 429, 503) },
      },
    },
    async (req, reply) => {
      if (!enabled) {
        throw new KeyloftError(
          'wrong_role',
          releaseUrl
            ? `this keyloft instance (role api) does not exchange ID tokens; send the request to the release instance at ${releaseUrl}`
            : 'this keyloft instance (role api) does not exchange ID tokens; send the request to a release instance (set KEYLOFT_RELEASE_URL)',
          undefined,
          releaseUrl ? { releaseUrl } : undefined,
        );
      }
      return reply.status(201).send(await services.oidc.exchange(req.body, req.ip));
    },
  );
};
