// The Users page (instance admins) and the Account page in real Chromium: they fit 390 px with no
// horizontal scrolling, show no secret value, and the person path works: an admin disables
// someone and their open session stops; a reset link sets a new password.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Api, ADMIN_EMAIL, ADMIN_PASSWORD, bootstrap, createUser } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { browserSkip, flashText, launch, watchConsole } from './browser.js';

const skip = browserSkip();
const VALUES = ['people-page-value-7f3a91c2', 'people-page-build-5e0d44aa'];

describe('Users and Account pages in Chromium (sqlite)', { skip }, () => {
  let store: TestStore;
  let server: TestServer;
  let browser: Browser;
  let admin: Api;
  const problems: string[] = [];

  const signIn = async (ctx: BrowserContext, email: string, password: string): Promise<Page> => {
    const page = await ctx.newPage();
    watchConsole(page, problems);
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects$/);
    return page;
  };
  const fits = async (page: Page, where: string) => {
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 844 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${where}: horizontal scrolling at ${width} px (overflow ${overflow}px)`);
      // Nothing clipped either: every control lies inside the viewport.
      const outside = await page.evaluate(
        (w) =>
          [...document.querySelectorAll('main button, main a, main input')]
            .filter((e) => {
              const r = e.getBoundingClientRect();
              return r.width > 0 && (r.left < 0 || r.right > w);
            })
            .map((e) => e.textContent?.trim() || e.getAttribute('name')),
        width,
      );
      assert.deepEqual(outside, [], `${where}: controls outside the viewport at ${width} px`);
      const html = await page.content();
      for (const v of VALUES) assert.ok(!html.includes(v), `${where}: a secret value is in the page`);
    }
  };

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    await admin.post('/api/v1/projects', {
      slug: 'shop',
      name: 'Shop',
      secrets: [
        { name: 'DATABASE_URL', scope: 'production', value: VALUES[0] },
        { name: 'NPM_TOKEN', scope: 'build', value: VALUES[1] },
      ],
    });
    await createUser(server, admin, 'dana.long-name.for-wrapping@example-company.com');
    await createUser(server, admin, 'sam@example.com');
    await admin.post('/api/v1/projects/shop/members', { email: 'sam@example.com', role: 'member' });
    for (let i = 0; i < 5; i++) {
      await fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'dana.long-name.for-wrapping@example-company.com', password: `nope ${i}` }),
      });
    }
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await store?.cleanup();
  });

  it('an instance admin sees the Users page from the top bar; it fits 390 px and shows no value; others get no link and a 403', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await signIn(ctx, ADMIN_EMAIL, ADMIN_PASSWORD);
      await page.getByRole('link', { name: 'Users', exact: true }).click();
      await page.waitForURL(/\/users$/);
      const text = await page.locator('main').innerText();
      assert.match(text, /locked/);
      assert.match(text, /shop/);
      await fits(page, '/users');
      await page.getByRole('button', { name: 'Reset password: sam@example.com' }).click();
      const link = await page.locator('#reset-url').inputValue();
      assert.match(link, /\/reset-password\?token=klreset_/);
      await fits(page, '/users (reset link shown)');
      await page.goto(`${server.url}/account`);
      await fits(page, '/account');
      await page.goto(`${server.url}/account/tokens`);
      await page.getByLabel('Name').fill('read only ci');
      await page.getByLabel('Expires').selectOption('30');
      await page.getByLabel(/Read-only/).check();
      await page.getByRole('button', { name: 'Create token' }).click();
      assert.match(await page.locator('main').innerText(), /read-only/);
      await fits(page, '/account/tokens');

      const samCtx = await browser.newContext();
      try {
        const sam = await signIn(samCtx, 'sam@example.com', 'another long password');
        assert.equal(await sam.getByRole('link', { name: 'Users', exact: true }).count(), 0);
        const res = await sam.goto(`${server.url}/users`);
        assert.equal(res?.status(), 403);
        // The admin disables sam: sam's open page stops working at once.
        await page.goto(`${server.url}/users`);
        // Wait for the redirected page: reading the flash right after the click races the navigation.
        await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Disable: sam@example.com' }).click()]);
        assert.match(await flashText(page), /Disabled sam@example.com/);
        await sam.goto(`${server.url}/projects`);
        assert.match(sam.url(), /\/login/);
        // Disabling yourself is not offered; the last admin cannot be unmade.
        assert.equal(await page.getByRole('button', { name: `Disable: ${ADMIN_EMAIL}` }).count(), 0);
        await page.getByRole('button', { name: `Remove admin: ${ADMIN_EMAIL}` }).click();
        assert.match(await page.locator('main').innerText(), /last instance admin/);
      } finally {
        await samCtx.close();
      }
      // The reset link (made before sam was disabled) stopped working with the disable: one clear page.
      const resetCtx = await browser.newContext();
      try {
        const p = await resetCtx.newPage();
        const r = await p.goto(link);
        assert.equal(r?.status(), 410);
        assert.match(await p.locator('main, body').first().innerText(), /not valid/);
      } finally {
        await resetCtx.close();
      }
    } finally {
      await ctx.close();
    }
    assert.deepEqual(problems, []);
  });

  it('the Account page changes the password (other sessions end) and a reset link sets a new one', async () => {
    const email = 'dana.long-name.for-wrapping@example-company.com';
    const id = (await admin.get('/api/v1/users')).body.users.find((u: { email: string }) => u.email === email).id;
    assert.equal((await admin.post(`/api/v1/users/${id}/unlock`)).status, 200);
    const reset = await admin.post(`/api/v1/users/${id}/password-reset`);
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const other = await browser.newContext();
    try {
      const p = await ctx.newPage();
      watchConsole(p, problems);
      await p.goto(reset.body.url.replace(/^https?:\/\/[^/]+/, server.url));
      await fits(p, '/reset-password');
      await p.getByLabel('New password', { exact: true }).fill('dana new password 1');
      await p.getByLabel('Repeat the new password').fill('dana new password 1');
      await p.getByRole('button', { name: 'Save the new password' }).click();
      await p.waitForURL(/\/login$/);
      assert.match(await flashText(p), /new password is set/);
      const page = await signIn(ctx, email, 'dana new password 1');
      const second = await signIn(other, email, 'dana new password 1');
      await page.goto(`${server.url}/account`);
      assert.match(await page.locator('main').innerText(), /this session/);
      await page.getByLabel('Current password').fill('wrong current password');
      await page.getByLabel('New password', { exact: true }).fill('dana third password');
      await page.getByLabel('Repeat the new password').fill('dana third password');
      await page.getByRole('button', { name: 'Change password' }).click();
      assert.match(await page.locator('main').innerText(), /current password is wrong/);
      await fits(page, '/account (error)');
      await page.getByLabel('Current password').fill('dana new password 1');
      await page.getByLabel('New password', { exact: true }).fill('dana third password');
      await page.getByLabel('Repeat the new password').fill('dana third password');
      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Change password' }).click()]);
      assert.match(await flashText(page), /Password changed\. 1 other session ended/);
      await second.goto(`${server.url}/projects`);
      assert.match(second.url(), /\/login/);
    } finally {
      await ctx.close();
      await other.close();
    }
    assert.deepEqual(problems, []);
  });
});
