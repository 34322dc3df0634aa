// The web dashboard in real Chromium against the real server (SQLite):
// set-up → sign-in → project with two secrets → overwrite, history, delete → build secret →
// .env import with a multi-line value → a viewer member sees no write form and is refused →
// forged POSTs without the CSRF token are refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Api, loginToken, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { browserSkip, flashText, launch, watchConsole } from './browser.js';

const skip = browserSkip();
if (skip) console.log(skip);

const ADMIN = 'owner@example.com';
const ADMIN_PW = 'a long admin password';
const VIEWER = 'viewer@example.com';
const VIEWER_PW = 'a long viewer password';
const rnd = () => randomBytes(6).toString('hex');

// Known values; none may ever appear in a page.
const DB_URL_1 = `postgres://app:pw_${rnd()}@db/app`;
const DB_URL_2 = `postgres://app:pw2_${rnd()}@db/app\nsecond line ${rnd()}\n`;
const API_KEY = `sk_live_${rnd()}`;
const NPM_TOKEN = `npm_${rnd()}`;
const PEM = `-----BEGIN PRIVATE KEY-----\nMIIB${rnd()}\nQUFB${rnd()}\n-----END PRIVATE KEY-----\n`;
const PLAIN = `plain_${rnd()}`;
const VALUES = [DB_URL_1, DB_URL_2, API_KEY, NPM_TOKEN, PEM, PLAIN];

