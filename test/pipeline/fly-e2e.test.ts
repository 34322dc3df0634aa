/**
 * `keyloft deploy fly` end to end: the real binary against a real server, with a stand-in
 * `flyctl` that records its arguments and stdin and exits with a configurable code.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, encodedForms, keyloft, parseFlySecrets, waitFor } from './pipeline-fixture.js';

const hex = () => randomBytes(8).toString('hex');

const RUNTIME: Record<string, string> = {
  DATABASE_URL: `postgres://app:${hex()}@db.internal:5432/app`,
  API_KEY: `sk_live_${hex()}`,
  PEM_KEY: `-----BEGIN PRIVATE KEY-----\n${randomBytes(36).toString('base64')}\n${randomBytes(36).toString('base64')}\n-----END PRIVATE KEY-----\n`,
  SPACED: `  leading spaces ${hex()}`,
  QUOTED: `"quoted ${hex()}"`,
};
const PREVIEW: Record<string, string> = { DATABASE_URL: `postgres://preview:${hex()}@db/preview` };
const BUILD: Record<string, string> = { NPM_TOKEN: `npm_${hex()}`, SENTRY_AUTH: `sntrys_${hex()}` };

interface Call {
  argv: string[];
  stdin: string;
}

/** The stand-in: appends {argv, stdin} to $FAKE_FLY_LOG, echoes what it got (to test masking), exits as told. */
const FAKE_FLYCTL = `#!${process.execPath}
const fs = require('fs');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const argv = process.argv.slice(2);
  const stdin = Buffer.concat(chunks).toString('utf8');
  fs.appendFileSync(process.env.FAKE_FLY_LOG, JSON.stringify({ argv, stdin }) + '\\n');
  const sub = argv[0] === 'secrets' ? 'IMPORT' : 'DEPLOY';
  console.log('fake flyctl ' + argv[0] + ' args: ' + argv.join(' '));
  if (stdin) console.error('fake flyctl read stdin:\\n' + stdin);
  console.log('env secret leak check: ' + (process.env.API_KEY || 'none') + ' token: ' + (process.env.KEYLOFT_DEPLOY_TOKEN || process.env.KEYLOFT_TOKEN || 'none'));
  const code = Number(process.env['FAKE_FLY_' + sub + '_EXIT'] || 0);
  if (sub === 'DEPLOY' && process.env.FAKE_FLY_DEPLOY_WAIT) {
    process.on('SIGINT', () => { fs.appendFileSync(process.env.FAKE_FLY_LOG, JSON.stringify({ argv: ['got SIGINT'], stdin: '' }) + '\\n'); process.exit(1); });
    console.log('fake flyctl deploying');
    setInterval(() => {}, 1000);
  } else process.exit(code);
});
`;

