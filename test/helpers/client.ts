import assert from 'node:assert/strict';

/** Where a client sends requests: a spawned server (real fetch) or an in-process app (`fetch` over inject). */
export interface Target {
  url: string;
  setupToken: string | undefined;
  fetch?: typeof fetch;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** Every response body seen by tests, for the "no value in any response" scan. */
export const seenBodies: string[] = [];

/** A small JSON client for the keyloft API. */
export class Api {
  constructor(
    readonly baseUrl: string,
    public token?: string,
    readonly transport: typeof fetch = fetch,
  ) {}

  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    opts: { contentType?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      payload = typeof body === 'string' && opts.contentType ? body : JSON.stringify(body);
    }
    const res = await this.transport(`${this.baseUrl}${path}`, { method, headers, body: payload });
    const text = await res.text();
    seenBodies.push(text);
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown, opts?: { contentType?: string }) {
    return this.call<T>('POST', path, body, opts);
  }
  put<T = any>(path: string, body?: unknown) {
    return this.call<T>('PUT', path, body);
  }
  delete<T = any>(path: string) {
    return this.call<T>('DELETE', path);
  }
  with(token: string | undefined): Api {
    return new Api(this.baseUrl, token, this.transport);
  }
}

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'correct horse battery staple';

/** Runs first-run setup on a fresh server and returns an API client with a personal token. */
export async function bootstrap(server: Target): Promise<Api> {
  const anon = new Api(server.url, undefined, server.fetch);
  if (!server.setupToken) throw new Error('server printed no setup token');
  const s = await anon.post('/api/v1/setup', { setupToken: server.setupToken, email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  if (s.status !== 201) throw new Error(`setup failed: ${s.text}`);
  return loginToken(server, ADMIN_EMAIL, ADMIN_PASSWORD);
}

/** Signs in with email and password and returns a client holding a new personal API token. */
export async function loginToken(server: Target, email: string, password: string): Promise<Api> {
  const fetch = server.fetch ?? globalThis.fetch;
  const res = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const t = await fetch(`${server.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ name: `test-${Math.random().toString(36).slice(2, 8)}` }),
  });
  if (t.status !== 201) throw new Error(`token creation failed: ${t.status} ${await t.text()}`);
  return new Api(server.url, ((await t.json()) as { token: string }).token, server.fetch);
}

/** Creates a user through the API (as an instance admin) and returns a client signed in as them. */
export async function createUser(server: Target, admin: Api, email: string, password = 'another long password'): Promise<Api> {
  const r = await admin.post('/api/v1/users', { email, password });
  if (r.status !== 201) throw new Error(`user creation failed: ${r.text}`);
  return loginToken(server, email, password);
}

/** Gives `email` the project's release grant (a person needs it to start a deployment; off by default, admins too). */
export async function grantRelease(api: Api, slug: string, email = ADMIN_EMAIL): Promise<void> {
  const r = await api.call('PATCH', `/api/v1/projects/${encodeURIComponent(slug)}/members/${encodeURIComponent(email)}`, { release: true });
  if (r.status !== 200) throw new Error(`release grant failed: ${r.status} ${r.text}`);
}

/** A signed-in browser session: the session cookie (name=value) and the CSRF token (JSON sign-in; status 200 asserted). */
export async function webSession(server: Target, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<{ cookie: string; csrf: string }> {
  const fetch = server.fetch ?? globalThis.fetch;
  const res = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: csrfToken };
}

/** Asserts the error envelope `{ error: { code, message, field } }`. */
export function assertError(res: { status: number; body: any; text: string }, status: number, code: string, field?: string | null): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text.slice(0, 300)}`);
  assert.equal(typeof res.body?.error, 'object', res.text);
  assert.equal(res.body.error.code, code, res.text);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
  assert.ok('field' in res.body.error, 'error has no field key');
  if (field !== undefined) assert.equal(res.body.error.field, field, res.text);
}

/** A raw sign-in (any answer, recorded in `seenBodies`); returns status, the session cookie (name=value) and the CSRF token. */
export async function signIn(server: Target, email: string, password: string, cookie?: string) {
  const fetch = server.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (cookie) headers.cookie = cookie;
  const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers, body: JSON.stringify({ email, password }) });
  const text = await res.text();
  seenBodies.push(text);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = text ? JSON.parse(text) : undefined;
  return { status: res.status, body, text, setCookie, cookie: setCookie.split(';')[0] ?? '', csrf: body?.csrfToken as string | undefined };
}
