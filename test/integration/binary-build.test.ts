/**
 * Binary build secrets and `deploy fly`: flyctl's --build-secret takes text, so a deployment
 * that would need to pass a binary value is refused before it exists (naming the secrets and
 * the alternative, `keyloft run --build` files); the Build page and `secrets set --scope build`
 * say when a value is binary.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, dialects, KEYLOFT_BIN, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x7f]);

for (const d of await dialects()) {
  describe(`${d.name}: binary build secrets`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let dir: string;
    const slug = 'bin';
    const P = `/api/v1/projects/${slug}`;

    function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
      const e: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) e[k] = v;
      Object.assign(e, { KEYLOFT_URL: server.url, KEYLOFT_TOKEN: admin.token!, KEYLOFT_CONFIG_DIR: dir }, env);
      const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env: e, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      return new Promise((r) => child.on('close', (code) => r({ code, out, err })));
    }

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      const r = await admin.post('/api/v1/projects', { slug, name: 'Bin', secrets: [{ name: 'NPM_TOKEN', scope: 'build', value: 'npm_text_token' }] });
      assert.equal(r.status, 201, r.text);
      await grantRelease(admin, slug); // deploy keys and deployments need the release grant
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

    test('a start asking for text build secrets is refused with the names, and no deployment exists', async () => {
      const r = await admin.post(`${P}/deployments`, { environment: 'production', textBuildSecrets: true });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.error.field, 'textBuildSecrets');
      assert.match(r.body.error.message, /SIGNING_CERT/);
      assert.match(r.body.error.message, /keyloft run --build/);
      assert.doesNotMatch(r.body.error.message, /NPM_TOKEN/);
      assert.equal((await admin.get(`${P}/deployments`)).body.deployments.length, 0);
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

    test('keyloft deploy start (for keyloft run --build) still starts: its files carry any bytes', async () => {
      const r = await admin.post(`${P}/deployments`, { environment: 'production' });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(
        r.body.pinned.build.map((b: { name: string }) => b.name),
        ['NPM_TOKEN', 'OTHER', 'SIGNING_CERT'],
      );
    });

    test('the Build page marks the binary secret and says deploy fly cannot pass it', async () => {
      const login = await fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
      });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const page = await (await fetch(`${server.url}/projects/${slug}/settings/build`, { headers: { cookie } })).text();
      const row = page.slice(page.indexOf('SIGNING_CERT'), page.indexOf('</tr>', page.indexOf('SIGNING_CERT')));
      assert.match(row, />binary</);
      assert.match(row, /keyloft deploy fly<\/code> cannot pass it/);
      const npm = page.slice(page.indexOf('NPM_TOKEN'), page.indexOf('</tr>', page.indexOf('NPM_TOKEN')));
      assert.doesNotMatch(npm, />binary</);
    });
  });
}

