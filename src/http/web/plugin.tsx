import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { KeyloftError, ValidationError } from '../../domain/errors.js';
import type { Services } from '../../services/container.js';
import { checkCsrf, SESSION_COOKIE } from '../plugins/auth.js';
import { errorStatus } from '../plugins/errors.js';
import { APP_CSS, APP_JS, ASSETS, LOGO_SVG } from './assets.js';
import { checkPreCsrf, formBody, formErrors, html, preToken, queryOf, safeNext, seeOther, setFlash, takeFlash, type WebDeps, type WebOptions } from './kit.js';
import { ErrorPage, LoginPage, SetupPage } from './pages/auth.js';
import { accountRoutes } from './routes/account.js';
import { ciIdentityRoutes } from './routes/ci-identity.js';
import { projectRoutes } from './routes/projects.js';
import { settingsRoutes } from './routes/settings.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A web page that signed-out visitors may see (login, setup, assets). */
    webPublic?: boolean;
    /** Per-address rate limit (see app.ts). */
    rateLimited?: boolean;
  }
}

const ERROR_TITLES: Record<number, string> = {
  400: 'That did not work',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  429: 'Slow down',
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
    const sessionCookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: opts.secureCookies };

    // Pages need a signed-in person; every unsafe request passes the CSRF check before its handler runs.
    app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.routeOptions.config.webPublic) return;
      if (!req.actor || req.actor.kind !== 'user') {
        const next = req.method === 'GET' ? `?next=${encodeURIComponent(req.url)}` : '';
        return seeOther(reply, `/login${next}`);
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
      if (status >= 500) req.log.error({ err: { type: err.name, code: err.code, stack: err.stack } }, 'page failed');
      const title = err instanceof KeyloftError && err.code === 'csrf_failed' ? 'Form expired' : (ERROR_TITLES[status] ?? 'Something went wrong');
      return html(reply, <ErrorPage status={status} title={title} message={message} signedIn={!!req.actor} />, status);
    });

    // ---- assets ----
    const assetOpts = { config: { webPublic: true } };
    for (const a of Object.values(ASSETS)) {
      app.get(a.path, assetOpts, async (_req, reply) =>
        reply.header('cache-control', 'public, max-age=31536000, immutable').type(a.type).send(a.body),
      );
    }
    // Stable names too (no long cache: their content changes with releases).
    app.get('/assets/app.css', assetOpts, async (_req, reply) => reply.type(ASSETS.css.type).send(APP_CSS));
    app.get('/assets/app.js', assetOpts, async (_req, reply) => reply.type(ASSETS.js.type).send(APP_JS));
    app.get('/favicon.ico', assetOpts, async (_req, reply) => reply.header('cache-control', 'public, max-age=86400').type(ASSETS.icon.type).send(LOGO_SVG));
    // helmet's onSend sets no-store for every response from app.ts; restore caching for assets.
    app.addHook('onSend', async (req, reply, payload) => {
      if (req.url.startsWith('/assets/app.') && reply.statusCode === 200 && /\.[0-9a-f]{12}\./.test(req.url)) {
        reply.header('cache-control', 'public, max-age=31536000, immutable');
      }
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
      return html(reply, <LoginPage pre={preToken(req, reply, opts)} next={next} flash={takeFlash(req, reply, opts)} />);
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
        return html(reply, <LoginPage pre={preToken(req, reply, opts)} email={f.email} next={next} errors={errors} />, errorStatus(err));
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
  };
}