describe('keyloft deploy fly (end to end, stand-in flyctl)', () => {
  let store: TestStore;
  let server: TestServer;
  let api: Api;
  let work: string;
  let flyctl: string;
  let log: string;
  const slug = `fly-${hex().slice(0, 6)}`;
  const flyApp = `${slug}-prod`;

  const calls = (): Call[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Call)
      : [];

  const latest = async (environment?: string) => {
    const r = await api.get(`/api/v1/projects/${slug}/deployments?limit=1${environment ? `&environment=${environment}` : ''}`);
    assert.equal(r.status, 200, r.text);
    return r.body.deployments[0] as { id: string; status: string; environment: string; pr: number | null };
  };

  const forbidden = [...Object.values(RUNTIME), ...Object.values(PREVIEW), ...Object.values(BUILD)].flatMap((v) => encodedForms(v));
  const assertMasked = (text: string, what: string) => {
    for (const f of forbidden) assert.ok(!text.includes(f), `${what} shows a secret form (${f.length} chars)`);
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyloft-fly-test-'));
    mkdirSync(join(work, 'bin'));
    flyctl = join(work, 'bin', 'flyctl');
    writeFileSync(flyctl, FAKE_FLYCTL);
    chmodSync(flyctl, 0o755);
    log = join(work, 'calls.jsonl');
    store = await createStore('sqlite');
    server = await startServer(store);
    api = await bootstrap(server);
    const p = await api.post('/api/v1/projects', { slug, name: 'Fly test', flyApp });
    assert.equal(p.status, 201, p.text);
    await grantRelease(api, slug);
    for (const [name, value] of Object.entries(RUNTIME))
      assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/${name}`, { value })).status, 201);
    for (const [name, value] of Object.entries(PREVIEW))
      assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/preview/${name}`, { value })).status, 201);
    for (const [name, value] of Object.entries(BUILD)) assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/build/${name}`, { value })).status, 201);
  });
  beforeEach(() => rmSync(log, { force: true }));
  after(async () => {
    await server?.stop();
    await store?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) =>
    cliEnv({ KEYLOFT_URL: server.url, KEYLOFT_TOKEN: api.token, KEYLOFT_FLYCTL: flyctl, FAKE_FLY_LOG: log, ...extra });

  test('production: runtime secrets on stdin only, build secrets as --build-secret, succeeded with exit 0', async () => {
    const r = await keyloft(
      ['deploy', 'fly', '--project', slug, '--env', 'production', '--ref', 'abc123', '--', '--remote-only', '--strategy', 'rolling'],
      env(),
    ).done;
    assert.equal(r.code, 0, r.stderr);
    const [imp, dep, ...rest] = calls();
    assert.equal(rest.length, 0);
    assert.deepEqual(imp!.argv, ['secrets', 'import', '--app', flyApp, '--stage']);
    assert.deepEqual(parseFlySecrets(imp!.stdin), RUNTIME, 'flyctl reads back exactly the pinned runtime values');
    assert.deepEqual(dep!.argv, [
      'deploy',
      '--app',
      flyApp,
      '--build-secret',
      `NPM_TOKEN=${BUILD.NPM_TOKEN}`,
      '--build-secret',
      `SENTRY_AUTH=${BUILD.SENTRY_AUTH}`,
      '--remote-only',
      '--strategy',
      'rolling',
    ]);
    assert.equal(dep!.stdin, '');
    for (const v of Object.values(RUNTIME)) {
      assert.ok(!imp!.argv.join(' ').includes(v) && !dep!.argv.join(' ').includes(v), 'no runtime value in any argument');
    }
    for (const v of Object.values(BUILD)) assert.ok(!imp!.stdin.includes(v), 'no build value staged as a runtime secret');
    assert.ok(!imp!.stdin.includes(PREVIEW.DATABASE_URL!), 'no preview value in a production deployment');
    assertMasked(r.stdout, 'stdout');
    assertMasked(r.stderr, 'stderr');
    assert.match(r.stdout, /env secret leak check: none token: none/, "flyctl gets neither the values nor keyloft's tokens in its environment");
    const d = await latest('production');
    assert.equal(d.status, 'succeeded');
  });

  test("a failing flyctl deploy: deployment failed, keyloft exits with flyctl's code", async () => {
    const r = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env({ FAKE_FLY_DEPLOY_EXIT: '3' })).done;
    assert.equal(r.code, 3, r.stderr);
    assert.equal(calls().length, 2);
    assert.equal((await latest('production')).status, 'failed');
    assertMasked(r.stdout + r.stderr, 'output');
  });

  test("a failing secrets import: no deploy, deployment failed, flyctl's code", async () => {
    const r = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env({ FAKE_FLY_IMPORT_EXIT: '5' })).done;
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(
      calls().map((c) => c.argv[0]),
      ['secrets'],
    );
    assert.equal((await latest('production')).status, 'failed');
  });

  test('preview: flyctl from PATH, the preview app name, preview values only; --app overrides', async () => {
    const pathEnv = env({ PATH: `${join(work, 'bin')}${delimiter}${process.env.PATH ?? ''}` });
    delete pathEnv.KEYLOFT_FLYCTL;
    const r = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'preview', '--pr', '42'], pathEnv).done;
    assert.equal(r.code, 0, r.stderr);
    const [imp, dep] = calls();
    assert.deepEqual(imp!.argv, ['secrets', 'import', '--app', `${slug}-pr-42`, '--stage']);
    assert.deepEqual(parseFlySecrets(imp!.stdin), PREVIEW);
    assert.equal(dep!.argv[2], `${slug}-pr-42`);
    const d = await latest('preview');
    assert.equal(d.pr, 42);
    assert.equal(d.status, 'succeeded');

    rmSync(log, { force: true });
    const o = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'preview', '--pr', '43', '--app', 'my-custom-app'], pathEnv).done;
    assert.equal(o.code, 0, o.stderr);
    assert.ok(calls().every((c) => c.argv.includes('my-custom-app')));
  });

  test('a project deploy key in KEYLOFT_TOKEN can drive a deployment', async () => {
    const k = await api.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'ci' });
    assert.equal(k.status, 201, k.text);
    const r = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env({ KEYLOFT_TOKEN: k.body.token })).done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(k.body.token) && !r.stderr.includes(k.body.token));
    assert.equal((await latest('production')).status, 'succeeded');
  });

  test('usage errors exit 1 (2 when the command line does not parse) before anything starts; flyctl missing fails the deployment', async () => {
    const noPr = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'preview'], env()).done;
    assert.equal(noPr.code, 1);
    assert.match(noPr.stderr, /--pr is required/);
    const badEnv = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'staging'], env()).done;
    assert.equal(badEnv.code, 2, 'a command line that does not parse exits 2, with one line');
    assert.equal(badEnv.stderr.trim().split('\n').length, 1, badEnv.stderr);
    assert.equal(calls().length, 0);

    const missing = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env({ KEYLOFT_FLYCTL: join(work, 'no-such-flyctl') })).done;
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /flyctl not found/);
    assert.equal((await latest('production')).status, 'failed');
  });

  test('SIGINT during flyctl deploy: forwarded to flyctl, deployment failed, exit 130', async () => {
    const running = keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env({ FAKE_FLY_DEPLOY_WAIT: '1' }));
    await waitFor(running, (out) => out.includes('fake flyctl deploying'));
    running.child.kill('SIGINT');
    const r = await running.done;
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(
      calls().map((c) => c.argv[0]),
      ['secrets', 'deploy', 'got SIGINT'],
    );
    assert.equal((await latest('production')).status, 'failed');
  });

  test('deploy start prints shell exports (or JSON) that keyloft run and deploy complete use', async () => {
    const s = await keyloft(['deploy', 'start', '--project', slug, '--env', 'production', '--ref', 'deadbeef'], env()).done;
    assert.equal(s.code, 0, s.stderr);
    const exports = Object.fromEntries([...s.stdout.matchAll(/^export (KEYLOFT_\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(Object.keys(exports).sort(), ['KEYLOFT_DEPLOYMENT', 'KEYLOFT_DEPLOY_TOKEN', 'KEYLOFT_URL']);
    const runEnv = cliEnv(exports);
    const r = await keyloft(['run', '--', process.execPath, '-e', 'console.log(process.env.API_KEY === undefined ? "missing" : "present")'], runEnv).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'present\n');
    const c = await keyloft(['deploy', 'complete', '--status', 'failed'], runEnv).done;
    assert.equal(c.code, 0, c.stderr);
    assert.equal((await latest('production')).status, 'failed');

    const j = await keyloft(['deploy', 'start', '--project', slug, '--env', 'preview', '--pr', '7', '--json'], env()).done;
    assert.equal(j.code, 0, j.stderr);
    const body = JSON.parse(j.stdout);
    assert.equal(typeof body.id, 'string');
    assert.match(body.token, /^kldt_/);
    assert.equal(body.project.app, `${slug}-pr-7`);
    assert.equal(body.url, server.url);
  });

  test('a secret deleted since the last succeeded deployment is unset on Fly (by name, staged) before the deploy', async () => {
    const temp = `temp-${hex()}`;
    assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/TEMP_FLAG`, { value: temp })).status, 201);
    const first = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env()).done;
    assert.equal(first.code, 0, first.stderr);
    assert.ok(!calls().some((c) => c.argv[1] === 'unset'), 'nothing to unset while the secret exists');
    assert.equal((await api.delete(`/api/v1/projects/${slug}/secrets/production/TEMP_FLAG`)).status, 200);
    rmSync(log, { force: true });

    const second = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env()).done;
    assert.equal(second.code, 0, second.stderr);
    const [imp, unset, dep, ...rest] = calls();
    assert.equal(rest.length, 0);
    assert.deepEqual(imp!.argv, ['secrets', 'import', '--app', flyApp, '--stage']);
    assert.ok(!imp!.stdin.includes('TEMP_FLAG='), 'the deleted secret is not staged again');
    assert.deepEqual(unset!.argv, ['secrets', 'unset', '--app', flyApp, '--stage', 'TEMP_FLAG']);
    assert.equal(dep!.argv[0], 'deploy');
    assert.ok(!second.stdout.includes(temp) && !second.stderr.includes(temp));
    const list = await api.get(`/api/v1/projects/${slug}/secrets?scope=production`);
    assert.ok(!list.body.secrets.some((s: { name: string }) => s.name === 'TEMP_FLAG'), 'gone from the list after the succeeded deployment');

    rmSync(log, { force: true });
    const third = await keyloft(['deploy', 'fly', '--project', slug, '--env', 'production'], env()).done;
    assert.equal(third.code, 0, third.stderr);
    assert.ok(!calls().some((c) => c.argv[1] === 'unset'), 'unset once, not on every deployment');
  });
});
