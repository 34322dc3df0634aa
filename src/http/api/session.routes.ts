import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '../../domain/schema-type.js';
import { requireUser } from '../../services/actor.js';
import type { Services } from '../../services/container.js';
import { jsonOnlySameOrigin, requireActor, SESSION_COOKIE } from '../plugins/auth.js';
import { Me } from '../../domain/contract.js';
import { ApiToken, bearer, Email, errors, User } from './schemas.js';

export interface RouteOptions {
  services: Services;
  publicUrl: string | undefined;
  secureCookies: boolean;
}

/** Sign-in, first-run setup, personal API tokens and users. */
export const sessionRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl, secureCookies }) => {
  const auth = requireActor(publicUrl);
  const jsonOnly = jsonOnlySameOrigin(publicUrl);
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: secureCookies };

  app.post(
    '/session',
    {
      config: { rateLimited: true },
      onRequest: jsonOnly,
      schema: {
        tags: ['session'],
        summary: 'Sign in: sets the session cookie (JSON only; a foreign or opaque Origin is refused)',
        body: Type.Object({ email: Email, password: Type.String({ maxLength: 1024 }) }),
        response: { 200: Type.Object({ user: User, csrfToken: Type.String() }), ...errors(400, 401, 403, 415, 429) },
      },
    },
    async (req, reply) => {
      const s = await services.users.login(req.body.email, req.body.password, req.ip);
      if (req.sessionToken) await services.users.logout(req.sessionToken);
      reply.setCookie(SESSION_COOKIE, s.token, { ...cookieOpts, expires: new Date(s.expiresAt) });
      return { user: s.user, csrfToken: s.csrfToken };
    },
  );

  app.delete('/session', { schema: { tags: ['session'], summary: 'Sign out', response: { 204: Type.Null() } } }, async (req, reply) => {
    if (req.sessionToken) await services.users.logout(req.sessionToken);
    reply.clearCookie(SESSION_COOKIE, cookieOpts);
    return reply.status(204).send(null);
  });

  app.post(
    '/setup',
    {
      config: { rateLimited: true },
      onRequest: jsonOnly,
      schema: {
        tags: ['session'],
        summary: 'First-run setup: create the first admin with the one-time setup token (JSON only; works exactly once)',
        body: Type.Object({ setupToken: Type.String({ minLength: 1, maxLength: 200 }), email: Email, password: Type.String({ maxLength: 1024 }) }),
        response: { 201: Type.Object({ user: User, csrfToken: Type.String() }), ...errors(400, 403, 409, 415) },
      },
    },
    async (req, reply) => {
      const s = await services.users.setup(req.body, req.ip);
      reply.setCookie(SESSION_COOKIE, s.token, { ...cookieOpts, expires: new Date(s.expiresAt) });
      return reply.status(201).send({ user: s.user, csrfToken: s.csrfToken });
    },
  );

  app.post(
    '/tokens',
    {
      preHandler: auth,
      schema: {
        tags: ['tokens'],
        summary: 'Create a personal API token (shown once)',
        security: bearer,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          expiresInDays: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 3650, description: 'the token stops working after this many days; left out: never' }),
          ),
          readOnly: Type.Optional(Type.Boolean({ description: 'refused by every write and start route' })),
        }),
        response: { 201: Type.Intersect([ApiToken, Type.Object({ token: Type.String() })]), ...errors(400, 401, 403) },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await services.users.createToken(req.actor!, req.body.name, { expiresInDays: req.body.expiresInDays, readOnly: req.body.readOnly })),
  );

  app.get(
    '/tokens',
    {
      preHandler: auth,
      schema: {
        tags: ['tokens'],
        summary: 'List your API tokens',
        security: bearer,
        response: { 200: Type.Object({ tokens: Type.Array(ApiToken) }), ...errors(401, 403) },
      },
    },
    async (req) => ({ tokens: await services.users.listTokens(req.actor!) }),
  );

  app.delete(
    '/tokens/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['tokens'],
        summary: 'Revoke an API token',
        security: bearer,
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      await services.users.revokeToken(req.actor!, req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      preHandler: auth,
      schema: {
        tags: ['session'],
        summary: 'Who am I (a person; deploy keys and deploy tokens are refused)',
        security: bearer,
        response: { 200: Me, ...errors(401, 403) },
      },
    },
    async (req) => {
      // A deploy key or deploy token may use only its own routes (start/complete, release): 403 here.
      const a = requireUser(req.actor!);
      return { email: a.email, isAdmin: a.isAdmin, kind: 'user' };
    },
  );

  app.post(
    '/users',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'Create a user (instance admins only)',
        security: bearer,
        body: Type.Object({ email: Email, password: Type.String({ maxLength: 1024 }), isAdmin: Type.Optional(Type.Boolean()) }),
        response: { 201: Type.Object({ user: User }), ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => reply.status(201).send({ user: await services.users.createUser(req.actor!, req.body) }),
  );
};
