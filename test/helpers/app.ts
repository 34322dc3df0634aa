import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { fakeClock, type TestServices, type TestServicesOptions, testServices } from './services.js';

export interface InjectReply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever JSON the route answered
  body: any;
}

export interface TestApp extends TestServices {
  app: FastifyInstance;
  /** The base URL requests name (never listened on: `fetch` below goes through `app.inject`). */
  url: string;
  /** A `fetch` that answers through `app.inject`: no socket, the same requests and replies. */
  fetch: typeof fetch;
  /** The one-time setup token, as `keyloft serve` prints it on an empty database. */
  setupToken: string | undefined;
  /** One request through `app.inject`; a bearer token and a JSON body are optional. */
  request(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<InjectReply>;
  /** A new user with a personal API token; returns the actor and the token. */
  userWithToken(email: string, opts?: { admin?: boolean }): Promise<{ actor: Awaited<ReturnType<TestServices['user']>>; token: string }>;
  /** Closes the app, then the services (done by `t.after` when a test context was given). */
  stop(): Promise<void>;
}

const URL_BASE = 'http://127.0.0.1:8080';

/** `fetch` over `app.inject`: the request's method, path, headers and body; the reply as a Response. */
function injectFetch(app: FastifyInstance): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const u = new URL(String(input));
    const headers: Record<string, string> = { host: u.host };
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const res = await app.inject({
      method: (init.method ?? 'GET') as 'GET',
      url: `${u.pathname}${u.search}`,
      headers,
      ...(init.body === undefined || init.body === null ? {} : { payload: init.body as string }),
    });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (Array.isArray(v)) for (const x of v) out.append(k, String(x));
      else if (v !== undefined) out.set(k, String(v));
    }
    return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers: out });
  }) as typeof fetch;
}

/**
 * `buildApp` for one role over the in-process test services (in-memory SQLite by default);
 * closed (app, then services) when the test ends, or by `stop()` when no test context is given.
 */
export async function testApp(t: Pick<TestContext, 'after'> | undefined, opts: TestServicesOptions = {}): Promise<TestApp> {
  // A clock that moves on at every reading, as a real one does between requests.
  const ts = await testServices(undefined, { clock: fakeClock(undefined, { tick: 1 }), ...opts });
  let app: FastifyInstance;
  try {
    app = await buildApp({ config: ts.config, services: ts.services, clock: ts.clock, ...(ts.poolStats ? { poolStats: ts.poolStats } : {}) });
  } catch (err) {
    await ts.close();
    throw err;
  }
  const stop = async () => {
    await app.close();
    await ts.close();
  };
  t?.after(stop);
  const setupToken = ts.config.role === 'release' ? undefined : await ts.services.users.issueSetupToken();
  return {
    ...ts,
    app,
    url: URL_BASE,
    fetch: injectFetch(app),
    setupToken,
    stop,
    async request(method, url, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(o.body === undefined
          ? {}
          : typeof o.body === 'string'
            ? { payload: o.body }
            : { payload: JSON.stringify(o.body), headers: { ...headers, 'content-type': 'application/json' } }),
      });
      let body: unknown;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, headers: res.headers, text: res.body, body };
    },
    async userWithToken(email, o = {}) {
      const actor = await ts.user(email, o);
      const { token } = await ts.services.users.createTokenFor(email, 'test');
      return { actor, token };
    },
  };
}

/**
 * Moves the app's clock to `expiresAt` (an instant the API answered, e.g. a deployment's
 * `expiresAt`), as if the token's lifetime had run out: no SQL, the services read the clock.
 */
export function expireDeployment(server: Pick<TestApp, 'clock'>, expiresAt: string): void {
  // Exactly to the instant (a token is refused from its expiry on): a deployment started later, with a
  // later expiry, still runs.
  server.clock.advance(Math.max(0, Date.parse(expiresAt) - server.clock()));
}
