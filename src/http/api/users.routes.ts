import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from '../../domain/schema-type.js';
import { requireActor } from '../plugins/auth.js';
import { bearer, errors, Iso, SessionInfo, UserSummary } from './schemas.js';
import type { RouteOptions } from './session.routes.js';

const UserId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const Done = Type.Object({ email: Type.String() });

/** Where a one-time link points: KEYLOFT_PUBLIC_URL, or the address the request came to. */
export function linkBase(req: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${req.protocol}://${req.host}`;
}

/** The path of the page that sets a new password with a reset token (query, so access logs never hold it). */
export function resetPath(token: string): string {
  return `/reset-password?token=${encodeURIComponent(token)}`;
}

/** Instance administration of people, and a person's own password and sessions. */
export const userRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl }) => {
  const auth = requireActor(publicUrl);
  const admin = services.userAdmin;

  app.get(
    '/users',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'List users: last sign-in, locked, disabled, projects (instance admins only)',
        security: bearer,
        response: { 200: Type.Object({ users: Type.Array(UserSummary) }), ...errors(401, 403) },
      },
    },
    async (req) => ({ users: await admin.list(req.actor!) }),
  );

  app.post(
    '/users/:id/unlock',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'Lift every sign-in lock of an account (instance admins only)',
        security: bearer,
        params: UserId,
        response: { 200: Done, ...errors(401, 403, 404) },
      },
    },
    async (req) => ({ email: (await admin.unlock(req.actor!, req.params.id)).email }),
  );

  app.post(
    '/users/:id/disable',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'Disable an account: its sessions end and its API tokens are revoked at once (instance admins only; never yourself or the last admin)',
        security: bearer,
        params: UserId,
        response: { 200: Done, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => admin.disable(req.actor!, req.params.id),
  );

  app.post(
    '/users/:id/enable',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'Enable a disabled account (instance admins only)',
        security: bearer,
        params: UserId,
        response: { 200: Done, ...errors(401, 403, 404) },
      },
    },
    async (req) => admin.enable(req.actor!, req.params.id),
  );

  app.put(
    '/users/:id/admin',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'Make or unmake an instance admin (never the last one)',
        security: bearer,
        params: UserId,
        body: Type.Object({ isAdmin: Type.Boolean() }),
        response: { 200: Type.Object({ email: Type.String(), isAdmin: Type.Boolean() }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => admin.setInstanceAdmin(req.actor!, req.params.id, req.body.isAdmin),
  );

  app.post(
    '/users/:id/password-reset',
    {
      preHandler: auth,
      schema: {
        tags: ['users'],
        summary: 'A one-time password-reset link for a user, valid 1 hour (instance admins only; shown once)',
        security: bearer,
        params: UserId,
        response: { 201: Type.Object({ email: Type.String(), url: Type.String(), expiresAt: Iso }), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      const r = await admin.createPasswordReset(req.actor!, req.params.id);
      return reply.status(201).send({ email: r.email, url: `${linkBase(req, publicUrl)}${resetPath(r.token)}`, expiresAt: r.expiresAt });
    },
  );

  app.put(
    '/me/password',
    {
      preHandler: auth,
      config: { rateLimited: true },
      schema: {
        tags: ['session'],
        summary: 'Change your password (the current one required); your other sessions end',
        security: bearer,
        body: Type.Object({ current: Type.String({ maxLength: 1024 }), new: Type.String({ maxLength: 1024 }) }),
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }), ...errors(400, 401, 403, 429) },
      },
    },
    async (req) => admin.changePassword(req.actor!, req.body.current, req.body.new),
  );

  app.get(
    '/me/sessions',
    {
      preHandler: auth,
      schema: {
        tags: ['session'],
        summary: 'Your signed-in sessions',
        security: bearer,
        response: { 200: Type.Object({ sessions: Type.Array(SessionInfo) }), ...errors(401, 403) },
      },
    },
    async (req) => ({ sessions: await admin.listSessions(req.actor!) }),
  );

  app.delete(
    '/me/sessions/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['session'],
        summary: 'End one of your sessions',
        security: bearer,
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      await admin.revokeSession(req.actor!, req.params.id);
      return reply.status(204).send(null);
    },
  );
};
