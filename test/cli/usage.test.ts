/**
 * The CLI's small courtesies: a command line that does not parse gets one line and exit 2;
 * a deploy key used on a person's route is told so; `secrets list --filter` and `--pr`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, KEYLOFT_BIN, startServer, type TestServer, type TestStore } from '../helpers/server.js';

let dir: string;
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) e[k] = v;
  Object.assign(e, { KEYLOFT_CONFIG_DIR: dir }, env);
  const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env: e, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((r) => child.on('close', (code) => r({ code, out, err })));
}

describe('CLI usage errors', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyloft-usage-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing required flag prints one line naming it, and exits 2', async () => {
    const r = await cli(['secrets', 'set', 'NAME=x']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'error: --scope is required\n');
    assert.equal(r.out, '');
    const env = await cli(['deploy', 'start', '--project', 'p']);
    assert.equal(env.code, 2);
    assert.equal(env.err, 'error: --env is required\n');
  });

  it('an unknown option or a bad choice is one line too, pointing at --help', async () => {
    for (const args of [
      ['secrets', 'list', '--bogus'],
      ['deploy', 'start', '--env', 'staging'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /^error: .*\(see --help\)\n$/);
    }
  });
});

describe('CLI against a server', () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  let deployKey: string;
  const slug = 'use';
  const P = `/api/v1/projects/${slug}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyloft-usage-'));
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    const r = await admin.post('/api/v1/projects', {
      slug,
      name: 'Use',
      secrets: [
        { name: 'STRIPE_KEY', scope: 'production', value: 'sk_1' },
        { name: 'STRIPE_WEBHOOK', scope: 'preview', value: 'wh_1' },
        { name: 'DATABASE_URL', scope: 'preview', value: 'pg_1' },
      ],
    });
    assert.equal(r.status, 201, r.text);
    await grantRelease(admin, slug); // deploy keys and deployments need the release grant
    assert.equal((await admin.put(`${P}/secrets/preview/DATABASE_URL?pr=42`, { value: 'pg_42' })).status, 201);
    assert.equal((await admin.put(`${P}/secrets/preview/STRIPE_WEBHOOK?pr=7`, { value: 'wh_7' })).status, 201);
    deployKey = (await admin.post(`${P}/deploy-keys`, { name: 'ci' })).body.token;
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const as = (token: string) => ({ KEYLOFT_URL: server.url, KEYLOFT_TOKEN: token });

  it('a deploy key on a person route is told that the route needs a person', async () => {
    const r = await cli(['secrets', 'list', '--project', slug], as(deployKey));
    assert.equal(r.code, 2);
    assert.match(r.err, /needs a person/);
    assert.match(r.err, /a deploy key can only start and complete this project's deployments/);
  });

  it('secrets list --filter keeps the names containing the text, case-insensitively', async () => {
    const r = await cli(['secrets', 'list', '--project', slug, '--filter', 'stripe', '--json'], as(admin.token!));
    assert.equal(r.code, 0, r.err);
    const names = (JSON.parse(r.out) as { secrets: Array<{ name: string }> }).secrets.map((s) => s.name).sort();
    assert.deepEqual(names, ['STRIPE_KEY', 'STRIPE_WEBHOOK', 'STRIPE_WEBHOOK']);
    const none = await cli(['secrets', 'list', '--project', slug, '--filter', 'nothing-like-this'], as(admin.token!));
    assert.equal(none.code, 0);
    assert.match(none.out, /No secrets in use matching "nothing-like-this"/);
  });

  it('secrets list --pr N shows what PR N gets: its overrides in place of the preview defaults, no other PR', async () => {
    const r = await cli(['secrets', 'list', '--project', slug, '--pr', '42', '--json'], as(admin.token!));
    assert.equal(r.code, 0, r.err);
    const rows = (JSON.parse(r.out) as { secrets: Array<{ name: string; pr?: number }> }).secrets.map((s) => `${s.name}${s.pr ? `#${s.pr}` : ''}`).sort();
    assert.deepEqual(rows, ['DATABASE_URL#42', 'STRIPE_WEBHOOK']);
    const wrong = await cli(['secrets', 'list', '--project', slug, '--pr', '42', '--scope', 'production'], as(admin.token!));
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /--pr is only for the preview scope/);
  });
});
