// Screenshots of the main dashboard pages at 1280 and 390 px, written to docs/screenshots/.
// Not part of `npm test`; run by hand after a build:  node dist/test/e2e/screenshots.js
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Api, ADMIN_EMAIL, ADMIN_PASSWORD, bootstrap, createUser, grantRelease } from '../helpers/client.js';
import { createStore, REPO_ROOT, startServer } from '../helpers/server.js';
import { browserSkip, launch } from './browser.js';

const OUT = join(REPO_ROOT, 'docs/screenshots');
const WIDTHS = [1280, 390] as const;

const skip = browserSkip();
if (skip) {
  console.log(skip);
  process.exit(0);
}

mkdirSync(OUT, { recursive: true });
const store = await createStore('sqlite');
const server = await startServer(store);
const browser = await launch();

async function shoot(page: Page, name: string): Promise<void> {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    const file = join(OUT, `${name}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${file}`);
  }
}

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/setup`);
  await shoot(page, 'setup');

  // Realistic data through the API.
  const admin = await bootstrap(server);
  const slug = 'acme-storefront';
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
  await admin.post('/api/v1/projects', {
    slug,
    name: 'Acme Storefront',
    flyApp: 'acme-storefront',
    secrets: [
      { name: 'DATABASE_URL', scope: 'production', value: 'postgres://shop:example@db.internal/shop' },
      { name: 'SESSION_SECRET', scope: 'production', value: 'example-session-secret' },
      { name: 'STRIPE_SECRET_KEY', scope: 'production', value: 'sk_live_example' },
      { name: 'SENTRY_DSN', scope: 'production', value: 'https://example@sentry.io/1' },
      { name: 'DATABASE_URL', scope: 'preview', value: 'postgres://shop:example@db-preview.internal/shop' },
      { name: 'STRIPE_SECRET_KEY', scope: 'preview', value: 'sk_test_example' },
      { name: 'FEATURE_FLAGS', scope: 'preview', value: 'checkout-v2' },
      { name: 'NPM_TOKEN', scope: 'build', value: 'npm_example' },
      { name: 'SENTRY_AUTH_TOKEN', scope: 'build', value: 'sntrys_example' },
    ],
  });
  await admin.post('/api/v1/projects', {
    slug: 'billing-api',
    name: 'Billing API',
    secrets: [{ name: 'DATABASE_URL', scope: 'production', value: 'postgres://x' }],
  });
  await admin.post('/api/v1/projects', { slug: 'marketing-site', name: 'Marketing site' });
  await grantRelease(admin, slug);
  const complete = async (started: { body: { id: string; token: string } }, status: string) =>
    new Api(server.url, started.body.token).post(`/api/v1/deployments/${started.body.id}/complete`, { status });
  await complete(await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production', ref: '9f3c2a1e5b7d' }), 'succeeded');
  await complete(await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 41, ref: 'c0ffee123456' }), 'succeeded');
  await complete(await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 42, ref: 'deadbeef0042' }), 'failed');
  await admin.put(`/api/v1/projects/${slug}/secrets/preview/FEATURE_FLAGS`, { value: 'checkout-v2,search-v3' });
  await complete(await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 42, ref: 'deadbeef0043' }), 'succeeded');
  await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 43, ref: 'a1b2c3d4e5f6' });
  const last = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production', ref: '7e8f9a0b1c2d' });
  await admin.put(`/api/v1/projects/${slug}/secrets/production/STRIPE_SECRET_KEY`, { value: 'sk_live_rotated' });
  await admin.call('POST', `/api/v1/projects/${slug}/secrets/production:import`, `TLS_PRIVATE_KEY="${pem}"\n`, { contentType: 'text/plain' });
  await admin.delete(`/api/v1/projects/${slug}/secrets/production/SENTRY_DSN`);
  await createUser(server, admin, 'dana@example.com');
  await createUser(server, admin, 'sam@example.com');
  await admin.post(`/api/v1/projects/${slug}/members`, { email: 'dana@example.com', role: 'member' });
  await admin.post(`/api/v1/projects/${slug}/members`, { email: 'sam@example.com', role: 'viewer' });

  await page.goto(`${server.url}/login`);
  await shoot(page, 'login');
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/projects$/);
  await shoot(page, 'projects');

  await page.goto(`${server.url}/projects/new`);
  await page.getByLabel('Name', { exact: true }).fill('Checkout Service');
  await page.locator('#f-name_0').fill('DATABASE_URL');
  await page.locator('#f-value_0').fill('example');
  await page.locator('#f-name_1').fill('redis-url');
  await page.locator('#f-value_1').fill('example');
  await page.getByRole('button', { name: 'Create project' }).click();
  await shoot(page, 'new-project-error');
  await page.goto(`${server.url}/projects/new`);
  await shoot(page, 'new-project');

  await page.goto(`${server.url}/projects/${slug}`);
  await shoot(page, 'overview');
  await page.goto(`${server.url}/projects/${slug}/deployments`);
  await shoot(page, 'deployments');
  await page.goto(`${server.url}/projects/${slug}/deployments/${last.body.id}`);
  await shoot(page, 'deployment');
  await page.goto(`${server.url}/projects/${slug}/settings/general`);
  await page.getByLabel('Deploy key name').fill('GitHub Actions');
  await page.getByRole('button', { name: 'Create deploy key' }).click();
  await shoot(page, 'settings-general');

  await page.goto(`${server.url}/projects/${slug}/settings/secrets`);
  await page.getByLabel('Key', { exact: true }).fill('SESSION_SECRET');
  await page.getByLabel('Value', { exact: true }).fill('example-rotated');
  await page.getByRole('button', { name: 'Save' }).click();
  await shoot(page, 'settings-secrets');
  await page.goto(`${server.url}/projects/${slug}/settings/secrets/delete?scope=production&name=SESSION_SECRET`);
  await shoot(page, 'settings-secret-delete');
  await page.goto(`${server.url}/projects/${slug}/settings/history/preview/FEATURE_FLAGS`);
  await shoot(page, 'settings-secret-history');
  await page.goto(`${server.url}/projects/${slug}/settings/build`);
  await shoot(page, 'settings-build');
  await page.goto(`${server.url}/projects/${slug}/settings/members`);
  await shoot(page, 'settings-members');
  await page.goto(`${server.url}/projects/${slug}/settings/audit`);
  await shoot(page, 'settings-audit');

  await page.goto(`${server.url}/account/tokens`);
  await page.getByLabel('Name').fill('GitHub Actions');
  await page.getByRole('button', { name: 'Create token' }).click();
  await shoot(page, 'api-tokens');

  // People: the Users page (one account locked, one disabled) and the Account page.
  for (let i = 0; i < 5; i++) {
    await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'dana@example.com', password: `wrong ${i}` }),
    });
  }
  const users = (await admin.get('/api/v1/users')).body.users as Array<{ id: string; email: string }>;
  await admin.post(`/api/v1/users/${users.find((u) => u.email === 'sam@example.com')!.id}/disable`);
  await page.goto(`${server.url}/users`);
  await shoot(page, 'users');
  await page.goto(`${server.url}/account`);
  await shoot(page, 'account');

  // Add your team: an invitation made on Members (its link shown once), the page behind the link.
  await page.goto(`${server.url}/projects/${slug}/settings/members`);
  await page.getByLabel('Email', { exact: true }).fill('lee@example.com');
  await page.getByLabel('Role', { exact: true }).selectOption('member');
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  await shoot(page, 'settings-members-invite');
  const visitor = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await visitor.goto(link);
  await shoot(visitor, 'invitation');
  await visitor.goto(`${server.url}/invitations/klinv_${'x'.repeat(43)}`);
  await shoot(visitor, 'invitation-invalid');

  // Single sign-on: the login page of a server with KEYLOFT_SSO_ISSUER set (the provider is not contacted to render it).
  const ssoStore = await createStore('sqlite');
  const ssoServer = await startServer(ssoStore, {
    env: {
      KEYLOFT_PUBLIC_URL: 'http://keyloft.example.test',
      KEYLOFT_SSO_ISSUER: 'https://login.example.com',
      KEYLOFT_SSO_CLIENT_ID: 'keyloft',
      KEYLOFT_SSO_CLIENT_SECRET: 'example-client-secret',
      KEYLOFT_SSO_ALLOWED_DOMAINS: 'example.com',
    },
  });
  try {
    await bootstrap(ssoServer);
    await visitor.goto(`${ssoServer.url}/login`);
    await shoot(visitor, 'login-sso');
  } finally {
    await ssoServer.stop();
    await ssoStore.cleanup();
  }
} finally {
  await browser.close();
  await server.stop();
  await store.cleanup();
}
