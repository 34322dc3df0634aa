// Single sign-on against a real OpenID provider (oidc-provider on 127.0.0.1), driven through
// Chromium: an invited person signs in with SSO (the account is created) and accepts; a first SSO
// sign-in gives no project access; a wrong state, a replayed code, an unverified email and a domain
// that is not allowed are refused with one clear page and create nothing; KEYLOFT_SSO_ONLY turns
// password sign-in off.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Running } from '../../src/cli/serve.js';
import type { Api } from '../helpers/client.js';
import { createStore, type TestStore } from '../helpers/server.js';
import { browserSkip, flashText, launch } from '../e2e/browser.js';
import { startIdp, type TestIdp } from './oidc-provider.js';
import { acceptAnon, openStoreDb, startPeopleServer, tokenOf } from './support.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A fresh browser context that may talk to 127.0.0.1 only (the provider's page imports a web font: refused). */
async function loopbackContext(browser: Browser): Promise<BrowserContext> {
  const ctx = await browser.newContext();
  await ctx.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    return host === '127.0.0.1' || host === 'localhost' ? route.continue() : route.abort();
  });
  return ctx;
}

/** On the provider's development pages: sign in as `login` (any password), then consent if asked. */
async function idpSignIn(page: Page, login: string): Promise<void> {
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.waitForLoadState('load');
  const consent = page.getByRole('button', { name: 'Continue' });
  if ((await consent.count()) > 0) await consent.click();
}

