// The whole person path in Chromium: an admin invites from the Members page (the link is shown
// once) → the invitee opens the link, is refused a weak password (the rule is named next to the
// field), sets a good one and lands in the project with the invited role → the admin disables
// them on the Users page and their session stops → the used link is one clear "not valid" page.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Kysely } from 'kysely';
import type { Running } from '../../src/cli/serve.js';
import type { DB } from '../../src/store/schema.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Api } from '../helpers/client.js';
import { createStore, type TestStore } from '../helpers/server.js';
import { startPeopleServer } from '../people/support.js';
import { browserSkip, flashText, launch, watchConsole } from './browser.js';

describe('the person path in Chromium: invite → set a password → in the project with the role → disabled, session stops', { skip: browserSkip() }, () => {
  let store: TestStore;
  let running: Running;
  let url: string;
  let admin: Api;
  let db: Kysely<DB>;
  let browser: Browser;
  const problems: string[] = [];
  const slug = `team-${randomBytes(3).toString('hex')}`;
  const INVITEE = 'newcomer@example.com';
  let link = '';
  let adminPage: Page;
  let inviteePage: Page;

  before(async () => {
    store = await createStore('sqlite');
    ({ running, url, admin, db } = await startPeopleServer(store));
    assert.equal(
      (
        await admin.post('/api/v1/projects', {
          slug,
          name: 'Team Project',
          secrets: [{ name: 'API_KEY', scope: 'production', value: 'people-path-value-3c9e' }],
        })
      ).status,
      201,
    );
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await running?.close();
    await store?.cleanup();
  });

  async function page(): Promise<Page> {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    watchConsole(p, problems);
    return p;
  }

  it('an admin invites from the Members page; the link is shown once and listed as pending', async () => {
    const p = await page();
    await p.goto(`${url}/login`);
    await p.getByLabel('Email').fill(ADMIN_EMAIL);
    await p.getByLabel('Password').fill(ADMIN_PASSWORD);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL(/\/projects$/);
    await p.goto(`${url}/projects/${slug}/settings/members`);
    await p.getByLabel('Email', { exact: true }).fill(INVITEE);
    await p.getByLabel('Role', { exact: true }).selectOption('member');
    await p.getByRole('button', { name: 'Invite' }).click();
    link = await p.getByRole('textbox', { name: 'Invitation link' }).inputValue();
    assert.match(link, new RegExp(`^${url}/invitations/klinv_[A-Za-z0-9_-]{43}$`));
    assert.match(await p.locator('main').innerText(), /shown only once/);
    const pending = p.getByRole('region', { name: /Pending invitations/ });
    assert.match(await pending.innerText(), new RegExp(INVITEE));
    // Opened again, the page lists the invitation but never shows the link again.
    await p.goto(`${url}/projects/${slug}/settings/members`);
    assert.ok(!(await p.content()).includes(link.slice(link.lastIndexOf('/') + 1)), 'the link is shown only once');
    assert.match(await p.getByRole('region', { name: /Pending invitations/ }).innerText(), new RegExp(INVITEE));
    adminPage = p;
  });

  it('the invitee opens the link, sets a password (a weak one is refused naming the rule) and sees the project with the role', async () => {
    const p = await page();
    await p.goto(link);
    assert.match(await p.locator('h1').innerText(), /Join Team Project/);
    assert.match(await p.locator('main').innerText(), new RegExp(`${INVITEE}.*as member`));
    await p.getByLabel('Password', { exact: true }).fill('short');
    await p.getByLabel('Repeat password').fill('short');
    await p.getByRole('button', { name: 'Create account and join' }).click();
    assert.match(await p.locator('.field-error').first().innerText(), /password must be at least 10 characters/);
    assert.equal(await db.selectFrom('users').select('id').where('email', '=', INVITEE).executeTakeFirst(), undefined, 'nothing created');

    await p.getByLabel('Password', { exact: true }).fill('a good long password');
    await p.getByLabel('Repeat password').fill('a good long password');
    await p.getByRole('button', { name: 'Create account and join' }).click();
    await p.waitForURL(`${url}/projects/${slug}`);
    assert.equal(await flashText(p), `Welcome to ${slug}: you joined as member.`);
    assert.match(await p.locator('main').innerText(), /Your role\s*member/);
    // A member writes secrets: the form is there, not the read-only note.
    await p.goto(`${url}/projects/${slug}/settings/secrets`);
    assert.equal(await p.getByRole('note').count(), 0, 'no read-only note for a member');
    assert.ok((await p.getByLabel('Key', { exact: true }).count()) > 0, 'the secret form is shown');
    assert.ok(!(await p.content()).includes('people-path-value-3c9e'));
    inviteePage = p;
  });

  it('the admin disables them on the Users page: their open session stops at once', async () => {
    await adminPage.goto(`${url}/users`);
    await adminPage.getByRole('button', { name: `Disable: ${INVITEE}` }).click();
    assert.match(await flashText(adminPage), new RegExp(`Disabled ${INVITEE}`));
    await inviteePage.goto(`${url}/projects/${slug}`);
    assert.match(inviteePage.url(), /\/login/, 'sent to sign in');
    const api = await inviteePage.evaluate(async (s) => (await fetch(`/api/v1/projects/${s}`)).status, slug);
    assert.equal(api, 401);
    await inviteePage.context().close();
    await adminPage.context().close();
  });

  it('the used link is one clear page afterwards, and creates nothing', async () => {
    const p = await page();
    const res = await p.goto(link);
    assert.equal(res?.status(), 410);
    assert.equal(await p.locator('h1').innerText(), 'Invitation not valid');
    assert.match(await p.locator('main').innerText(), /already been used/);
    const forged = await p.goto(`${url}/invitations/klinv_${'x'.repeat(43)}`);
    assert.equal(forged?.status(), 410);
    assert.match(await p.locator('main').innerText(), /not valid/);
    await p.context().close();
    const users = await db.selectFrom('users').select('email').execute();
    assert.equal(users.filter((u) => u.email === INVITEE).length, 1);
  });

  it('raised no script or CSP errors', () => {
    assert.deepEqual(problems, []);
  });
});