describe('web dashboard in Chromium (sqlite)', { skip }, () => {
  let store: TestStore;
  let server: TestServer;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const pages: string[] = [];
  let firstCookie = '';

  /** Every page's HTML is kept and scanned for values at the end. */
  async function keep(): Promise<void> {
    pages.push(await page.content());
  }

  const base = () => server.url;

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    browser = await launch();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    watchConsole(page, problems);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await store?.cleanup();
  });

  it('sends security headers: CSP without inline script or style, frame denial', async () => {
    const res = await fetch(`${base()}/login`, { redirect: 'manual' });
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  });

  it('first-run setup needs the one-time token and signs the admin in', async () => {
    await page.goto(`${base()}/`);
    assert.match(page.url(), /\/setup$/);
    await page.getByLabel('Setup token').fill('klsetup_wrong');
    await page.getByLabel('Email').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
    await page.getByLabel('Repeat password').fill(ADMIN_PW);
    await page.getByRole('button', { name: 'Create admin account' }).click();
    assert.match(page.url(), /\/setup$/);
    assert.match(await page.locator('#error-summary').innerText(), /setup token/i);
    assert.match(await page.locator('#f-setupToken-error').innerText(), /setup token/i);
    assert.equal(await page.getByLabel('Email').inputValue(), ADMIN, 'email is kept');

    await page.getByLabel('Setup token').fill(server.setupToken!);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
    await page.getByLabel('Repeat password').fill(ADMIN_PW);
    await page.getByRole('button', { name: 'Create admin account' }).click();
    await page.waitForURL(/\/projects$/);
    assert.match(await flashText(page), /admin account is ready/);
    const c = (await ctx.cookies()).find((x) => x.name === 'keyloft_session')!;
    assert.ok(c.httpOnly, 'session cookie is HttpOnly');
    assert.equal(c.sameSite, 'Lax');
    assert.equal(c.secure, false, 'plain http: no Secure flag');
    firstCookie = c.value;
    await keep();
  });

  it('signs out from the account menu and back in with a new session id', async () => {
    await page.locator('details.menu > summary').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
    assert.match(await flashText(page), /signed out/);
    // The old session is gone on the server.
    const old = await fetch(`${base()}/projects`, { headers: { cookie: `keyloft_session=${firstCookie}` }, redirect: 'manual' });
    assert.equal(old.status, 303);

    await page.goto(`${base()}/projects/new`);
    assert.match(page.url(), /\/login\?next=/);
    await page.getByLabel('Email').fill(ADMIN);
    await page.getByLabel('Password').fill('wrong password!!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.locator('#error-summary').innerText(), /email or password is wrong/);
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects\/new$/);
    const c = (await ctx.cookies()).find((x) => x.name === 'keyloft_session')!;
    assert.notEqual(c.value, firstCookie, 'a new session id at sign-in');
  });

  it('creates a project with two secrets; the slug is suggested from the name', async () => {
    await page.getByLabel('Name', { exact: true }).fill('Acme Web');
    assert.equal(await page.getByLabel('Slug').inputValue(), 'acme-web');
    // First an error (a bad key): input kept except the values, with a note next to the value field.
    await page.locator('#f-name_0').fill('DATABASE_URL');
    await page.locator('#f-value_0').fill(DB_URL_1);
    await page.locator('#f-name_1').fill('1BAD');
    await page.locator('#f-value_1').fill(API_KEY);
    await page.getByRole('button', { name: 'Create project' }).click();
    assert.match(await page.locator('#error-summary').innerText(), /must start with a letter/);
    assert.match(await page.locator('#f-name_1-error').innerText(), /must start with a letter/);
    assert.equal(await page.locator('#f-name_0').inputValue(), 'DATABASE_URL');
    assert.equal(await page.locator('#f-value_0').inputValue(), '', 'values are never sent back');
    assert.match(await page.locator('#f-value_0-hint').innerText(), /never sent back/);
    assert.equal(await page.getByLabel('Slug').inputValue(), 'acme-web');
    await keep();

    // "Add another row" (client-side with JS).
    await page.getByRole('button', { name: '+ Add another row' }).click();
    assert.equal(await page.locator('.secret-row').count(), 4);
    await page.locator('#f-value_0').fill(DB_URL_1);
    await page.locator('#f-name_1').fill('');
    await page.locator('#f-name_3').fill('API_KEY');
    await page.locator('#f-value_3').fill(API_KEY);
    await page.locator('#f-scope_3').selectOption('preview');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL(/\/projects\/acme-web$/);
    assert.match(await flashText(page), /Created project Acme Web with 2 secrets/);
    await keep();
  });

  it('lists both secrets in Project Settings → Secrets, without values', async () => {
    await page.getByRole('link', { name: 'Project Settings' }).click();
    await page.getByRole('navigation', { name: 'Project Settings' }).getByRole('link', { name: 'Secrets' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    const keys = await page.locator('table .key').allInnerTexts();
    assert.deepEqual(keys, ['API_KEY', 'DATABASE_URL'], 'sorted by key');
    const html = await page.content();
    for (const v of VALUES) assert.ok(!html.includes(v), 'no value in the page');
    assert.equal(await page.locator('.badge', { hasText: 'pending' }).count(), 2);
    // Filter by environment.
    await page.getByRole('link', { name: 'Preview', exact: true }).click();
    assert.deepEqual(await page.locator('table .key').allInnerTexts(), ['API_KEY']);
    await page.getByRole('link', { name: 'All', exact: true }).click();
    await keep();
  });

  it('overwrites a secret: "Updated …" and a new version in the history', async () => {
    await page.getByLabel('Key', { exact: true }).fill('DATABASE_URL');
    await page.getByLabel('Value', { exact: true }).fill(DB_URL_2);
    await page.getByLabel('Environment', { exact: true }).first().selectOption('production');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.equal(await flashText(page), 'Updated DATABASE_URL (production) — applies at the next deployment');
    await keep();
    await page.getByRole('link', { name: 'History of DATABASE_URL (production)' }).click();
    const versions = await page.locator('tbody tr td.primary').allInnerTexts();
    assert.equal(versions.length, 2);
    assert.match(versions[0]!, /v2/);
    assert.match(versions[0]!, /current/);
    assert.match(versions[1]!, /v1/);
    await keep();
    await page.goBack();
  });

  it('deletes a secret after confirming', async () => {
    await page.getByRole('link', { name: 'Delete API_KEY (preview)' }).click();
    assert.match(page.url(), /\/settings\/secrets\/delete\?/);
    assert.match(await page.locator('h2#del-h').innerText(), /Delete API_KEY \(preview\)\?/);
    await keep();
    await page.getByRole('button', { name: 'Delete API_KEY' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.equal(await flashText(page), 'Deleted API_KEY (preview) — removed at the next deployment');
    assert.deepEqual(await page.locator('table .key').allInnerTexts(), ['DATABASE_URL']);
  });

  it('adds a build secret on Project Settings → Build', async () => {
    await page.getByRole('navigation', { name: 'Project Settings' }).getByRole('link', { name: 'Build' }).click();
    await page.waitForURL(/\/settings\/build$/);
    const text = await page.locator('main').innerText();
    assert.match(text, /--build-secret/);
    assert.match(text, /KEYLOFT_SECRETS_DIR/);
    await page.getByLabel('Key', { exact: true }).fill('NPM_TOKEN');
    await page.getByLabel('Value', { exact: true }).fill(NPM_TOKEN);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/settings\/build$/);
    assert.equal(await flashText(page), 'Added NPM_TOKEN (build) — applies at the next deployment');
    assert.deepEqual(await page.locator('table .key').allInnerTexts(), ['NPM_TOKEN']);
    await keep();
  });

  it('imports a pasted .env with a multi-line value', async () => {
    await page.goto(`${base()}/projects/acme-web/settings/secrets`);
    // A broken file first: nothing written, the text is not sent back.
    await page.getByLabel('.env contents').fill(`GOOD=${PLAIN}\nthis line is broken\n`);
    await page.getByRole('button', { name: 'Import' }).click();
    assert.match(await page.locator('#f-dotenv-error').innerText(), /line 2/);
    assert.equal(await page.getByLabel('.env contents').inputValue(), '');
    assert.ok(!(await page.content()).includes(PLAIN));
    await keep();

    const dotenv = `# pasted\nPRIVATE_KEY="${PEM.replace(/\n/g, '\n')}"\nPLAIN=${PLAIN}\n`;
    await page.locator('select[name=scope]').last().selectOption('production');
    await page.getByLabel('.env contents').fill(dotenv);
    await page.getByRole('button', { name: 'Review import' }).click();
    // Review first: per name the change and digest; nothing is written until confirmed.
    await page.getByRole('heading', { name: 'Review import' }).waitFor();
    assert.match(await page.locator('#import-review-h').innerText(), /^2 added, 0 changed, 0 unchanged$/);
    const review = await page.locator('table').innerText();
    assert.match(review, /PRIVATE_KEY\s+added/);
    assert.match(review, /PLAIN\s+added/);
    assert.ok(!review.includes(PLAIN), 'the review table shows a value');
    await page.getByRole('button', { name: /Confirm import/ }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.equal(await flashText(page), 'Imported into production: 2 added, 0 updated, 0 unchanged — applies at the next deployment');
    assert.deepEqual(await page.locator('table .key').allInnerTexts(), ['DATABASE_URL', 'PLAIN', 'PRIVATE_KEY']);
    await keep();
  });

  it('released values are byte-for-byte what was typed and pasted', async () => {
    const api = await loginToken(server, ADMIN, ADMIN_PW);
    await grantRelease(api, 'acme-web', ADMIN);
    const d = await api.post('/api/v1/projects/acme-web/deployments', { environment: 'production' });
    assert.equal(d.status, 201, d.text);
    const r = await new Api(server.url, d.body.token).get(`/api/v1/deployments/${d.body.id}/secrets`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.runtime.DATABASE_URL, DB_URL_2, 'textarea CRLF became LF, trailing newline kept');
    assert.equal(r.body.runtime.PRIVATE_KEY, PEM);
    assert.equal(r.body.runtime.PLAIN, PLAIN);
    assert.equal(Buffer.from(r.body.build.NPM_TOKEN, 'base64').toString('utf8'), NPM_TOKEN);
    await new Api(server.url, d.body.token).post(`/api/v1/deployments/${d.body.id}/complete`, { status: 'succeeded' });

    // The deployment shows up with its pinned names and versions; statuses flip to deployed.
    await page.goto(`${base()}/projects/acme-web/deployments`);
    await page.locator(`a[href$="/deployments/${d.body.id}"]`).click();
    const pinned = await page.locator('.pinned-list').first().innerText();
    assert.match(pinned, /DATABASE_URL\s+v2/);
    await keep();
    await page.goto(`${base()}/projects/acme-web/settings/secrets?env=production`);
    assert.equal(await page.locator('.badge', { hasText: 'deployed' }).count(), 3);
    await page.goto(`${base()}/projects/acme-web`);
    await keep();
  });

  it('creates a deploy key on General (shown once), which can start a deployment; revokes it after confirming', async () => {
    await page.goto(`${base()}/projects/acme-web/settings/general`);
    await page.getByLabel('Deploy key name').fill('github-actions');
    await page.getByRole('button', { name: 'Create deploy key' }).click();
    const key = await page.locator('#new-deploy-key').inputValue();
    assert.match(key, /^kldk_/);
    const started = await new Api(server.url, key).post('/api/v1/projects/acme-web/deployments', { environment: 'preview', pr: 7 });
    assert.equal(started.status, 201, started.text);
    await page.goto(`${base()}/projects/acme-web/settings/general`);
    assert.ok(!(await page.content()).includes(key), 'shown only once');
    await page.getByRole('link', { name: 'Revoke deploy key github-actions' }).click();
    await page.getByRole('button', { name: 'Revoke deploy key' }).click();
    assert.equal(await flashText(page), 'Revoked the deploy key github-actions.');
    const after = await new Api(server.url, key).post('/api/v1/projects/acme-web/deployments', { environment: 'preview', pr: 7 });
    assert.equal(after.status, 401);
  });

  it('adds a viewer; signed in as them there is no write form and a forged POST gets 403', async () => {
    const admin = await loginToken(server, ADMIN, ADMIN_PW);
    const u = await admin.post('/api/v1/users', { email: VIEWER, password: VIEWER_PW });
    assert.equal(u.status, 201, u.text);

    // People join by invitation: the link is shown once on the Members page; they sign in and accept.
    await page.goto(`${base()}/projects/acme-web/settings/members`);
    await page.getByLabel('Email', { exact: true }).fill(VIEWER);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Invite' }).click();
    const link = await page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
    assert.match(link, /\/invitations\/klinv_[A-Za-z0-9_-]{43}$/);
    assert.match(await page.locator('#pending-h').innerText(), /Pending invitations/);
    await keep();

    await page.locator('details.menu > summary').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').fill(VIEWER);
    await page.getByLabel('Password').fill(VIEWER_PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects$/);
    await page.goto(link);
    await page.getByRole('button', { name: /^Accept and open/ }).click();
    await page.waitForURL(/\/projects\/acme-web$/);
    assert.equal(await flashText(page), 'Welcome to acme-web: you joined as viewer.');

    for (const section of ['general', 'secrets', 'build', 'members', 'audit']) {
      await page.goto(`${base()}/projects/acme-web/settings/${section}`);
      const actions = await page.locator('form[method=post]').evaluateAll((fs) => fs.map((f) => f.getAttribute('action')));
      assert.deepEqual(actions, ['/logout'], `${section}: only the sign-out form`);
      assert.equal(await page.locator('textarea').count(), 0, section);
      await keep();
    }
    // No confirmation form either.
    await page.goto(`${base()}/projects/acme-web/settings/secrets/delete?scope=production&name=PLAIN`);
    assert.match(page.url(), /\/settings\/secrets$/);

    const csrf = await page.locator('form[action="/logout"] input[name=_csrf]').inputValue();
    const forged = await page.evaluate(async (token) => {
      const res = await fetch('/projects/acme-web/settings/secrets', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: token, name: 'FORGED', value: 'x', scope: 'production' }).toString(),
      });
      return res.status;
    }, csrf);
    assert.equal(forged, 403);
    const forgedMember = await page.evaluate(async (token) => {
      const res = await fetch('/projects/acme-web/settings/members', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: token, email: 'viewer@example.com', role: 'admin' }).toString(),
      });
      return res.status;
    }, csrf);
    assert.equal(forgedMember, 403);
  });

  it('refuses a forged POST without the CSRF token (and one from another origin)', async () => {
    const status = await page.evaluate(async () => {
      const res = await fetch('/account/tokens', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=forged',
      });
      return res.status;
    });
    assert.equal(status, 403);
    const cookie = (await ctx.cookies()).find((x) => x.name === 'keyloft_session')!;
    const csrf = await page.locator('form[action="/logout"] input[name=_csrf]').inputValue();
    const cross = await fetch(`${base()}/account/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `keyloft_session=${cookie.value}`, origin: 'https://evil.example' },
      body: `_csrf=${encodeURIComponent(csrf)}&name=forged`,
      redirect: 'manual',
    });
    assert.equal(cross.status, 403);
    // A cross-site sign-in form without the pre-session token is refused too (login CSRF).
    const login = await fetch(`${base()}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=${encodeURIComponent(ADMIN)}&password=${encodeURIComponent(ADMIN_PW)}`,
      redirect: 'manual',
    });
    assert.equal(login.status, 403);
    const admin = await loginToken(server, ADMIN, ADMIN_PW);
    const tokens = await admin.get('/api/v1/tokens');
    assert.ok(!JSON.stringify(tokens.body).includes('forged'), 'nothing was created');
    const secrets = await admin.get('/api/v1/projects/acme-web/secrets');
    assert.ok(!JSON.stringify(secrets.body).includes('FORGED'));
  });

  it('creates an API token (shown once, with a copy button) and revokes it after confirming', async () => {
    await page.locator('details.menu > summary').click();
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Name').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByLabel('Your new API token').inputValue();
    assert.match(token, /^klt_/);
    assert.ok(await page.getByRole('button', { name: 'Copy' }).isVisible());
    const me = await new Api(server.url, token).get('/api/v1/me');
    assert.equal(me.body.email, VIEWER);
    await page.goto(`${base()}/account/tokens`);
    assert.ok(!(await page.content()).includes(token), 'shown only once');
    await page.getByRole('link', { name: 'Revoke laptop' }).click();
    await page.getByRole('button', { name: 'Revoke token' }).click();
    assert.equal(await flashText(page), 'Revoked the API token laptop.');
    assert.equal((await new Api(server.url, token).get('/api/v1/me')).status, 401);
  });

  it('works at 390 px wide and from the keyboard', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base()}/projects/acme-web/settings/secrets`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
    // The skip link is the first stop, and focus is visible.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.notEqual(outline, 'none');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('works without JavaScript: add-a-row round trip keeps keys (not values), create, delete after confirming', async () => {
    const noJs = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    try {
      const p = await noJs.newPage();
      await p.goto(`${base()}/login`);
      await p.getByLabel('Email').fill(ADMIN);
      await p.getByLabel('Password').fill(ADMIN_PW);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.waitForURL(/\/projects$/);
      await p.getByRole('link', { name: 'New project' }).first().click();
      await p.getByLabel('Name', { exact: true }).fill('No Script');
      await p.locator('#f-name_0').fill('FIRST');
      await p.locator('#f-value_0').fill(PLAIN);
      await p.getByRole('button', { name: '+ Add another row' }).click();
      assert.equal(await p.locator('.secret-row').count(), 4, 'the server added a row');
      assert.equal(await p.locator('#f-name_0').inputValue(), 'FIRST');
      assert.equal(await p.locator('#f-value_0').inputValue(), '', 'the value is not sent back');
      assert.match(await p.locator('#f-value_0-hint').innerText(), /never sent back/);
      assert.equal(await p.getByLabel('Slug').inputValue(), 'no-script', 'slug suggested by the server');
      pages.push(await p.content());
      await p.locator('#f-value_0').fill(PLAIN);
      await p.locator('#f-name_3').fill('FOURTH');
      await p.locator('#f-value_3').fill(API_KEY);
      await p.getByRole('button', { name: 'Create project' }).click();
      await p.waitForURL(/\/projects\/no-script$/);
      await p.goto(`${base()}/projects/no-script/settings/secrets`);
      assert.deepEqual(await p.locator('table .key').allInnerTexts(), ['FIRST', 'FOURTH']);
      await p.getByRole('link', { name: 'Delete FOURTH (production)' }).click();
      await p.getByRole('button', { name: 'Delete FOURTH' }).click();
      await p.waitForURL(/\/settings\/secrets$/);
      assert.deepEqual(await p.locator('table .key').allInnerTexts(), ['FIRST']);
      pages.push(await p.content());
    } finally {
      await noJs.close();
    }
  });

  it('never rendered a value, and the pages raised no script or CSP errors', () => {
    assert.ok(pages.length > 10);
    for (const html of pages) {
      for (const v of VALUES) {
        assert.ok(!html.includes(v), 'a value appeared in a page');
        for (const line of v.split('\n').filter((l) => l.length >= 8 && !l.startsWith('-----')))
          assert.ok(!html.includes(line), 'a line of a value appeared in a page');
      }
    }
    assert.deepEqual(problems, []);
  });
});
