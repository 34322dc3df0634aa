// Issue 9 in real Chromium against the real server (SQLite, role all):
// a preview override set with a PR number on the Secrets page → the copy review → confirm flow
// on the Secrets page → the Restore button on the history page. No value in any page.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { type Api, ADMIN_EMAIL, ADMIN_PASSWORD, bootstrap } from '../helpers/client.js';
import { seedResealProject } from '../helpers/fixtures.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { browserSkip, flashText, launch, watchConsole } from './browser.js';

const skip = browserSkip();
if (skip) console.log(skip);

const rnd = () => randomBytes(6).toString('hex');
const SLUG = `rs-web-${rnd().slice(0, 6)}`;
// Known values; none may ever appear in a page.
const V = {
  token1: `tok1_${rnd()}`,
  token2: `tok2_${rnd()}`,
  p1: `p1_${rnd()}`,
  p2: `p2_${rnd()}`,
  prev2: `prev2_${rnd()}`,
  apiDefault: `https://default-${rnd()}.example.com`,
  api42: `https://pr42-${rnd()}.example.com`,
};
const VALUES = Object.values(V);

describe('issue 9 in the dashboard: override with a PR, copy review → confirm, restore (Chromium, sqlite)', { skip }, () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const pages: Array<{ url: string; html: string }> = [];

  const secretsUrl = () => `${server.url}/projects/${SLUG}/settings/secrets`;
  const path = (p: string) => `/api/v1/projects/${SLUG}${p}`;
  async function keep(): Promise<void> {
    pages.push({ url: page.url(), html: await page.content() });
  }
  const list = async (scope: string) => {
    const r = await admin.get(path(`/secrets?scope=${scope}`));
    assert.equal(r.status, 200, r.text);
    return r.body.secrets as Array<{ name: string; pr?: number; digest: string; version: number }>;
  };
  const versions = async (scope: string, name: string) => {
    const r = await admin.get(path(`/secrets/${scope}/${name}/versions`));
    assert.equal(r.status, 200, r.text);
    return r.body.versions as Array<{ version: number; kind: string; digest: string | null }>;
  };
  const released = async (environment: 'production' | 'preview', pr?: number) => {
    const dep = await admin.post(path('/deployments'), { environment, ...(pr ? { pr } : {}) });
    assert.equal(dep.status, 201, dep.text);
    const r = await admin.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
    assert.equal(r.status, 200, r.text);
    assert.equal((await admin.with(dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, { status: 'succeeded' })).status, 200);
    return r.body.runtime as Record<string, string>;
  };

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    await seedResealProject(admin, { slug: SLUG, name: 'Reseal Web' }, { token: V.token1, p1: V.p1, p2: V.p2, prev2: V.prev2 }, [
      { name: 'API_URL', scope: 'preview', value: V.apiDefault },
    ]);
    assert.equal((await admin.put(path('/secrets/production/TOKEN'), { value: V.token2 })).status, 200);
    browser = await launch();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    watchConsole(page, problems);
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects$/);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    const out = server?.output() ?? '';
    for (const v of VALUES) assert.ok(!out.includes(v), 'a value reached the server output');
    await store?.cleanup();
  });

  it('sets a preview override for PR 42 on the Secrets page; PR 42 gets it, PR 43 the default', async () => {
    await page.goto(secretsUrl());
    // A bad pull request number first: refused next to the field, the value is not sent back.
    await page.getByLabel('Key', { exact: true }).fill('API_URL');
    await page.getByLabel('Value', { exact: true }).fill(V.api42);
    await page.getByLabel('Environment', { exact: true }).first().selectOption('preview');
    await page.getByLabel('Pull request (preview override)').fill('forty-two');
    await page.getByRole('button', { name: 'Save' }).click();
    assert.match(await page.locator('#f-pr-error').innerText(), /\S/);
    assert.equal(await page.getByLabel('Value', { exact: true }).inputValue(), '', 'the value is never sent back');
    assert.equal(await page.getByLabel('Key', { exact: true }).inputValue(), 'API_URL');
    await keep();
    assert.ok(!(await list('preview')).some((s) => s.pr !== undefined), 'nothing was written');

    await page.getByLabel('Value', { exact: true }).fill(V.api42);
    await page.getByLabel('Environment', { exact: true }).first().selectOption('preview');
    await page.getByLabel('Pull request (preview override)').fill('42');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.match(await flashText(page), /^Added API_URL \(preview, override for PR #42\)/);
    // Listed under its default with the PR number.
    const rows = page.locator('tbody tr', { hasText: 'API_URL' });
    assert.equal(await rows.count(), 2);
    assert.equal(await page.locator('.badge', { hasText: 'override · PR #42' }).count(), 1);
    await keep();
    const overrides = (await list('preview')).filter((s) => s.pr !== undefined);
    assert.deepEqual(
      overrides.map((s) => `${s.name}#${s.pr}`),
      ['API_URL#42'],
    );
    assert.equal((await released('preview', 42)).API_URL, V.api42);
    assert.equal((await released('preview', 43)).API_URL, V.apiDefault);
    assert.ok(!('API_URL' in (await released('production'))), 'production never gets a preview value');

    // The override's own history page.
    await page.getByRole('link', { name: 'History of API_URL (preview)' }).nth(1).click();
    await page.waitForURL(/\/settings\/history\/preview\/API_URL\?pr=42$/);
    assert.match(await page.locator('main').innerText(), /API_URL \(PR #42\)/);
    await keep();
  });

  it('copy: Review copy shows added/skipped with digests and writes nothing; Confirm writes; overwrite replaces', async () => {
    await page.goto(secretsUrl());
    await page.getByLabel('From', { exact: true }).selectOption('production');
    await page.getByLabel('To', { exact: true }).selectOption('preview');
    await page.getByLabel('Keys (optional)').fill('P1 P2');
    await page.getByRole('button', { name: 'Review copy' }).click();
    await page.getByRole('heading', { name: 'Review copy' }).waitFor();
    assert.equal((await page.locator('#copy-review-h').innerText()).trim(), '1 to copy, 1 skipped');
    const review = await page.locator('table').innerText();
    const p1 = (await list('production')).find((s) => s.name === 'P1')!;
    assert.match(review, new RegExp(`P1\\s+will be added\\s+${p1.digest}`));
    assert.match(review, /P2\s+skipped: exists in target/);
    await keep();
    assert.ok(!(await list('preview')).some((s) => s.name === 'P1'), 'the review wrote nothing');

    await page.getByRole('button', { name: 'Confirm copy of 1 secret' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.equal(await flashText(page), 'Copied 1 secret from production to preview (1 skipped) — applies at the next deployment');
    await keep();
    const preview = await list('preview');
    assert.equal(preview.find((s) => s.name === 'P1')!.digest, p1.digest, 'the copy has the source digest');
    let runtime = await released('preview', 7);
    assert.equal(runtime.P1, V.p1);
    assert.equal(runtime.P2, V.prev2, 'the conflict was kept');

    // With overwrite: P2 will be overwritten, P1 is already the same value. Cancel first: nothing written.
    await page.getByLabel('Keys (optional)').fill('P1, P2');
    await page.getByLabel('Overwrite keys that already exist in the target').check();
    await page.getByRole('button', { name: 'Review copy' }).click();
    await page.getByRole('heading', { name: 'Review copy' }).waitFor();
    const review2 = await page.locator('table').innerText();
    assert.match(review2, /P2\s+will be overwritten/);
    assert.match(review2, /P1\s+skipped: same value/);
    await keep();
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.equal((await released('preview', 7)).P2, V.prev2, 'cancel wrote nothing');

    await page.getByLabel('Keys (optional)').fill('P2');
    await page.getByLabel('Overwrite keys that already exist in the target').check();
    await page.getByRole('button', { name: 'Review copy' }).click();
    await page.getByRole('button', { name: 'Confirm copy of 1 secret' }).click();
    await page.waitForURL(/\/settings\/secrets$/);
    assert.equal(await flashText(page), 'Copied 1 secret from production to preview — applies at the next deployment');
    runtime = await released('preview', 7);
    assert.equal(runtime.P2, V.p2);
    await keep();
  });

  it('copy refusals write nothing and show why, without a value: from = to (on the form), a missing key', async () => {
    const before = await list('preview');
    await page.goto(secretsUrl());
    await page.getByLabel('From', { exact: true }).selectOption('production');
    await page.getByLabel('To', { exact: true }).selectOption('production');
    await page.getByLabel('Keys (optional)').fill('P1');
    await page.getByRole('button', { name: 'Review copy' }).click();
    assert.match(await page.locator('#error-summary').innerText(), /another scope/);
    assert.equal(await page.getByLabel('Keys (optional)').inputValue(), 'P1', 'the form is kept');
    await keep();
    // A key the source does not hold: the server answers 404 and names it (an error page, not the form).
    await page.getByLabel('To', { exact: true }).selectOption('preview');
    await page.getByLabel('Keys (optional)').fill('P1 NOT_THERE');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/settings/copy')),
      page.getByRole('button', { name: 'Review copy' }).click(),
    ]);
    assert.equal(res.status(), 400);
    assert.match(await page.locator('main').innerText(), /NOT_THERE not found in production; nothing was copied/);
    await keep();
    assert.deepEqual(await list('preview'), before, 'nothing was written');
  });

  it("the Restore button on the history page makes v1 current again as v3 with v1's digest", async () => {
    await page.goto(secretsUrl());
    await page.getByRole('link', { name: 'History of TOKEN (production)' }).click();
    await page.waitForURL(/\/settings\/history\/production\/TOKEN$/);
    assert.match(await page.locator('main').innerText(), /never shown/);
    // The current version has no Restore button; v1 has one.
    assert.equal(await page.getByRole('button', { name: 'Restore v2 of TOKEN' }).count(), 0);
    const before = await versions('production', 'TOKEN');
    await keep();
    await page.getByRole('button', { name: 'Restore v1 of TOKEN' }).click();
    await page.waitForURL(/\/settings\/history\/production\/TOKEN$/);
    assert.equal(await flashText(page), 'Restored v1 of TOKEN (production) as v3 — applies at the next deployment');
    const first = await page.locator('tbody tr').first().innerText();
    assert.match(first, /v3/);
    assert.match(first, /current/);
    assert.match(first, /restored/);
    const v1 = before.find((v) => v.version === 1)!;
    assert.ok(first.includes(v1.digest!), "the restored version shows v1's digest");
    await keep();
    const after = await versions('production', 'TOKEN');
    assert.equal(after[0]!.kind, 'restore');
    assert.equal(after[0]!.digest, v1.digest);
    assert.equal((await released('production')).TOKEN, V.token1);
    // v2 can be restored back from the same page.
    await page.getByRole('button', { name: 'Restore v2 of TOKEN' }).click();
    await page.waitForURL(/\/settings\/history\/production\/TOKEN$/);
    assert.equal(await flashText(page), 'Restored v2 of TOKEN (production) as v4 — applies at the next deployment');
    await keep();
  });

  it('no page showed a value, and no page had a script error', async () => {
    assert.ok(pages.length >= 10, `pages kept: ${pages.length}`);
    for (const p of pages) {
      for (const v of VALUES) assert.ok(!p.html.includes(v), `a value is in the page ${p.url}`);
    }
    assert.deepEqual(problems, []);
  });
});
