import '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KeyloftError, UnauthenticatedError } from '../../domain/errors.js';
import { safeEqual } from '../../crypto/tokens.js';
import type { Actor } from '../../services/actor.js';
import type { AuthService } from '../../services/auth.service.js';

export const SESSION_COOKIE = 'keyloft_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, once resolved (null: anonymous). */
    actor: Actor | null;
    /** The session's CSRF token when the caller came with a session cookie. */
    csrfToken: string | null;
    /** The raw session token (for logout). */
    sessionToken: string | null;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Resolves `req.actor` from a bearer token or the session cookie, once per request. */
export function registerAuth(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('csrfToken', null);
  app.decorateRequest('sessionToken', null);

  app.addHook('onRequest', async (req) => {
    const h = req.headers.authorization;
    if (h !== undefined) {
      const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(h);
      if (!m) throw new UnauthenticatedError('the Authorization header must be "Bearer <token>"');
      const actor = await auth.bearer(m[1]!, req.ip);
      if (!actor) throw new UnauthenticatedError('the token is unknown, revoked or expired');
      if (actor.kind === 'user' && actor.readOnly && UNSAFE.has(req.method)) {
        throw new KeyloftError('read_only_token', 'this API token is read-only: it cannot change anything or start a deployment; use a read-write token');
      }
      req.actor = actor;
      return;
    }
    const cookie = req.cookies[SESSION_COOKIE];
    if (cookie && cookie.length <= 512) {
      const s = await auth.session(cookie, req.ip);
      if (s) {
        req.actor = s.actor;
        req.csrfToken = s.csrfToken;
        req.sessionToken = cookie;
      }
    }
  });
}

/**
 * Refuses a request whose Origin header names another host than this server (or KEYLOFT_PUBLIC_URL).
 * `allowOpaque` lets an opaque origin ("null", sent by some browsers for signed-out form posts) through.
 */
export function checkSameOrigin(req: FastifyRequest, publicUrl: string | undefined, allowOpaque = false): void {
  const origin = req.headers.origin;
  if (origin === undefined || (allowOpaque && origin === 'null')) return;
  const expected = publicUrl ? new URL(publicUrl).host : req.headers.host;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== expected) throw new KeyloftError('csrf_failed', 'the request came from another origin');
}

/** Checks that a same-origin request came with the session's CSRF token (header or form field). */
export function checkCsrf(req: FastifyRequest, publicUrl: string | undefined): void {
  if (!UNSAFE.has(req.method) || req.csrfToken === null) return; // bearer tokens are not sent by browsers on their own
  checkSameOrigin(req, publicUrl);
  const body = req.body as Record<string, unknown> | undefined;
  const sent =
    (req.headers['x-csrf-token'] as string | undefined) ?? (body && typeof body === 'object' && typeof body._csrf === 'string' ? body._csrf : undefined);
  if (!sent || !safeEqual(sent, req.csrfToken))
    throw new KeyloftError('csrf_failed', 'the CSRF token is missing or wrong; reload the page and try again', '_csrf');
}

/** onRequest for routes that need a caller: anonymous requests get 401 before their body is parsed or validated. */
export async function requireCaller(req: FastifyRequest): Promise<void> {
  if (!req.actor) throw new UnauthenticatedError('sign in or send "Authorization: Bearer <token>"');
}

/**
 * onRequest for sign-in and setup: JSON only (a cross-site HTML form cannot send it without a
 * CORS preflight, which keyloft never grants), and a foreign or opaque ("null") Origin is refused.
 */
export function jsonOnlySameOrigin(publicUrl: string | undefined) {
  return async (req: FastifyRequest): Promise<void> => {
    checkSameOrigin(req, publicUrl);
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new KeyloftError('unsupported_media_type', 'this route takes JSON only: send Content-Type: application/json', 'body');
    }
  };
}

/** preHandler for API routes: a caller is required, and cookie callers must pass the CSRF check. */
export function requireActor(publicUrl: string | undefined) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!req.actor) throw new UnauthenticatedError('sign in or send "Authorization: Bearer <token>"');
    checkCsrf(req, publicUrl);
  };
}
