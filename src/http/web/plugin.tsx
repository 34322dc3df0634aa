import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { KeyloftError, ValidationError } from '../../domain/errors.js';
import type { Services } from '../../services/container.js';
import { checkCsrf, SESSION_COOKIE } from '../plugins/auth.js';
import { errorStatus, isStorageError } from '../plugins/errors.js';
import { ASSETS } from './assets.js';
import { checkPreCsrf, formBody, formErrors, html, preToken, queryOf, safeNext, seeOther, setFlash, takeFlash, type WebDeps, type WebOptions } from './kit.js';
import { ErrorPage, LoginPage, SetupPage } from './pages/auth.js';
import { accountRoutes } from './routes/account.js';
import { ciIdentityRoutes } from './routes/ci-identity.js';
import { invitationPages } from './routes/invitations.js';
import { ssoRoutes } from './routes/sso.js';
import { projectRoutes } from './routes/projects.js';
import { settingsRoutes } from './routes/settings.js';
import { userPages } from './routes/users.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A web page that signed-out visitors may see (login, setup, assets). */
    webPublic?: boolean;
    /** Per-address rate limit (see app.ts). */
    rateLimited?: boolean;
  }
}

const SESSION_ENDED = { kind: 'info', text: 'Your session ended. Sign in again to go back to the page you were on.' } as const;

/** The path and query of a same-origin Referer (the page a form was on), or undefined. */
function sameOriginPath(referer: string | undefined, req: FastifyRequest): string | undefined {
  if (!referer) return undefined;
  try {
    const u = new URL(referer);
    return u.host === req.headers.host ? `${u.pathname}${u.search}` : undefined;
  } catch {
    return undefined;
  }
}

const ERROR_TITLES: Record<number, string> = {
  400: 'That did not work',
  401: 'Could not sign you in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  410: 'Invitation not valid',
  413: 'Too large',
  429: 'Slow down',
  503: 'Temporarily unavailable',
  507: 'Storage full',
};

