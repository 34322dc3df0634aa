/**
 * Saving a secret's current value again is a no-op, on every path a person writes one:
 * the API's PUT, the dashboard's form and a single `keyloft secrets set`. Compared by keyed
 * digest inside the write transaction: no new version, no audit event, a deployed secret
 * stays deployed, and the answer says `unchanged`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type Api, bootstrap, webSession } from '../helpers/client.js';
import { deployOnce, seedProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const value = () => `unchanged-${randomBytes(10).toString('hex')}`;

for (const d of await dialects()) {
  describe(`${d.name}: saving the same value again writes nothing`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    const slug = 'same';
    const P = `/api/v1/projects/${slug}`;
    const values = { db: value(), web: value(), cli: value(), other: value() };

    const versions = async (name: string) => (await admin.get(`${P}/secrets/production/${name}/versions`)).body.versions as Array<{ version: number }>;
    const writeEvents = async (name: string) =>
      ((await admin.get(`${P}/audit?name=${name}`)).body.events as Array<{ action: string }>).filter((e) => e.action.startsWith('secret.')).length;
    const status = async (name: string) =>
      ((await admin.get(`${P}/secrets?scope=production`)).body.secrets as Array<{ name: string; status: string }>).find((s) => s.name === name)?.status;

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Same' }, [
        { name: 'DB_URL', scope: 'production', value: values.db },
        { name: 'WEB_KEY', scope: 'production', value: values.web },
        { name: 'CLI_KEY', scope: 'production', value: values.cli },
      ]);
      // Deploy once, so the secrets are "deployed": an unchanged save must not make them pending again.
      await deployOnce(admin, slug);
    });
    after(async () => {
      await server?.stop();
    });

    test('API: PUT of the current value answers unchanged, adds no version and no audit event, keeps it deployed', async () => {
      assert.equal(await status('DB_URL'), 'deployed');
      const eventsBefore = await writeEvents('DB_URL');
      const r = await admin.put(`${P}/secrets/production/DB_URL`, { value: values.db });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.unchanged, true);
      assert.equal(r.body.created, false);
      assert.equal(r.body.secret.version, 1);
      assert.equal(r.body.secret.status, 'deployed');
      assert.deepEqual(
        (await versions('DB_URL')).map((v) => v.version),
        [1],
      );
      assert.equal(await writeEvents('DB_URL'), eventsBefore);
      assert.equal(await status('DB_URL'), 'deployed');
      assert.ok(!r.text.includes(values.db));
    });

    test('API: a different value is a new version (unchanged false), and writing it back is one more version', async () => {
      const r = await admin.put(`${P}/secrets/production/DB_URL`, { value: values.other });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.unchanged, false);
      assert.equal(r.body.secret.version, 2);
      assert.equal(r.body.secret.status, 'pending');
      const back = await admin.put(`${P}/secrets/production/DB_URL`, { value: values.db });
      assert.equal(back.body.unchanged, false, 'the value before the current one is a change');
      assert.equal(back.body.secret.version, 3);
      const again = await admin.put(`${P}/secrets/production/DB_URL`, { value: values.db });
      assert.equal(again.body.unchanged, true);
      assert.equal(again.body.secret.version, 3);
    });

    test('API: the same value as base64 is the same value; a deleted secret set again is a new version', async () => {
      const r = await admin.put(`${P}/secrets/production/DB_URL`, { valueBase64: Buffer.from(values.db).toString('base64') });
      assert.equal(r.body.unchanged, true);
      assert.equal((await admin.delete(`${P}/secrets/production/DB_URL`)).status, 200);
      const set = await admin.put(`${P}/secrets/production/DB_URL`, { value: values.db });
      assert.equal(set.status, 201, set.text);
      assert.equal(set.body.unchanged, false);
      assert.equal(set.body.created, true);
    });

    test('dashboard: the form with the current value says "WEB_KEY is unchanged" and writes nothing', async () => {
      const { cookie, csrf } = await webSession(server);
      const eventsBefore = await writeEvents('WEB_KEY');
      const post = await server.fetch(`${server.url}/projects/${slug}/settings/secrets`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, name: 'WEB_KEY', scope: 'production', value: values.web, pr: '' }).toString(),
      });
      assert.equal(post.status, 303, await post.text());
      const flash = post.headers
        .getSetCookie()
        .find((c) => c.startsWith('keyloft_flash='))!
        .split(';')[0]!;
      const page = await (await server.fetch(`${server.url}${post.headers.get('location')}`, { headers: { cookie: `${cookie}; ${flash}` } })).text();
      assert.match(page, /WEB_KEY is unchanged/);
      assert.ok(!page.includes(values.web));
      assert.deepEqual(
        (await versions('WEB_KEY')).map((v) => v.version),
        [1],
      );
      assert.equal(await writeEvents('WEB_KEY'), eventsBefore);
      assert.equal(await status('WEB_KEY'), 'deployed');
    });
    // A single `keyloft secrets set` of the current value: integration/unchanged.test.ts (a CLI subprocess).
  });
}
