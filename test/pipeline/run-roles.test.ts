/**
 * `keyloft run` and `keyloft deploy fly` with split roles: KEYLOFT_URL names a key-less `api`
 * server, which answers the secrets route with 421 and the release server's URL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, keyloft, parseFlySecrets } from './pipeline-fixture.js';

describe('split roles: the pipeline talks to an api server and is sent to the release server', () => {
  let store: TestStore;
  let apiServer: TestServer;
  let releaseServer: TestServer;
  let token: string;
  let work: string;
  const slug = `roles-${randomBytes(3).toString('hex')}`;
  const VALUE = `role-split-${randomBytes(8).toString('hex')}`;
  const noKey = { KEYLOFT_MASTER_KEY_FILE: undefined, KEYLOFT_MASTER_KEY: undefined };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyloft-roles-'));
    store = await createStore('sqlite');
    const all = await startServer(store);
    try {
      const admin = await bootstrap(all);
      token = admin.token!;
      assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Roles', flyApp: `${slug}-app` })).status, 201);
      assert.equal((await admin.put(`/api/v1/projects/${slug}/secrets/production/ROLE_VALUE`, { value: VALUE })).status, 201);
      await grantRelease(admin, slug);
    } finally {
      await all.stop();
    }
    releaseServer = await startServer(store, { role: 'release' });
    apiServer = await startServer(store, { role: 'api', env: { ...(store.dialect === 'postgres' ? noKey : {}), KEYLOFT_RELEASE_URL: releaseServer.url } });
  });
  after(async () => {
    await apiServer?.stop();
    await releaseServer?.stop();
    await store?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('deploy start on the api server, keyloft run gets its values from the release server', async () => {
    const s = await keyloft(['deploy', 'start', '--project', slug, '--env', 'production'], cliEnv({ KEYLOFT_URL: apiServer.url, KEYLOFT_TOKEN: token })).done;
    assert.equal(s.code, 0, s.stderr);
    const exported = Object.fromEntries([...s.stdout.matchAll(/^export (KEYLOFT_\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    assert.equal(exported.KEYLOFT_URL, apiServer.url);
    // the release instance is another host: without KEYLOFT_RELEASE_URL the deploy token is not sent there
    const refused = await keyloft(['run', '--', process.execPath, '-e', 'console.log("ran")'], cliEnv(exported)).done;
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /was not sent there/);
    assert.doesNotMatch(refused.stdout, /ran/);
    const env = cliEnv({ ...exported, KEYLOFT_RELEASE_URL: releaseServer.url });
    const out = join(work, 'seen.txt');
    const r = await keyloft(['run', '--', process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], process.env.ROLE_VALUE)', out], env).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), VALUE);
    const c = await keyloft(['deploy', 'complete', '--status', 'succeeded'], env).done;
    assert.equal(c.code, 0, c.stderr);
  });

  test('deploy fly through the api server', async () => {
    const flyctl = join(work, 'flyctl');
    const log = join(work, 'fly.jsonl');
    writeFileSync(
      flyctl,
      `#!${process.execPath}\nconst c=[];process.stdin.on('data',d=>c.push(d));process.stdin.on('end',()=>{require('fs').appendFileSync(process.env.FAKE_FLY_LOG, JSON.stringify({argv:process.argv.slice(2),stdin:Buffer.concat(c).toString()})+'\\n')});\n`,
    );
    chmodSync(flyctl, 0o755);
    const r = await keyloft(
      ['deploy', 'fly', '--project', slug, '--env', 'production'],
      cliEnv({ KEYLOFT_URL: apiServer.url, KEYLOFT_TOKEN: token, KEYLOFT_RELEASE_URL: releaseServer.url, KEYLOFT_FLYCTL: flyctl, FAKE_FLY_LOG: log }),
    ).done;
    assert.equal(r.code, 0, r.stderr);
    const calls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; stdin: string });
    assert.deepEqual(parseFlySecrets(calls[0]!.stdin), { ROLE_VALUE: VALUE });
    assert.deepEqual(calls[1]!.argv, ['deploy', '--app', `${slug}-app`]);
  });
});
