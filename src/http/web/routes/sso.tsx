import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../../domain/errors.js';
import type { SsoService } from '../../../services/sso.service.js';
import { SESSION_COOKIE } from '../../plugins/auth.js';
import { queryOf, safeNext, seeOther, type WebDeps } from '../kit.js';

/** The browser-bound cookie of one SSO attempt: the attempt's token and where to go afterwards. */
export const SSO_COOKIE = 'keyloft_sso';

/** "Sign in with SSO": GET /sso/login sends the browser to the identity provider, which returns to GET /sso/callback. */
export async function ssoRoutes(app: FastifyInstance, deps: WebDeps, sso: SsoService | undefined): Promise<void> {
  const { services, opts } = deps;
  const cookie = { path: '/sso', httpOnly: true, sameSite: 'lax' as const, secure: opts.secureCookies };
  const sessionCookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: opts.secureCookies };
  const off = () => new NotFoundError('single sign-on is not configured on this server (KEYLOFT_SSO_ISSUER)');

  app.get('/sso/login', { config: { webPublic: true, rateLimited: true } }, async (req, reply) => {
    if (!sso) throw off();
    const next = safeNext(queryOf(req).next);
    const { binding, authorizationUrl } = await sso.start();
    reply.setCookie(SSO_COOKIE, `${binding}.${Buffer.from(next, 'utf8').toString('base64url')}`, { ...cookie, maxAge: 600 });
    return seeOther(reply, authorizationUrl);
  });

  app.get('/sso/callback', { config: { webPublic: true, rateLimited: true } }, async (req, reply) => {
    if (!sso) throw off();
    const raw = req.cookies[SSO_COOKIE] ?? '';
    reply.clearCookie(SSO_COOKIE, cookie);
    const [binding, nextB64] = raw.split('.', 2);
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    const session = await sso.finish(binding || undefined, query, req.ip);
    // A new session id at every sign-in; the old session (if any) ends.
    if (req.sessionToken) await services.users.logout(req.sessionToken);
    reply.setCookie(SESSION_COOKIE, session.token, { ...sessionCookie, expires: new Date(session.expiresAt) });
    return seeOther(reply, safeNext(nextB64 ? Buffer.from(nextB64, 'base64url').toString('utf8') : undefined));
  });
}
