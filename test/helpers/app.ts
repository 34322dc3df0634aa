import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { type TestServices, type TestServicesOptions, testServices } from './services.js';

export interface InjectReply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever JSON the route answered
  body: any;
}

export interface TestApp extends TestServices {
  app: FastifyInstance;
  /** One request through `app.inject` (no socket); a bearer token and a JSON body are optional. */
  request(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<InjectReply>;
  /** A new user with a personal API token; returns the actor and the token. */
  userWithToken(email: string, opts?: { admin?: boolean }): Promise<{ actor: Awaited<ReturnType<TestServices['user']>>; token: string }>;
}

/** `buildApp` for one role over the in-process test services; closed (app, then services) when the test ends. */
export async function testApp(t: Pick<TestContext, 'after'>, opts: TestServicesOptions = {}): Promise<TestApp> {
  const ts = await testServices(t, opts);
  const app = await buildApp({ config: ts.config, services: ts.services, clock: ts.clock });
  t.after(() => app.close());
  return {
    ...ts,
    app,
    async request(method, url, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(o.body === undefined ? {} : typeof o.body === 'string' ? { payload: o.body } : { payload: JSON.stringify(o.body), headers: { ...headers, 'content-type': 'application/json' } }),
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
