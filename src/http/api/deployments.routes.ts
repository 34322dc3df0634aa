import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '../../domain/schema-type.js';
import { KeyloftError } from '../../domain/errors.js';
import { requireActor } from '../plugins/auth.js';
import type { RouteOptions } from './session.routes.js';
import { DeployKey, Deployment, EnvironmentParam, ShownDeployment, StartedDeployment, StartRequest } from '../../domain/contract.js';
import { bearer, errors, PrNumber, Slug } from './schemas.js';

const DeploymentId = Type.String({ minLength: 1, maxLength: 64 });

/** Deployment lifecycle and deploy keys (roles all and api). */
export const deploymentRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl }) => {
  const auth = requireActor(publicUrl);

  app.post(
    '/projects/:slug/deployments',
    {
      preHandler: auth,
      schema: {
        tags: ['deployments'],
        summary:
          'Start a deployment (a deploy key, or a person with the release grant): pins the current version of every secret of the environment and every build secret; returns its deploy token once',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        body: StartRequest,
        response: {
          201: StartedDeployment,
          ...errors(400, 401, 403, 404, 422, 429),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await services.deployments.start(req.actor!, req.params.slug, req.body)),
  );

  app.post(
    '/projects/:slug/deployments/:id/cancel',
    {
      preHandler: auth,
      schema: {
        tags: ['deployments'],
        summary: 'Cancel a running deployment (member+): it completes as failed ("cancelled by …") and its token is revoked at once',
        security: bearer,
        params: Type.Object({ slug: Slug, id: DeploymentId }),
        response: { 200: Type.Object({ deployment: Deployment }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const deployment = await services.deployments.cancel(req.actor!, req.params.slug, req.params.id);
      // The deploy token stops working at once: every release request resolves it against the row.
      return { deployment };
    },
  );

  app.get(
    '/projects/:slug/deployments',
    {
      preHandler: auth,
      schema: {
        tags: ['deployments'],
        summary: 'Deployments of a project, newest first',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        querystring: Type.Object({
          environment: Type.Optional(EnvironmentParam),
          pr: Type.Optional(PrNumber()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
          before: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 64,
              description: 'the next page: the deployments listed after this one (the last id of the previous page)',
            }),
          ),
        }),
        response: { 200: Type.Object({ deployments: Type.Array(Deployment) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => ({ deployments: await services.deployments.list(req.actor!, req.params.slug, req.query) }),
  );

  app.get(
    '/projects/:slug/deployments/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['deployments'],
        summary: 'One deployment with its pinned secret names and versions, and what changed (by digest) since the previous succeeded deployment',
        security: bearer,
        params: Type.Object({ slug: Slug, id: DeploymentId }),
        response: { 200: ShownDeployment, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => services.deployments.get(req.actor!, req.params.slug, req.params.id),
  );

  app.delete(
    '/projects/:slug/previews/:pr',
    {
      preHandler: auth,
      schema: {
        tags: ['deployments'],
        summary: 'Mark a preview app (pull request) closed',
        security: bearer,
        params: Type.Object({ slug: Slug, pr: PrNumber() }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await services.deployments.closePreview(req.actor!, req.params.slug, req.params.pr);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/projects/:slug/deploy-keys',
    {
      preHandler: auth,
      schema: {
        tags: ['deploy keys'],
        summary: 'Create a project deploy key (admin; the key is shown once)',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 201: Type.Intersect([DeployKey, Type.Object({ token: Type.String() })]), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => reply.status(201).send(await services.deployKeys.create(req.actor!, req.params.slug, req.body.name)),
  );

  app.get(
    '/projects/:slug/deploy-keys',
    {
      preHandler: auth,
      schema: {
        tags: ['deploy keys'],
        summary: 'List deploy keys with last use (admin)',
        security: bearer,
        params: Type.Object({ slug: Slug }),
        response: { 200: Type.Object({ deployKeys: Type.Array(DeployKey) }), ...errors(401, 403, 404) },
      },
    },
    async (req) => ({ deployKeys: await services.deployKeys.list(req.actor!, req.params.slug) }),
  );

  app.delete(
    '/projects/:slug/deploy-keys/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['deploy keys'],
        summary: 'Revoke a deploy key (admin)',
        security: bearer,
        params: Type.Object({ slug: Slug, id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      await services.deployKeys.revoke(req.actor!, req.params.slug, req.params.id);
      return reply.status(204).send(null);
    },
  );
};

export interface ReleaseRouteOptions extends RouteOptions {
  /** Named by the secrets route on the api role (whose services have no release). */
  releaseUrl: string | undefined;
}

/** What a deploy token uses: the pinned values and completion (roles all and release; completion also on api). */
export const releaseRoutes: FastifyPluginAsyncTypebox<ReleaseRouteOptions> = async (app, { services, publicUrl, releaseUrl }) => {
  const auth = requireActor(publicUrl);
  // Absent on the api role: the secrets route then names the release URL.
  const { release } = services;
  const Released = Type.Object({
    runtime: Type.Record(Type.String(), Type.String()),
    build: Type.Record(Type.String(), Type.String({ description: 'base64' })),
  });

  app.get(
    '/deployments/:id/secrets',
    {
      preHandler: auth,
      schema: {
        tags: ['release'],
        summary: "The deployment's pinned values (deploy token only; build values in base64)",
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: DeploymentId }),
        response: { 200: Released, ...errors(401, 403, 404, 421) },
      },
    },
    async (req, reply) => {
      if (!release) {
        throw new KeyloftError(
          'wrong_role',
          releaseUrl
            ? `this keyloft instance holds no keys (role api); fetch secrets from the release instance at ${releaseUrl}`
            : 'this keyloft instance holds no keys (role api); fetch secrets from a release instance (set KEYLOFT_RELEASE_URL)',
          undefined,
          releaseUrl ? { releaseUrl } : undefined,
        );
      }
      // The body is built from the opened bytes (no value in a JavaScript string) and zeroed once sent.
      const { body, runtime, build } = await release.releaseJson(req.actor!, req.params.id);
      req.releasedCounts = { runtime, build };
      reply.raw.once('close', () => body.fill(0));
      return reply.type('application/json; charset=utf-8').send(body as never); // sent as is, not re-serialised
    },
  );

  app.post(
    '/deployments/:id/complete',
    {
      preHandler: auth,
      schema: {
        tags: ['release'],
        summary: 'End a running deployment as succeeded or failed; revokes its token',
        security: bearer,
        params: Type.Object({ id: DeploymentId }),
        body: Type.Object({
          status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
          reason: Type.Optional(
            Type.String({
              maxLength: 2000,
              description: 'failed only: why, at most 500 characters; any pinned value in it is masked (by keyed digest) before it is stored',
            }),
          ),
        }),
        response: { 200: Type.Object({ deployment: Deployment }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const deployment = await services.deployments.complete(req.actor!, req.params.id, req.body.status, req.body.reason);
      release?.forget(req.params.id);
      return { deployment };
    },
  );
};
