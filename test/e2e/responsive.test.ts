/**
 * Every page of the dashboard, at 390 px (a phone) and 1280 px (a laptop), in real Chromium:
 * nothing may be wider than the viewport (document.documentElement.scrollWidth), so no form
 * field or button ends up off-screen and no table overflows its card.
 *
 * The pages come from the web router itself (every GET route the web plugin registers), so a
 * new page is covered as soon as it exists; a route whose parameters this file cannot fill
 * fails the test until PARAM_VALUES learns them. The fixture has long names on purpose: a long
 * token name in "by … (token …)", a long email, a long secret name and a PR override.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { Browser, BrowserContext } from 'playwright-core';
import type { Config } from '../../src/config.js';
import { webPlugin } from '../../src/http/web/plugin.js';
import type { Services } from '../../src/services/container.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, bootstrap, createUser, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { browserSkip, launch } from './browser.js';

const WIDTHS = [390, 1280] as const;

/** The GET routes of the web router, read from Fastify's route table (no database needed: handlers never run). */
async function webPageRoutes(): Promise<string[]> {
  const app = Fastify();
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    if (methods.includes('GET')) routes.push(r.url ?? r.path);
  });
  await app.register(webPlugin({ config: { publicUrl: undefined } as unknown as Config, services: {} as unknown as Services, clock: () => Date.now() }));
  await app.ready();
  await app.close();
  return [...new Set(routes)].filter((r) => !r.startsWith('/assets/') && r !== '/favicon.ico');
}

/** Pages a signed-out visitor sees; everything else is visited signed in as the admin. */
const SIGNED_OUT = new Set(['/login', '/setup', '/invitations/:token', '/sso/login', '/sso/callback', '/reset-password']);
/**
 * Pages this fixture can only reach in a refusing state (an unknown invitation or reset token, SSO
 * not configured): their answer may be a 4xx page, which must fit all the same; a 5xx still fails.
 */
const ANY_4XX = new Set(['/invitations/:token', '/sso/login', '/sso/callback', '/reset-password']);

