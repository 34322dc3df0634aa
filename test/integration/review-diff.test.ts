import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Api, bootstrap } from '../helpers/client.js';
import { deploy, seedReviewProject } from '../helpers/fixtures.js';
import { createStore, dialects, KEYLOFT_BIN, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

// The CLI prints what the server answered: one engine is enough (both are tested in process).
for (const d of (await dialects()).filter((x) => x.name === 'sqlite')) {
  describe(`${d.name}: the change diff per deployment, as keyloft deploy show prints it`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    const slug = `review-${randomBytes(3).toString('hex')}`;
    const V = { a: val('a'), a2: val('a2'), b: val('b'), c: val('c'), keep: val('keep') };

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      await seedReviewProject(admin, slug, V);
    });
    after(async () => {
      await server?.stop();
      await store?.cleanup();
    });

    // The API's side of the diff is tested in process (test/http/review-diff.test.ts); here, the CLI prints it.
    test('keyloft deploy show prints the change diff the API shows (--json the same object; human + ~ -), never a value', async () => {
      const first = await deploy(admin, slug, { environment: 'production' });
      const r = await admin.post(`/api/v1/projects/${slug}/secrets/production:import?replace=true`, `A=${V.a2}\nC=${V.c}\n`, { contentType: 'text/plain' });
      assert.equal(r.status, 200, r.text);
      await deploy(admin, slug, { environment: 'production' }, 'failed');
      const second = await deploy(admin, slug, { environment: 'production' });
      const shown = await admin.get(`/api/v1/projects/${slug}/deployments/${second}`);
      assert.equal(shown.status, 200, shown.text);
      const ch = shown.body.changes;
      assert.equal(ch.previous, first);
      // The CLI: keyloft deploy show ID --project P [--json]
      const cli = (args: string[]) =>
        execFileSync(process.execPath, [KEYLOFT_BIN, ...args], {
          env: { ...process.env, KEYLOFT_URL: server.url, KEYLOFT_TOKEN: admin.token!, KEYLOFT_PROJECT: undefined },
          encoding: 'utf8',
        });
      const json = JSON.parse(cli(['deploy', 'show', second, '--project', slug, '--json']));
      assert.deepEqual(json.changes, ch);
      const human = cli(['deploy', 'show', second, '--project', slug]);
      assert.match(human, /\+ C\n/);
      assert.match(human, new RegExp(`~ A  ${ch.changed[0].digestBefore} -> ${ch.changed[0].digestAfter}`));
      assert.match(human, /- B\n/);
      for (const v of Object.values(V)) assert.ok(!human.includes(v));
    });
  });
}