/** The web dashboard: server-rendered pages, forms that work without JavaScript. */
export function webPlugin(ctx: { config: Config; services: Services; clock: () => number }) {
  return async function web(app: FastifyInstance): Promise<void> {
    const { services, config } = ctx;
    const opts: WebOptions = {
      publicUrl: config.publicUrl,
      secureCookies: config.publicUrl?.startsWith('https:') ?? false,
      clock: ctx.clock,
    };
    const deps: WebDeps = { services, opts, reseal: services.reseal };
    const ssoOn = services.sso !== undefined;
    const sessionCookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: opts.secureCookies };

    // Pages need a signed-in person; every unsafe request passes the CSRF check before its handler runs.
    app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.routeOptions.config.webPublic) return;
      if (!req.actor || req.actor.kind !== 'user') {
        // A session cookie the server no longer accepts: the session ended (expired, or signed out elsewhere).
        const ended = req.cookies[SESSION_COOKIE] !== undefined;
        if (ended) reply.clearCookie(SESSION_COOKIE, sessionCookie);
        // Back to this page after signing in; after a form submit, to the page the form was on.
        const back = req.method === 'GET' ? req.url : (sameOriginPath(req.headers.referer, req) ?? req.url);
        const q = new URLSearchParams({ next: safeNext(back) });
        if (ended) q.set('ended', '1');
        return seeOther(reply, `/login?${q.toString()}`);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        if (req.csrfToken === null) throw new KeyloftError('csrf_failed', 'forms need a browser session; sign in again');
        checkCsrf(req, opts.publicUrl);
      }
    });

    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
      let status = errorStatus(err);
      let message = err instanceof KeyloftError ? err.message : 'Something went wrong on our side. The error was logged.';
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        status = 413;
        message = 'The form was too large to accept.';
      } else if (!(err instanceof KeyloftError) && status < 500) {
        message = 'The request could not be understood.';
      }
      // A storage outage is logged once when it starts (cli/serve.ts), not once per page.
      if (status >= 500 && !isStorageError(err)) req.log.error({ err: { type: err.name, code: err.code, stack: err.stack } }, 'page failed');
      const title = err instanceof KeyloftError && err.code === 'csrf_failed' ? 'Form expired' : (ERROR_TITLES[status] ?? 'Something went wrong');
      return html(reply, <ErrorPage status={status} title={title} message={message} signedIn={!!req.actor} />, status);
    });

    // ---- assets ----
    // Files from src/http/web/assets/ (see assets.ts). Hashed URLs are immutable for a year;
    // the stable names and the favicon revalidate with the ETag (the same content hash).
    const assetOpts = { config: { webPublic: true } };
    const CACHE_BY_URL = new Map<string, string>();
    const serve = (path: string, a: (typeof ASSETS)[keyof typeof ASSETS], cache: string) => {
      CACHE_BY_URL.set(path, cache);
      app.get(path, assetOpts, async (req, reply) => {
        reply.header('etag', a.etag);
        if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
        return reply.type(a.type).send(a.body);
      });
    };
    for (const a of Object.values(ASSETS)) serve(a.path, a, 'public, max-age=31536000, immutable');
    serve('/assets/app.css', ASSETS.css, 'no-cache');
    serve('/assets/app.js', ASSETS.js, 'no-cache');
    serve('/favicon.ico', ASSETS.icon, 'public, max-age=86400');
    // app.ts's onSend sets no-store on every response; assets get their own caching instead.
    app.addHook('onSend', async (req, reply, payload) => {
      const cache = CACHE_BY_URL.get(req.url.split('?')[0] ?? '');
      if (cache && (reply.statusCode === 200 || reply.statusCode === 304)) reply.header('cache-control', cache);
      return payload;
    });

    // ---- home, setup, sign-in, sign-out ----
    app.get('/', { config: { webPublic: true } }, async (req, reply) => {
      if (await services.users.needsSetup()) return seeOther(reply, '/setup');
      return seeOther(reply, req.actor?.kind === 'user' ? '/projects' : '/login');
    });

    app.get('/setup', { config: { webPublic: true } }, async (req, reply) => {
      if (!(await services.users.needsSetup())) return seeOther(reply, '/login');
      return html(reply, <SetupPage pre={preToken(req, reply, opts)} />);
    });

    app.post('/setup', { config: { webPublic: true, rateLimited: true } }, async (req, reply) => {
      if (!(await services.users.needsSetup())) return seeOther(reply, '/login');
      checkPreCsrf(req, opts.publicUrl);
      const f = formBody(req);
      try {
        if ((f.password ?? '') !== (f.password2 ?? '')) throw new ValidationError('password2', 'the two passwords do not match');
        const s = await services.users.setup({ setupToken: f.setupToken ?? '', email: f.email ?? '', password: f.password ?? '' }, req.ip);
        if (req.sessionToken) await services.users.logout(req.sessionToken);
        reply.setCookie(SESSION_COOKIE, s.token, { ...sessionCookie, expires: new Date(s.expiresAt) });
        setFlash(reply, opts, 'welcome');
        return seeOther(reply, '/projects');
      } catch (err) {
        const errors = formErrors(err);
        return html(reply, <SetupPage pre={preToken(req, reply, opts)} email={f.email} errors={errors} />, errorStatus(err));
      }
    });

    app.get('/login', { config: { webPublic: true } }, async (req, reply) => {
      if (await services.users.needsSetup()) return seeOther(reply, '/setup');
      const q = queryOf(req);
      if (req.actor?.kind === 'user') return seeOther(reply, safeNext(q.next));
      const next = q.next ? safeNext(q.next) : undefined;
      const flash = takeFlash(req, reply, opts) ?? (q.ended === '1' ? SESSION_ENDED : undefined);
      return html(reply, <LoginPage pre={preToken(req, reply, opts)} next={next} flash={flash} sso={ssoOn} ssoOnly={config.ssoOnly} />);
    });

    app.post('/login', { config: { webPublic: true, rateLimited: true } }, async (req, reply) => {
      checkPreCsrf(req, opts.publicUrl);
      const f = formBody(req);
      const next = f.next ? safeNext(f.next) : undefined;
      try {
        const s = await services.users.login(f.email ?? '', f.password ?? '', req.ip);
        // A new session id at every sign-in; the old session (if any) ends.
        if (req.sessionToken) await services.users.logout(req.sessionToken);
        reply.setCookie(SESSION_COOKIE, s.token, { ...sessionCookie, expires: new Date(s.expiresAt) });
        return seeOther(reply, next ?? '/projects');
      } catch (err) {
        const errors = formErrors(err, () => undefined);
        return html(
          reply,
          <LoginPage pre={preToken(req, reply, opts)} email={f.email} next={next} errors={errors} sso={ssoOn} ssoOnly={config.ssoOnly} />,
          errorStatus(err),
        );
      }
    });

    app.post('/logout', async (req, reply) => {
      if (req.sessionToken) await services.users.logout(req.sessionToken);
      reply.clearCookie(SESSION_COOKIE, sessionCookie);
      setFlash(reply, opts, 'signed_out');
      return seeOther(reply, '/login');
    });

    await projectRoutes(app, deps);
    await settingsRoutes(app, deps);
    await ciIdentityRoutes(app, deps);
    await accountRoutes(app, deps);
    await userPages(app, deps);
    await invitationPages(app, deps, { enabled: config.sso !== undefined, only: config.ssoOnly });
    await ssoRoutes(app, deps, services.sso);
  };
}