describe('single sign-on (real OpenID provider on 127.0.0.1, through Chromium)', { skip: browserSkip() }, () => {
  let store: TestStore;
  let idp: TestIdp;
  let running: Running | undefined;
  let own: ReturnType<typeof openStoreDb>;
  let url: string;
  let admin: Api;
  let browser: Browser;
  let ssoEnv: Record<string, string>;
  const slug = `sso-${randomBytes(3).toString('hex')}`;
  let recordedCallback: string | undefined;

  const db = () => own.db;
  const userByEmail = (email: string) => db().selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    idp = await startIdp(`${url}/sso/callback`);
    store = await createStore('sqlite');
    ssoEnv = {
      KEYLOFT_PORT: String(port),
      KEYLOFT_PUBLIC_URL: url,
      KEYLOFT_SSO_ISSUER: idp.issuer,
      KEYLOFT_SSO_CLIENT_ID: idp.clientId,
      KEYLOFT_SSO_CLIENT_SECRET: idp.clientSecret,
      KEYLOFT_SSO_ALLOWED_DOMAINS: 'example.com',
      KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true',
    };
    ({ running, admin } = await startPeopleServer(store, ssoEnv));
    own = openStoreDb(store);
    assert.equal(running.url, url);
    assert.equal((await admin.post('/api/v1/projects', { slug, name: 'SSO Project' })).status, 201);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await own?.close();
    await running?.close();
    await idp?.close();
    await store?.cleanup();
  });

  it('an invited person signs in with SSO (account created) and accepts the invitation with the invited role', async () => {
    const inv = await admin.post(`/api/v1/projects/${slug}/invitations`, { email: 'alice@example.com', role: 'member' });
    assert.equal(inv.status, 201, inv.text);
    assert.equal(await userByEmail('alice@example.com'), undefined);
    const ctx = await loopbackContext(browser);
    try {
      const page = await ctx.newPage();
      page.on('request', (r) => {
        if (r.url().startsWith(`${url}/sso/callback?`)) recordedCallback = r.url();
      });
      await page.goto(inv.body.url);
      await page.getByRole('link', { name: 'Sign in with SSO to accept' }).click();
      await page.waitForURL((u) => u.href.startsWith(idp.issuer));
      await idpSignIn(page, 'alice');
      await page.waitForURL(`${url}/invitations/${tokenOf(inv.body.url)}`);
      assert.ok(await userByEmail('alice@example.com'), 'the first SSO sign-in created the account');
      await page.getByRole('button', { name: /Accept and open SSO Project/ }).click();
      await page.waitForURL(`${url}/projects/${slug}`);
      assert.equal(await flashText(page), `Welcome to ${slug}: you joined as member.`);
      const projects = await page.evaluate(async () => (await fetch('/api/v1/projects')).json());
      assert.deepEqual(
        projects.projects.map((p: { slug: string; role: string }) => [p.slug, p.role]),
        [[slug, 'member']],
      );
    } finally {
      await ctx.close();
    }
    assert.ok(recordedCallback, 'the provider returned to /sso/callback');
  });

  it('a first SSO sign-in from the login page creates an account with no project access', async () => {
    const ctx = await loopbackContext(browser);
    try {
      const page = await ctx.newPage();
      await page.goto(`${url}/login`);
      await page.getByRole('link', { name: 'Sign in with SSO' }).click();
      await idpSignIn(page, 'carol');
      await page.waitForURL(`${url}/projects`);
      const projects = await page.evaluate(async () => (await fetch('/api/v1/projects')).json());
      assert.deepEqual(projects.projects, []);
      const carol = await userByEmail('carol@example.com');
      assert.ok(carol);
      const memberships = await db().selectFrom('memberships').select('project_id').where('user_id', '=', carol.id).execute();
      assert.deepEqual(memberships, []);
      assert.equal(await page.evaluate(async (s) => (await fetch(`/api/v1/projects/${s}`)).status, slug), 404);
    } finally {
      await ctx.close();
    }
  });

  for (const [login, why] of [
    ['unverified', /has not verified your email address/],
    ['stranger', /not open to addresses at elsewhere\.test/],
  ] as const) {
    it(`refuses ${login === 'unverified' ? 'an unverified email' : 'a domain that is not allowed'} with one clear page, and creates nothing`, async () => {
      const ctx = await loopbackContext(browser);
      try {
        const page = await ctx.newPage();
        await page.goto(`${url}/login`);
        await page.getByRole('link', { name: 'Sign in with SSO' }).click();
        await idpSignIn(page, login);
        await page.waitForURL((u) => u.href.startsWith(`${url}/sso/callback`));
        assert.equal(await page.locator('h1').innerText(), 'Could not sign you in');
        assert.match(await page.locator('main').innerText(), why);
        const cookies = await ctx.cookies(url);
        assert.ok(!cookies.some((c) => c.name === 'keyloft_session'), 'no session');
      } finally {
        await ctx.close();
      }
      assert.equal(await userByEmail(login === 'unverified' ? 'unverified@example.com' : 'stranger@elsewhere.test'), undefined);
    });
  }

  /**
   * Signs in at the provider without a browser (its development pages, followed by hand with a
   * cookie jar), from a keyloft attempt started with `keyloftCookie`: the provider's answer (the
   * callback URL with a real code), not yet delivered to keyloft.
   */
  async function providerAnswer(authorizationUrl: string, login: string): Promise<URL> {
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let next: URL = new URL(authorizationUrl);
    let body: URLSearchParams | undefined;
    for (let hop = 0; hop < 20; hop++) {
      const res = await fetch(next, {
        method: body ? 'POST' : 'GET',
        headers: { cookie: cookie(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body,
        redirect: 'manual',
      });
      keep(res);
      body = undefined;
      const location = res.headers.get('location');
      if (location) {
        const to = new URL(location, next);
        if (to.href.startsWith(`${url}/sso/callback`)) return to;
        next = to;
        continue;
      }
      // A page of the provider: its login or consent form.
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      assert.ok(action, `the provider page has a form: ${html.slice(0, 200)}`);
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1] ?? 'login';
      body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt });
      next = new URL(action.replace(/&amp;/g, '&'), next);
    }
    throw new Error('the provider did not answer within 20 steps');
  }

  it('refuses a real code whose state was changed on the way back (the attempt of the same browser)', async () => {
    const attempt = await fetch(`${url}/sso/login`, { redirect: 'manual' });
    const cookie = attempt.headers.get('set-cookie')!.split(';')[0]!;
    const answer = await providerAnswer(attempt.headers.get('location')!, 'alice');
    assert.ok(answer.searchParams.get('code'), answer.href);
    answer.searchParams.set('state', 'x'.repeat(43));
    const r = await fetch(answer, { headers: { cookie }, redirect: 'manual' });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /could not be verified/);
    assert.ok(!(r.headers.get('set-cookie') ?? '').includes('keyloft_session='), 'no session');
  });

  it('the same answer with its own state signs in (so the refusal above was the state)', async () => {
    const attempt = await fetch(`${url}/sso/login`, { redirect: 'manual' });
    const cookie = attempt.headers.get('set-cookie')!.split(';')[0]!;
    const answer = await providerAnswer(attempt.headers.get('location')!, 'alice');
    const r = await fetch(answer, { headers: { cookie }, redirect: 'manual' });
    assert.equal(r.status, 303, await r.text());
    assert.match(r.headers.get('set-cookie') ?? '', /keyloft_session=/);
  });

  /** Starts an attempt as a browser would: its cookie and the state it sent to the provider. */
  async function startAttempt(): Promise<{ cookie: string; state: string }> {
    const res = await fetch(`${url}/sso/login`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.ok(location.href.startsWith(idp.issuer));
    assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(location.searchParams.get('nonce'));
    return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, state: location.searchParams.get('state')! };
  }

  it('gives a disabled account no session through single sign-on', async () => {
    await db().updateTable('users').set({ disabled_at: Date.now() }).where('email', '=', 'carol@example.com').execute();
    const attempt = await fetch(`${url}/sso/login`, { redirect: 'manual' });
    const cookie = attempt.headers.get('set-cookie')!.split(';')[0]!;
    const answer = await providerAnswer(attempt.headers.get('location')!, 'carol');
    const r = await fetch(answer, { headers: { cookie }, redirect: 'manual' });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /disabled/);
    assert.ok(!(r.headers.get('set-cookie') ?? '').includes('keyloft_session='), 'no session');
  });

  it("refuses a callback with a wrong state, and one without this browser's attempt", async () => {
    const { cookie } = await startAttempt();
    const wrong = await fetch(`${url}/sso/callback?code=made-up&state=${'x'.repeat(43)}`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /could not be verified/);
    assert.ok(!(wrong.headers.get('set-cookie') ?? '').includes('keyloft_session='));
    const noCookie = await fetch(`${url}/sso/callback?code=made-up&state=whatever`, { redirect: 'manual' });
    assert.equal(noCookie.status, 401);
    assert.match(await noCookie.text(), /unknown, expired or already used/);
  });

  it('refuses a replayed code: as it was (attempt used), and inside a fresh attempt (code used, PKCE verifier differs)', async () => {
    assert.ok(recordedCallback);
    const asIs = await fetch(recordedCallback, { redirect: 'manual' });
    assert.equal(asIs.status, 401);
    const { cookie, state } = await startAttempt();
    const replay = new URL(recordedCallback);
    replay.searchParams.set('state', state);
    const r = await fetch(replay, { headers: { cookie }, redirect: 'manual' });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /could not be verified/);
    assert.ok(!(r.headers.get('set-cookie') ?? '').includes('keyloft_session='));
    const failures = await db().selectFrom('audit_events').select('detail').where('action', '=', 'session.sso_failed').execute();
    assert.ok(failures.length >= 5, `audited refusals: ${failures.length}`);
  });

  it('with KEYLOFT_SSO_ONLY=true, people cannot sign in or accept an invitation with a password', async () => {
    const inv = await admin.post(`/api/v1/projects/${slug}/invitations`, { email: 'dave@example.com', role: 'viewer' });
    await running!.close();
    running = undefined;
    const { loadConfig } = await import('../../src/config.js');
    const { startServer } = await import('../../src/cli/serve.js');
    const { storeEnv } = await import('../helpers/server.js');
    running = await startServer(loadConfig(storeEnv(store, { KEYLOFT_LOG_LEVEL: 'silent', ...ssoEnv, KEYLOFT_SSO_ONLY: 'true' })), { print: () => {} });
    // A kept-alive connection to the server just closed may be reused once: the first request retries on that.
    await fetch(`${url}/healthz`).catch(() => fetch(`${url}/healthz`));
    const login = await fetch(`${url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: 'correct horse battery staple' }),
    });
    assert.equal(login.status, 403);
    assert.equal(((await login.json()) as { error: { code: string } }).error.code, 'sso_only');
    const page = await (await fetch(`${url}/login`)).text();
    assert.ok(!page.includes('type="password"'), 'no password field on the login page');
    assert.match(page, /Sign in with SSO/);
    const invitePage = await (await fetch(inv.body.url)).text();
    assert.ok(!invitePage.includes('type="password"'), 'no password form on the invitation page');
    const accept = await acceptAnon(url, tokenOf(inv.body.url), { password: 'a long new password' });
    assert.equal(accept.status, 403);
    assert.equal(accept.body.error.code, 'sso_only');
    assert.equal(await userByEmail('dave@example.com'), undefined);
  });
});
