/**
 * Binary build secrets and `deploy fly`: flyctl's --build-secret takes text, so a deployment
 * that would need to pass a binary value is refused before it exists (naming the secrets and
 * the alternative, `keyloft run --build` files); the Build page and `secrets set --scope build`
 * say when a value is binary.
 *
 * Here what the CLI does (subprocesses, SQLite); the API and the Build page are tested in process
 * on both engines (test/http/binary-build.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Api, bootstrap } from '../helpers/client.js';
import { runKeyloft, seedProject } from '../helpers/fixtures.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x7f]);

for (const d of (await dialects()).filter((x) => x.name === 'sqlite')) {
  describe(`${d.name}: binary build secrets`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let dir: string;
    const slug = 'bin';
    const P = `/api/v1/projects/${slug}`;

    const cli = (args: string[], env: Record<string, string> = {}) => runKeyloft({ url: server.url, token: admin.token!, dir }, args, { env });

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Bin' }, [{ name: 'NPM_TOKEN', scope: 'build', value: 'npm_text_token' }]);
      dir = mkdtempSync(join(tmpdir(), 'keyloft-binary-'));
      writeFileSync(join(dir, 'cert.der'), BINARY);
    });
    after(async () => {
      await server?.stop();
      await store?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('secrets set --scope build with a binary file says deploy fly cannot pass it, and the list marks it binary', async () => {
      const r = await cli(['secrets', 'set', '--project', slug, '--scope', 'build', 'SIGNING_CERT=@cert.der']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /SIGNING_CERT: binary/);
      assert.match(r.out, /keyloft deploy fly` cannot pass it/);
      assert.match(r.out, /keyloft run --build/);
      const text = await cli(['secrets', 'set', '--project', slug, '--scope', 'build', 'OTHER=plain-text']);
      assert.equal(text.code, 0, text.err);
      assert.doesNotMatch(text.out, /binary/);
      const list = await admin.get(`${P}/secrets?scope=build`);
      const byName = new Map((list.body.secrets as Array<{ name: string; binary?: boolean }>).map((s) => [s.name, s]));
      assert.equal(byName.get('SIGNING_CERT')?.binary, true);
      assert.equal(byName.get('NPM_TOKEN')?.binary, undefined);
    });

    test('keyloft deploy fly refuses before any deployment exists and never runs flyctl', async () => {
      const marker = join(dir, 'flyctl-ran');
      const fake = join(dir, 'flyctl');
      writeFileSync(fake, `#!/bin/sh\ntouch ${marker}\nexit 0\n`, { mode: 0o755 });
      const r = await cli(['deploy', 'fly', '--project', slug, '--env', 'production', '--ref', 'abc'], { KEYLOFT_FLYCTL: fake });
      assert.notEqual(r.code, 0);
      assert.match(r.err, /SIGNING_CERT/);
      assert.match(r.err, /keyloft run --build/);
      assert.equal((await admin.get(`${P}/deployments`)).body.deployments.length, 0);
      assert.equal(existsSync(marker), false, 'flyctl never ran');
    });
  });
}
