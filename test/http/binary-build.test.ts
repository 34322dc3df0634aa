/**
 * Binary build secrets and `deploy fly`: flyctl's --build-secret takes text, so a deployment
 * that would need to pass a binary value is refused before it exists (naming the secrets and
 * the alternative, `keyloft run --build` files); the Build page and `secrets set --scope build`
 * say when a value is binary.
 *
 * In process: the API and the Build page. `secrets set` and `deploy fly` (CLI subprocesses):
 * integration/binary-build.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, bootstrap, webSession } from '../helpers/client.js';
import { seedProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x7f]);

for (const d of await dialects()) {
  describe(`${d.name}: binary build secrets`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    const slug = 'bin';
    const P = `/api/v1/projects/${slug}`;

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Bin' }, [{ name: 'NPM_TOKEN', scope: 'build', value: 'npm_text_token' }]);
      // What `secrets set --scope build SIGNING_CERT=@cert.der OTHER=plain-text` writes (the CLI itself:
      // integration/binary-build.test.ts).
      assert.equal((await admin.put(`${P}/secrets/build/SIGNING_CERT`, { valueBase64: BINARY.toString('base64') })).status, 201);
      assert.equal((await admin.put(`${P}/secrets/build/OTHER`, { value: 'plain-text' })).status, 201);
    });
    after(async () => {
      await server?.stop();
    });

    test('the list marks a binary build secret binary, and only that one', async () => {
      const list = await admin.get(`${P}/secrets?scope=build`);
      const byName = new Map((list.body.secrets as Array<{ name: string; binary?: boolean }>).map((s) => [s.name, s]));
      assert.equal(byName.get('SIGNING_CERT')?.binary, true);
      assert.equal(byName.get('NPM_TOKEN')?.binary, undefined);
    });

    test('a start asking for text build secrets is refused with the names, and no deployment exists', async () => {
      const r = await admin.post(`${P}/deployments`, { environment: 'production', textBuildSecrets: true });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.error.field, 'textBuildSecrets');
      assert.match(r.body.error.message, /SIGNING_CERT/);
      assert.match(r.body.error.message, /keyloft run --build/);
      assert.doesNotMatch(r.body.error.message, /NPM_TOKEN/);
      assert.equal((await admin.get(`${P}/deployments`)).body.deployments.length, 0);
    });

    test('keyloft deploy start (for keyloft run --build) still starts: its files carry any bytes', async () => {
      const r = await admin.post(`${P}/deployments`, { environment: 'production' });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(
        r.body.pinned.build.map((b: { name: string }) => b.name),
        ['NPM_TOKEN', 'OTHER', 'SIGNING_CERT'],
      );
    });

    test('the Build page marks the binary secret and says deploy fly cannot pass it', async () => {
      const { cookie } = await webSession(server);
      const page = await (await server.fetch(`${server.url}/projects/${slug}/settings/build`, { headers: { cookie } })).text();
      const row = page.slice(page.indexOf('SIGNING_CERT'), page.indexOf('</tr>', page.indexOf('SIGNING_CERT')));
      assert.match(row, />binary</);
      assert.match(row, /keyloft deploy fly<\/code> cannot pass it/);
      const npm = page.slice(page.indexOf('NPM_TOKEN'), page.indexOf('</tr>', page.indexOf('NPM_TOKEN')));
      assert.doesNotMatch(npm, />binary</);
    });
  });
}
