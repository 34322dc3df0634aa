import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { KeyloftError } from '../domain/errors.js';
import type { Services } from '../services/container.js';
import { deploymentRoutes, releaseRoutes } from './api/deployments.routes.js';
import { invitationRoutes } from './api/invitations.routes.js';
import { projectRoutes } from './api/projects.routes.js';
import { resealRoutes } from './api/reseal.routes.js';
import { ErrorResponse } from './api/schemas.js';
import { secretRoutes } from './api/secrets.routes.js';
import { oidcRoutes, trustPolicyRoutes } from './api/trust-policies.routes.js';
import { sessionRoutes } from './api/session.routes.js';
import { userRoutes } from './api/users.routes.js';
import { registerAuth, requireCaller } from './plugins/auth.js';
import { registerStrictBodies, strictFormParser } from './plugins/body.js';
import { errorBody, registerErrorHandler } from './plugins/errors.js';
import { lazyCompilers } from './plugins/lazy-schemas.js';
import { registerLingeringClose } from './plugins/linger.js';
import { type PoolStatsSource, registerMetrics } from './plugins/metrics.js';
import { webPlugin } from './web/plugin.js';

/** Paths of log fields that could carry a credential; values never reach logs because bodies are not logged at all. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.value',
  '*.valueBase64',
  '*.token',
  '*.idToken',
];

export interface AppOptions {
  config: Config;
  /** Built by `createServices` for the same role; the app does not close them. */
  services: Services;
  /** What the pages take as "now" (the services' clock in tests); defaults to Date.now. */
  clock?: () => number;
  /** True once a shutdown has begun: readiness fails so a load balancer stops sending. */
  draining?: () => boolean;
  /** Where log lines go (tests capture them); defaults to stdout. */
  logStream?: NodeJS.WritableStream;
  /** PostgreSQL connection-pool use, for /metrics. */
  poolStats?: PoolStatsSource;
  /** How often expired sessions, reset links and lockout rows are pruned (default 10 minutes). */
  sweepIntervalMs?: number;
}

function trustHops(n: number): (addr: string, hop: number) => boolean {
  return (_addr, hop) => hop < n;
}

/** The path of a request for the access log: no query string, and any keyloft token in it (an invitation link) redacted. */
export function logPath(url: string): string {
  return url
    .split('?')[0]!
    .slice(0, 300)
    .replace(/kl[a-z]+_[A-Za-z0-9_-]+/g, '[redacted]');
}

const pendingSchemas = new WeakMap<FastifyInstance, () => number>();

/** Compiles the route schemas an app has not compiled yet (they compile on a route's first request); returns how many. */
export function compilePendingSchemas(app: FastifyInstance): number {
  return pendingSchemas.get(app)?.() ?? 0;
}

