/**
 * Saving a secret's current value again is a no-op, on every path a person writes one:
 * the API's PUT, the dashboard's form and a single `keyloft secrets set`. Compared by keyed
 * digest inside the write transaction: no new version, no audit event, a deployed secret
 * stays deployed, and the answer says `unchanged`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Api, bootstrap } from '../helpers/client.js';
import { deployOnce, runKeyloft, seedProject } from '../helpers/fixtures.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const value = () => `unchanged-${randomBytes(10).toString('hex')}`;

// The API's and the dashboard's paths are tested in process (test/http/unchanged.test.ts); here the
// CLI, which prints what the server answered: one engine is enough.
for (const d of (await dialects()).filter((x) => x.name === 'sqlite')) {
  describe(`${d.name}: keyloft secrets set of the same value writes nothing`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let cliHome: string;
    const slug = 'same';
    const P = `/api/v1/projects/${slug}`;
    const values = { cli: value() };

    const versions = async (name: string) => (await admin.get(`${P}/secrets/production/${name}/versions`)).body.versions as Array<{ version: number }>;
    const status = async (name: string) =>
      ((await admin.get(`${P}/secrets?scope=production`)).body.secrets as Array<{ name: string; status: string }>).find((s) => s.name === name)?.status;

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Same' }, [{ name: 'CLI_KEY', scope: 'production', value: values.cli }]);
      // Deploy once, so the secret is "deployed": an unchanged save must not make it pending again.
      await deployOnce(admin, slug);
      cliHome = mkdtempSync(join(tmpdir(), 'keyloft-unchanged-'));
    });
    after(async () => {
      await server?.stop();
      await store?.cleanup();
      if (cliHome) rmSync(cliHome, { recursive: true, force: true });
    });

    test('CLI: a single secrets set of the current value prints "unchanged" and writes nothing', async () => {
      const r = await runKeyloft(
        { url: server.url, token: admin.token!, dir: cliHome },
        ['secrets', 'set', '--project', slug, '--scope', 'production', 'CLI_KEY=-'],
        { stdin: values.cli },
      );
      const out = r.out + r.err;
      assert.equal(r.code, 0, out);
      assert.match(out, /CLI_KEY unchanged/);
      assert.doesNotMatch(out, /Changes apply at the next deployment/);
      assert.ok(!out.includes(values.cli));
      assert.deepEqual(
        (await versions('CLI_KEY')).map((v) => v.version),
        [1],
      );
      assert.equal(await status('CLI_KEY'), 'deployed');
    });
  });
}
