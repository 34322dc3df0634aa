import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from '../../domain/schema-type.js';
import { KeyloftError } from '../../domain/errors.js';
import type { Services } from '../../services/container.js';
import { checkCsrf, checkSameOrigin, requireActor, SESSION_COOKIE } from '../plugins/auth.js';
import { Invitation } from '../../domain/contract.js';
import { bearer, Email, errors, Iso, Role, Slug } from './schemas.js';
import type { RouteOptions } from './session.routes.js';

/**
 * The base of links handed to people: KEYLOFT_PUBLIC_URL, else this request's own origin (shown
 * only to the admin who sent that Host header; e-mail needs KEYLOFT_PUBLIC_URL, see config.ts).
 */
export function linkBase(req: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${req.protocol}://${req.host}`;
}

/**
 * After an invitation is written: its link, e-mailed when SMTP is configured. A failed e-mail is
 * logged without the link (the token never reaches a log line) and the link is still returned.
 */
export async function deliverInvitation(
  services: Services,
  req: FastifyRequest,
  publicUrl: string | undefined,
  slug: string,
  created: { invitation: Invitation; token: string },
): Promise<{ url: string; emailed: boolean }> {
  const url = `${linkBase(req, publicUrl)}/invitations/${created.token}`;
  if (!services.mail.enabled || !publicUrl) return { url, emailed: false };
  const project = await services.projects.show(req.actor!, slug);
  const r = await services.mail.sendInvitation({
    to: created.invitation.email,
    url,
    projectName: project.name,
    role: created.invitation.role,
    invitedBy: created.invitation.createdBy,
    expiresAt: created.invitation.expiresAt,
  });
  if (!r.sent)
    req.log.warn({ invitation: created.invitation.id, reason: r.reason }, 'invitation e-mail could not be sent; the link was shown to the admin instead');
  return { url, emailed: r.sent };
}

/** Invitations: created, listed and revoked by project admins; accepted by the person holding the link. */
export const invitationRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl, secureCookies }) => {
  const auth = requireActor(publicUrl);
  const SlugParams = Type.Object({ slug: Slug });

  app.post(
    '/projects/:slug/invitations',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary:
          'Invite a person by email (admin): a one-time link, valid 7 days, e-mailed when SMTP is configured. The same answer whether or not the email has an account.',
        security: bearer,
        params: SlugParams,
        body: Type.Object({ email: Email, role: Role, release: Type.Optional(Type.Boolean()) }),
        response: {
          201: Type.Object({
            id: Type.String(),
            url: Type.String({ description: 'the one-time link, shown this once' }),
            expiresAt: Iso,
            emailed: Type.Boolean(),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req, reply) => {
      const created = await services.invitations.invite(req.actor!, req.params.slug, req.body);
      const { url, emailed } = await deliverInvitation(services, req, publicUrl, req.params.slug, created);
      return reply.status(201).send({ id: created.invitation.id, url, expiresAt: created.invitation.expiresAt, emailed });
    },
  );

  app.get(
    '/projects/:slug/invitations',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Pending invitations (admin); never a link',
        security: bearer,
        params: SlugParams,
        response: { 200: Type.Object({ invitations: Type.Array(Invitation) }), ...errors(401, 403, 404) },
      },
    },
    async (req) => ({ invitations: await services.invitations.list(req.actor!, req.params.slug) }),
  );

  app.delete(
    '/projects/:slug/invitations/:id',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Revoke a pending invitation (admin): its link stops working',
        security: bearer,
        params: Type.Object({ slug: Slug, id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 204: Type.Null(), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      await services.invitations.revoke(req.actor!, req.params.slug, req.params.id);
      return reply.status(204).send(null);
    },
  );

  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: secureCookies };
  app.post(
    '/invitations/:token/accept',
    {
      config: { rateLimited: true },
      preHandler: async (req) => {
        // JSON only: a cross-site HTML form cannot accept an invitation (and sign someone in) for a victim.
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
          throw new KeyloftError('unsupported_media_type', 'send the body as application/json', 'body');
        }
        checkSameOrigin(req, publicUrl);
        checkCsrf(req, publicUrl);
      },
      schema: {
        tags: ['members'],
        summary:
          'Accept an invitation: signed in with the invited email, or signed out with a new password (the account is created and signed in). 410 invitation_invalid for an unknown, used, revoked or expired link.',
        params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
        body: Type.Object({ password: Type.Optional(Type.String({ maxLength: 1024 })) }),
        response: {
          200: Type.Object({
            project: Type.Object({ slug: Type.String() }),
            role: Role,
            accountCreated: Type.Boolean(),
            csrfToken: Type.Optional(Type.String()),
          }),
          ...errors(400, 403, 409, 410, 415, 429),
        },
      },
    },
    async (req, reply) => {
      const actor = req.actor ?? null;
      const r = await services.invitations.accept(req.params.token, req.body ?? {}, actor, req.ip);
      if (r.session) {
        if (req.sessionToken) await services.users.logout(req.sessionToken);
        reply.setCookie(SESSION_COOKIE, r.session.token, { ...cookieOpts, expires: new Date(r.session.expiresAt) });
      }
      return { project: { slug: r.slug }, role: r.role, accountCreated: r.session !== undefined, ...(r.session ? { csrfToken: r.session.csrfToken } : {}) };
    },
  );
};