/** Builds the Fastify server for a role, with the routes that role serves; does not listen. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config, services } = opts;
  // Validators and serializers are compiled on each route's first request, not at start (plugins/lazy-schemas.ts).
  const schemas = lazyCompilers();
  const app = Fastify({
    // Typed by Fastify for Ajv's and fast-json-stringify's own functions; these return the same ones, deferred.
    schemaController: { compilersFactory: schemas.compilersFactory as never },
    logger:
      config.logLevel === 'silent'
        ? false
        : { level: config.logLevel, redact: { paths: LOG_REDACT, censor: '[redacted]' }, ...(opts.logStream ? { stream: opts.logStream } : {}) },
    bodyLimit: config.bodyLimitBytes,
    // Slow and abusive clients (docs/OPERATIONS.md "Failure behaviour"): headers, whole request,
    // keep-alive idle and any silent connection are bounded; the checks run every second.
    requestTimeout: config.requestTimeoutS * 1000,
    keepAliveTimeout: config.keepAliveTimeoutS * 1000,
    connectionTimeout: config.idleTimeoutS * 1000,
    http: { headersTimeout: config.headersTimeoutS * 1000, requestTimeout: config.requestTimeoutS * 1000, connectionsCheckingInterval: 1000 },
    // A hop count trusts that many proxies nearest to keyloft (the addresses to their right in X-Forwarded-For).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy === false ? false : [...config.trustProxy],
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(h) ? h : randomUUID();
    },
    requestIdHeader: false,
    // One access line per request (onResponse below) instead of Fastify's two ("incoming request" + "request completed").
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: true, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 512 },
    // Errors raised before routing (e.g. a malformed percent-encoding) get the same envelope as the rest.
    frameworkErrors: (err, req, reply) => {
      const bad = (err as { code?: string }).code === 'FST_ERR_BAD_URL';
      void (reply as FastifyReply)
        .status(400)
        .send(errorBody('bad_request', bad ? 'the request URL is not valid (malformed percent-encoding)' : 'the request could not be routed', 'url', req.id));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.maxConnections = config.maxConnections;
  pendingSchemas.set(app, schemas.compilePendingSchemas);

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('cache-control', 'no-store');
  });
  // A 413 (or any answer) sent before the body was read reaches a client still writing it.
  registerLingeringClose(app);
  app.addHook('onResponse', (req, reply, done) => {
    // No headers, no body: a path and a status (paths hold names, never values).
    req.log.info({ method: req.method, url: logPath(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    done();
  });
  // Before auth: a request refused by the auth hook is still timed and counted.
  registerMetrics(app, { role: config.role, expose: config.metrics, poolStats: opts.poolStats });

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        // Only behind https: on plain http at a non-localhost name it would break assets and forms.
        upgradeInsecureRequests: config.publicUrl?.startsWith('https:') ? [] : null,
      },
    },
    frameguard: { action: 'deny' },
    hsts: config.publicUrl?.startsWith('https:') ? { maxAge: 31536000 } : false,
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: config.bodyLimitBytes, parser: strictFormParser });
  registerStrictBodies(app);
  await app.register(rateLimit, {
    global: false,
    // The plugin throws what this returns: a KeyloftError, so the one error handler answers 429 (a plain object became a 500).
    errorResponseBuilder: (_req, ctx) => new KeyloftError('rate_limited', `too many requests; try again in ${Math.ceil(ctx.ttl / 1000)} s`),
  });
  app.addSchema(ErrorResponse);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'keyloft API', version: '1', description: 'Secrets for continuous deployment. No route returns a secret value to a person.' },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'personal API token (klt_…), deploy key (kldk_…) or deploy token (kldt_…)' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'keyloft_session' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  registerErrorHandler(app);
  registerAuth(app, services.auth);

  // Route-level rate limit for sign-in and setup: in-memory per instance, on top of the
  // database lockout that holds across instances.
  app.addHook('onRoute', (route) => {
    const cfg = route.config as { rateLimited?: boolean } | undefined;
    if (cfg?.rateLimited) {
      (route.config as Record<string, unknown>).rateLimit = { max: 20, timeWindow: '1 minute' };
    }
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok', role: config.role }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const health = await services.health.check();
    if (!health.ready) return reply.status(503).send({ status: 'unavailable', reason: health.reason });
    if (opts.draining?.()) return reply.status(503).send({ status: 'unavailable', reason: 'shutting down' });
    return { status: 'ready', role: config.role };
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const routeOpts = { services, publicUrl: config.publicUrl, secureCookies: config.publicUrl?.startsWith('https:') ?? false };
  await app.register(
    async (api) => {
      // A route that needs a caller (it declares `security` for the OpenAPI document) refuses an
      // anonymous one before its body is even parsed: an anonymous caller learns nothing but 401.
      // (Route-level onRequest hooks run after the global one that resolves the caller.)
      api.addHook('onRoute', (route) => {
        const security = (route.schema as { security?: unknown[] } | undefined)?.security;
        if (!Array.isArray(security) || security.length === 0) return;
        const pre = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
        route.onRequest = [requireCaller, ...pre];
      });
      if (config.role !== 'release') {
        await api.register(sessionRoutes, routeOpts);
        await api.register(userRoutes, routeOpts);
        await api.register(projectRoutes, routeOpts);
        await api.register(secretRoutes, routeOpts);
        await api.register(deploymentRoutes, routeOpts);
        await api.register(trustPolicyRoutes, routeOpts);
        await api.register(invitationRoutes, routeOpts);
      }
      // Every role: the api role answers the value routes with 421 and the release URL.
      await api.register(releaseRoutes, { ...routeOpts, releaseUrl: config.releaseUrl });
      await api.register(resealRoutes, { ...routeOpts, releaseUrl: config.releaseUrl });
      // The exchange mints a deploy token: like the release route, it runs where the keys are (the api role answers 421).
      await api.register(oidcRoutes, {
        ...routeOpts,
        enabled: config.role !== 'api',
        releaseUrl: config.releaseUrl,
        ratePerMinute: config.oidcRateLimitPerMinute,
      });
    },
    { prefix: '/api/v1' },
  );
  if (config.role !== 'release') {
    const web = webPlugin({ config, services, clock: opts.clock ?? Date.now });
    await app.register(async (pages) => {
      // Pages are not part of the JSON API: keep them out of the OpenAPI document.
      pages.addHook('onRoute', (route) => {
        route.schema = { ...(route.schema ?? {}), hide: true };
      });
      await pages.register(web);
    });
  }
  // Expired sessions (and spent reset links, stale lockout rows) are pruned in the background;
  // the timer never keeps the process alive and stops with the server.
  const sweeper = setInterval(
    () => {
      services.users.sweep().catch((err: Error) => app.log.warn({ err: { type: err.name, message: err.message } }, 'sweep of expired sessions failed'));
    },
    opts.sweepIntervalMs ?? 10 * 60_000,
  );
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  return app;
}
