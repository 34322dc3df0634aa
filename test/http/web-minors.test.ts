/**
 * Small dashboard courtesies, each checked on the rendered page: the overview says "N pending
 * changes"; the Secrets page filters by name; the Deployments page filters by pull request and
 * pages; the audit log shows readable action names; the read-only note names your role.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api, bootstrap, createUser, webSession } from '../helpers/client.js';
import { seedProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';

describe('dashboard minors', () => {
  let server: TestApp;
  let admin: Api;
  const slug = 'minor';
  const P = `/api/v1/projects/${slug}`;
  const ids: string[] = [];

  async function page(path: string, email = 'admin@example.com', password = 'correct horse battery staple'): Promise<string> {
    const { cookie } = await webSession(server, email, password);
    const r = await server.fetch(`${server.url}${path}`, { headers: { cookie } });
    assert.equal(r.status, 200, path);
    return r.text();
  }
  const session = () => webSession(server);
  const rowsOf = (html: string) => [...html.matchAll(/href="\/projects\/minor\/deployments\/(dep_[^"?]+)"/g)].map((m) => m[1]!);

  before(async () => {
    server = await testApp(undefined, { dialect: 'sqlite' });
    admin = await bootstrap(server);
    await seedProject(admin, { slug, name: 'Minor' }, [
      { name: 'STRIPE_KEY', scope: 'production', value: 'v1' },
      { name: 'STRIPE_WEBHOOK_SECRET', scope: 'production', value: 'v2' },
      { name: 'DATABASE_URL', scope: 'production', value: 'v3' },
      { name: 'DATABASE_URL', scope: 'preview', value: 'v4' },
    ]);
    const key = (await admin.post(`${P}/deploy-keys`, { name: 'ci' })).body.token;
    const ci = new Api(server.url, key, server.fetch);
    // 52 deployments: 3 of PR 42, the rest production (newest last).
    for (let i = 0; i < 52; i++) {
      const body = i % 20 === 0 ? { environment: 'preview', pr: 42, ref: `r${i}` } : { environment: 'production', ref: `r${i}` };
      const d = await ci.post(`${P}/deployments`, body);
      assert.equal(d.status, 201, d.text);
      ids.push(d.body.id);
      await new Api(server.url, d.body.token, server.fetch).post(`/api/v1/deployments/${d.body.id}/complete`, { status: 'succeeded' });
    }
    await admin.put(`${P}/secrets/production/STRIPE_KEY`, { value: 'v1-new' });
    await createUser(server, admin, 'viewer@example.com');
    await admin.post(`${P}/members`, { email: 'viewer@example.com', role: 'viewer' });
  });
  after(async () => {
    await server?.stop();
  });

  test('the overview says how many pending changes, next to the big number', async () => {
    const html = await page(`/projects/${slug}`);
    assert.match(html, /1 pending change · of 3 secrets, at the next deployment/);
    assert.match(html, /1 secret · all deployed/);
    assert.doesNotMatch(html, /secrets · apply at the next deployment/);
  });

  test('the Secrets page filters by name, case-insensitively, keeping the environment', async () => {
    const html = await page(`/projects/${slug}/settings/secrets?env=production&q=stripe`);
    assert.match(html, />STRIPE_KEY</);
    assert.match(html, />STRIPE_WEBHOOK_SECRET</);
    assert.doesNotMatch(html, />DATABASE_URL</);
    assert.match(html, /name="q"[^>]*value="stripe"/);
    const none = await page(`/projects/${slug}/settings/secrets?q=nothing`);
    assert.match(none, /No secret names contain/);
  });

  test('the Deployments page filters by pull request and pages through older deployments', async () => {
    const first = rowsOf(await page(`/projects/${slug}/deployments`));
    assert.equal(first.length, 50);
    assert.equal(first[0], ids[51], 'newest first');
    const firstHtml = await page(`/projects/${slug}/deployments`);
    const older = /href="([^"]*before=[^"]+)"/.exec(firstHtml)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(older, 'a link to older deployments');
    const second = rowsOf(await page(older));
    assert.deepEqual(second, [ids[1], ids[0]]);
    const pr = rowsOf(await page(`/projects/${slug}/deployments?pr=42`));
    assert.deepEqual(pr, [ids[40], ids[20], ids[0]]);
    const api = await admin.get(`${P}/deployments?limit=2&before=${ids[2]}`);
    assert.deepEqual(
      api.body.deployments.map((d: { id: string }) => d.id),
      [ids[1], ids[0]],
    );
    const bad = await admin.get(`${P}/deployments?before=dep_nope`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'before');
  });

  test('the audit log shows readable action names (the code stays in the title and the API)', async () => {
    const html = await page(`/projects/${slug}/settings/audit`);
    assert.match(html, /<span title="secret.updated">Secret changed<\/span>/);
    assert.match(html, /<span title="deployment.started">Deployment started<\/span>/);
    assert.match(html, /<option value="deploy_key.created"[^>]*>Deploy key created<\/option>/);
  });

  test('a form submitted after the session ended: sign-in page says so, then back to the page the form was on', async () => {
    const { cookie, csrf } = await webSession(server);
    // The session ends while the form is open (time passes beyond the idle lifetime: every session expires).
    server.clock.advance((server.config.sessionTtlHours + 1) * 3_600_000);
    const formPage = `${server.url}/projects/${slug}/settings/secrets?env=preview`;
    const post = await server.fetch(`${server.url}/projects/${slug}/settings/secrets`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: server.url, referer: formPage, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, name: 'LATE', scope: 'production', value: 'late-value' }).toString(),
    });
    assert.equal(post.status, 303);
    const to = new URL(post.headers.get('location')!, server.url);
    assert.equal(to.pathname, '/login');
    assert.equal(to.searchParams.get('ended'), '1');
    assert.equal(to.searchParams.get('next'), `/projects/${slug}/settings/secrets?env=preview`);
    assert.ok(
      post.headers.getSetCookie().some((c) => c.startsWith('keyloft_session=;')),
      'the dead cookie is cleared',
    );
    const signIn = await (await server.fetch(to)).text();
    assert.match(signIn, /Your session ended\. Sign in again to go back to the page you were on\./);
    assert.match(signIn, new RegExp(`name="next" value="/projects/${slug}/settings/secrets\\?env=preview"`));
    assert.equal(
      (await admin.get(`${P}/secrets?scope=production`)).body.secrets.some((s: { name: string }) => s.name === 'LATE'),
      false,
      'nothing written',
    );
    // A page opened without any session (never signed in) does not claim a session ended.
    const fresh = await server.fetch(`${server.url}/projects/${slug}`, { redirect: 'manual' });
    assert.equal(new URL(fresh.headers.get('location')!, server.url).searchParams.get('ended'), null);
  });

  test('form errors stay on their page with the typed non-secret fields kept; values never come back', async () => {
    const s = await session();
    const post = (path: string, body: Record<string, string>) =>
      server.fetch(`${server.url}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: s.cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: s.csrf, ...body }).toString(),
      });
    const value = 'postgres://typed-secret-value-0001';
    const np = await post('/projects/new', {
      name: 'Checkout',
      slug: 'Bad Slug!',
      rows: '2',
      name_0: 'DATABASE_URL',
      value_0: value,
      scope_0: 'production',
      name_1: 'EMPTY_ONE',
      value_1: '',
      scope_1: 'preview',
    });
    const npHtml = await np.text();
    assert.equal(np.status, 400);
    assert.match(npHtml, /The project was not created/);
    assert.match(npHtml, /value="Checkout"/, 'the name is kept');
    assert.match(npHtml, /value="Bad Slug!"/, 'the slug as typed is kept');
    assert.match(npHtml, /value="DATABASE_URL"/, 'the key is kept');
    assert.match(npHtml, /Enter these again: DATABASE_URL \(secret 1\)\./);
    assert.doesNotMatch(npHtml, /EMPTY_ONE \(secret 2\)/, 'a row without a value need not be re-entered');
    assert.ok(!npHtml.includes(value), 'the value is not echoed');

    const copy = await post(`/projects/${slug}/settings/copy`, { from: 'production', to: 'preview', names: 'NOPE_NOT_HERE STRIPE_KEY' });
    const copyHtml = await copy.text();
    assert.notEqual(copy.status, 500);
    assert.match(copyHtml, /Add or update a secret/, 'the Secrets page itself, not an error page');
    assert.match(copyHtml, /NOPE_NOT_HERE/, 'the error names the key');
    assert.match(
      copyHtml,
      /<textarea[^>]*name="names"[^>]*>NOPE_NOT_HERE STRIPE_KEY<\/textarea>|name="names"[^>]*value="NOPE_NOT_HERE STRIPE_KEY"/,
      'the typed keys are kept',
    );
  });

  test('post/redirect/get after creating an API token or a deploy key: shown once after the redirect, a refresh creates nothing', async () => {
    const s = await session();
    const before = (await admin.get('/api/v1/tokens')).body.tokens.length;
    const post = await server.fetch(`${server.url}/account/tokens`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: s.cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: s.csrf, name: 'prg-laptop' }).toString(),
    });
    assert.equal(post.status, 303);
    assert.equal(post.headers.get('location'), '/account/tokens');
    const shown = post.headers.getSetCookie().find((c) => c.startsWith('keyloft_shown='))!;
    assert.match(shown, /Path=\/account\/tokens/);
    assert.match(shown, /HttpOnly/);
    assert.doesNotMatch(shown, /klt_/, 'the cookie holds no token in the clear');
    const sealed = shown.split(';')[0]!;
    const first = await (await server.fetch(`${server.url}/account/tokens`, { headers: { cookie: `${s.cookie}; ${sealed}` } })).text();
    const token = /klt_[A-Za-z0-9_-]+/.exec(first)?.[0];
    assert.ok(token, 'the new token is on the page after the redirect');
    assert.equal((await new Api(server.url, token, server.fetch).get('/api/v1/me')).status, 200);
    // A refresh: a GET (the POST is not repeated); the list no longer shows it, and there is one new token.
    const again = await (await server.fetch(`${server.url}/account/tokens`, { headers: { cookie: s.cookie } })).text();
    assert.ok(!again.includes(token));
    assert.equal((await admin.get('/api/v1/tokens')).body.tokens.length, before + 1);
    // The sealed cookie opens only for the session it was sealed to.
    const other = await session();
    const stolen = await (await server.fetch(`${server.url}/account/tokens`, { headers: { cookie: `${other.cookie}; ${sealed}` } })).text();
    assert.ok(!stolen.includes(token));

    const key = await server.fetch(`${server.url}/projects/${slug}/settings/deploy-keys`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: s.cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: s.csrf, name: 'prg-ci' }).toString(),
    });
    assert.equal(key.status, 303);
    assert.equal(key.headers.get('location'), `/projects/${slug}/settings/general`);
    const keyCookie = key.headers
      .getSetCookie()
      .find((c) => c.startsWith('keyloft_shown='))!
      .split(';')[0]!;
    const general = await (await server.fetch(`${server.url}/projects/${slug}/settings/general`, { headers: { cookie: `${s.cookie}; ${keyCookie}` } })).text();
    assert.match(general, /kldk_[A-Za-z0-9_-]+/);
  });

  test('a viewer is told their role and which role writing needs', async () => {
    const html = await page(`/projects/${slug}/settings/secrets`, 'viewer@example.com', 'another long password');
    assert.match(
      html,
      /You are a viewer: you see names, digests and statuses, never values\. To add or change secrets, you need the member role \(or admin\): ask an admin of this project\./,
    );
    const members = await page(`/projects/${slug}/settings/members`, 'viewer@example.com', 'another long password');
    assert.match(members, /To add or remove members, you need the admin role: ask an admin of this project\./);
  });
});