describe('every dashboard page fits 390 px and 1280 px', { skip: browserSkip() }, () => {
  let store: TestStore;
  let server: TestServer;
  let browser: Browser;
  let signedIn: BrowserContext;
  let signedOut: BrowserContext;
  const slug = 'acme-storefront-with-a-rather-long-project-slug';
  /** Values for route parameters, by the path segment before them (":id" after "deployments" is a deployment id). */
  const PARAM_VALUES: Record<string, string> = {
    slug,
    scope: 'production',
    name: 'STRIPE_RESTRICTED_KEY_FOR_WEBHOOKS_AND_REFUNDS',
    'invitations:token': 'klinv_not-a-real-invitation-token-for-the-layout-test',
  };
  /** Query strings a page needs to show its content. */
  const QUERIES: Record<string, string> = {
    '/projects/:slug/settings/secrets/delete': '?scope=production&name=STRIPE_RESTRICTED_KEY_FOR_WEBHOOKS_AND_REFUNDS',
    '/projects/:slug/settings/build/delete': '?scope=build&name=NPM_TOKEN',
    '/projects/:slug/settings/members/remove': '?email=dana.longname-for-layout-tests%40platform-engineering.example.com',
  };

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    const admin = await bootstrap(server);
    const long = 'STRIPE_RESTRICTED_KEY_FOR_WEBHOOKS_AND_REFUNDS';
    const created = await admin.post('/api/v1/projects', {
      slug,
      name: 'Acme Storefront with a rather long project name',
      flyApp: 'acme-storefront-production-app',
      secrets: [
        { name: 'DATABASE_URL', scope: 'production', value: 'postgres://example' },
        { name: long, scope: 'production', value: 'rk_live_example' },
        { name: 'DATABASE_URL', scope: 'preview', value: 'postgres://preview' },
        { name: 'NPM_TOKEN', scope: 'build', value: 'npm_example' },
      ],
    });
    assert.equal(created.status, 201, created.text);
    await grantRelease(admin, slug); // deploy keys and deployments need the release grant
    const P = `/api/v1/projects/${slug}`;
    // A write through a token with a long name: the list shows "by admin@example.com (token …)".
    const tokenName = 'github-actions-production-deploy-pipeline-for-the-main-branch-of-acme-storefront';
    const session = await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await session.json()) as { csrfToken: string };
    const tok = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
      body: JSON.stringify({ name: tokenName }),
    });
    const token = (await tok.json()) as { id: string; token: string };
    PARAM_VALUES['tokens:id'] = token.id;
    const viaToken = new Api(server.url, token.token);
    assert.equal((await viaToken.put(`${P}/secrets/production/${long}`, { value: 'rk_live_rotated' })).status, 200);
    assert.equal((await viaToken.put(`${P}/secrets/preview/${long}?pr=4242`, { value: 'rk_test_override' })).status, 201);
    const key = await admin.post(`${P}/deploy-keys`, { name: 'GitHub Actions deploy key for production and previews' });
    PARAM_VALUES['deploy-keys:id'] = key.body.id;
    const policy = await admin.post(`${P}/trust-policies`, {
      name: 'GitHub Actions on main of acme/storefront-with-a-long-repository-name',
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'https://keyloft.example.com',
      subject: 'repo:acme/storefront-with-a-long-repository-name:ref:refs/heads/main',
      environment: 'production',
    });
    assert.equal(policy.status, 201, policy.text);
    PARAM_VALUES['ci-identity:id'] = policy.body.id;
    const dep = await new Api(server.url, key.body.token).post(`${P}/deployments`, {
      environment: 'preview',
      pr: 4242,
      ref: '9f3c2a1e5b7d9f3c2a1e5b7d9f3c2a1e5b7d0000',
    });
    assert.equal(dep.status, 201, dep.text);
    PARAM_VALUES['deployments:id'] = dep.body.id;
    // A failed deployment with a long reason (one unbroken word too): the page must still fit.
    await new Api(server.url, dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, {
      status: 'failed',
      reason: `flyctl deploy exited with code 1: Error: failed to fetch an image or build from source: ${'x'.repeat(120)} error building: exit code 2`,
    });
    const email = 'dana.longname-for-layout-tests@platform-engineering.example.com';
    await createUser(server, admin, email);
    await admin.post(`${P}/members`, { email, role: 'member' });

    browser = await launch();
    signedOut = await browser.newContext();
    signedIn = await browser.newContext();
    const page = await signedIn.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects$/);
    await page.close();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await store?.cleanup();
  });

  /** A concrete URL for a route pattern, or an error naming the parameter that has no value. */
  function urlFor(route: string): string {
    const parts = route.split('/');
    const filled = parts.map((seg, i) => {
      if (!seg.startsWith(':')) return seg;
      const param = seg.slice(1);
      const value = PARAM_VALUES[`${parts[i - 1]}:${param}`] ?? PARAM_VALUES[param];
      if (value === undefined) throw new Error(`no value for :${param} in ${route}: add one to PARAM_VALUES`);
      return encodeURIComponent(value);
    });
    return filled.join('/') + (QUERIES[route] ?? '');
  }

  test('no page is wider than the viewport', async () => {
    const routes = await webPageRoutes();
    assert.ok(routes.length >= 15, `the router lists the pages (${routes.join(', ')})`);
    const problems: string[] = [];
    for (const route of routes) {
      const url = urlFor(route);
      const page = await (SIGNED_OUT.has(route) ? signedOut : signedIn).newPage();
      try {
        for (const width of WIDTHS) {
          await page.setViewportSize({ width, height: 900 });
          const res = await page.goto(`${server.url}${url}`);
          const status = res?.status() ?? 0;
          if (status >= 500 || (status >= 400 && !ANY_4XX.has(route))) {
            problems.push(`${url}: status ${status} (fix the fixture or PARAM_VALUES)`);
            break;
          }
          const { scrollWidth, innerWidth, widest, innermost, scrolled } = await page.evaluate(() => {
            const vw = window.innerWidth;
            const describe = (el: Element) => {
              const cls = typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
              return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${cls} (right edge ${Math.round(el.getBoundingClientRect().right)} px)`;
            };
            // Name what sticks out, to say what to fix: the widest element and the innermost one.
            let widest = '';
            let innermost = '';
            let right = vw;
            const scrolled: string[] = [];
            for (const el of Array.from(document.querySelectorAll('body *'))) {
              const r = el.getBoundingClientRect();
              if (r.right > vw + 0.5) innermost = describe(el);
              if (r.right > right + 0.5) {
                right = r.right;
                widest = describe(el);
              }
              // A table that only fits by scrolling inside its card overflows it too.
              if (el.classList.contains('table-wrap') && el.scrollWidth > el.clientWidth + 1)
                scrolled.push(`${describe(el)} scrolls: ${el.scrollWidth} > ${el.clientWidth} px`);
            }
            return { scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, widest, innermost, scrolled };
          });
          for (const s of scrolled) problems.push(`${url} at ${width} px: ${s}`);
          if (scrollWidth > innerWidth) problems.push(`${url} at ${width} px: ${scrollWidth} px wide; widest: ${widest}; innermost: ${innermost}`);
        }
      } finally {
        await page.close();
      }
    }
    assert.deepEqual(problems, []);
  });
});
