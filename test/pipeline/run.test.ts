/**
 * `keyloft run` end to end: the real binary as a subprocess against a real keyloft server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, encodedForms, keyloft, waitFor } from './pipeline-fixture.js';

const hex = () => randomBytes(8).toString('hex');

const RUNTIME = {
  SINGLE: `sk_live_${hex()}`,
  MULTI: `-----BEGIN TEST KEY-----\nMIIB${hex()}${hex()}\nQAB${hex()}${hex()}\n-----END TEST KEY-----\n`,
  URLVAL: `p@ss w/rd&x=${hex()}?`,
  SPLIT: `split-${hex()}-${hex()}`,
};
const BUILD_TEXT = `npm_build_${hex()}`;
const BUILD_BIN = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe]), randomBytes(40), Buffer.from('\n')]);
const PREVIEW_ONLY = `preview-only-${hex()}`;

/** Every form of every value that must not show in output. */
const FORBIDDEN = [...Object.values(RUNTIME).flatMap((v) => encodedForms(v)), ...encodedForms(BUILD_TEXT), ...encodedForms(BUILD_BIN)];

function assertClean(output: string, what: string): void {
  for (const f of FORBIDDEN) assert.ok(!output.includes(f), `${what} contains a secret form (${f.length} chars, starts ${JSON.stringify(f.slice(0, 3))})`);
}

/** The child of the main test: writes what it saw to a file (argv[1]), then prints every value in many forms. */
const CHILD = String.raw`
const fs = require('fs');
const e = process.env;
fs.writeFileSync(process.argv[1], JSON.stringify({
  SINGLE: e.SINGLE, MULTI: e.MULTI, URLVAL: e.URLVAL, SPLIT: e.SPLIT,
  BUILD_TEXT: e.BUILD_TEXT ?? null, token: e.KEYLOFT_DEPLOY_TOKEN ?? null, dir: e.KEYLOFT_SECRETS_DIR ?? null,
  deployment: e.KEYLOFT_DEPLOYMENT ?? null,
}));
console.log('start-marker');
console.log('single: ' + e.SINGLE);
console.log('multi: ' + e.MULTI);
console.log('b64: ' + Buffer.from(e.SINGLE).toString('base64'));
console.log('b64-offset1: ' + Buffer.from('x' + e.SINGLE).toString('base64'));
console.log('b64-multi: ' + Buffer.from(e.MULTI).toString('base64'));
console.log('url: ' + encodeURIComponent(e.URLVAL));
console.log('json: ' + JSON.stringify({ multi: e.MULTI, url: e.URLVAL }));
console.error('stderr single: ' + e.SINGLE + ' url: ' + e.URLVAL);
process.stdout.write('split: ' + e.SPLIT.slice(0, 9));
process.stderr.write('stderr split: ' + e.SPLIT.slice(0, 12));
setTimeout(() => {
  process.stdout.write(e.SPLIT.slice(9) + '\nend-marker\n');
  process.stderr.write(e.SPLIT.slice(12) + '\n');
  process.exitCode = 7;
}, 200);
`;

/** A build step: checks the secrets dir and files, writes its findings to argv[1]. */
const BUILD_CHILD = String.raw`
const fs = require('fs');
const path = require('path');
const dir = process.env.KEYLOFT_SECRETS_DIR;
const st = fs.statSync(dir);
const files = fs.readdirSync(dir).sort();
const report = {
  dir, dirMode: st.mode & 0o777, files,
  modes: Object.fromEntries(files.map((f) => [f, fs.statSync(path.join(dir, f)).mode & 0o777])),
  contents: Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')])),
  envText: process.env.BUILD_TEXT ?? null, envBin: process.env.BUILD_BIN ?? null, runtime: process.env.SINGLE ?? null,
};
fs.writeFileSync(process.argv[1], JSON.stringify(report));
console.log('build secret: ' + process.env.BUILD_TEXT + ' dir=' + dir);
if (process.argv[2] === 'crash') process.kill(process.pid, 'SIGKILL');
`;

/** Waits with its secrets dir printed, until SIGINT (which it reports to argv[1]). */
const WAITING_CHILD = String.raw`
const fs = require('fs');
process.on('SIGINT', () => { fs.writeFileSync(process.argv[1], 'got SIGINT'); setTimeout(() => process.exit(0), 100); });
console.log('ready dir=' + process.env.KEYLOFT_SECRETS_DIR);
setInterval(() => {}, 1000);
`;

describe('keyloft run (end to end, real server)', () => {
  let store: TestStore;
  let server: TestServer;
  let api: Api;
  let work: string;
  let deployment: { id: string; token: string };
  const slug = `run-${hex().slice(0, 6)}`;
  let env: Record<string, string>;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyloft-run-test-'));
    store = await createStore('sqlite');
    server = await startServer(store);
    api = await bootstrap(server);
    const p = await api.post('/api/v1/projects', { slug, name: 'Run test' });
    assert.equal(p.status, 201, p.text);
    await grantRelease(api, slug);
    for (const [name, value] of Object.entries(RUNTIME)) {
      const r = await api.put(`/api/v1/projects/${slug}/secrets/production/${name}`, { value });
      assert.ok(r.status === 201 || r.status === 200, r.text);
    }
    assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/preview/PREVIEW_ONLY`, { value: PREVIEW_ONLY })).status, 201);
    assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/build/BUILD_TEXT`, { value: BUILD_TEXT })).status, 201);
    assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/build/BUILD_BIN`, { valueBase64: BUILD_BIN.toString('base64') })).status, 201);
    const d = await api.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
    assert.equal(d.status, 201, d.text);
    deployment = { id: d.body.id, token: d.body.token };
    env = cliEnv({ KEYLOFT_URL: server.url, KEYLOFT_DEPLOYMENT: deployment.id, KEYLOFT_DEPLOY_TOKEN: deployment.token });
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the child sees its runtime secrets; its output is masked; its exit code is returned', async () => {
    const seen = join(work, 'seen.json');
    const r = await keyloft(['run', '--', process.execPath, '-e', CHILD, seen], env).done;
    assert.equal(r.code, 7, r.stderr);
    const got = JSON.parse(readFileSync(seen, 'utf8'));
    assert.equal(got.SINGLE, RUNTIME.SINGLE);
    assert.equal(got.MULTI, RUNTIME.MULTI, 'multi-line value byte for byte, trailing newline included');
    assert.equal(got.URLVAL, RUNTIME.URLVAL);
    assert.equal(got.SPLIT, RUNTIME.SPLIT);
    assert.equal(got.BUILD_TEXT, null, 'no build secret at runtime');
    assert.equal(got.dir, null, 'no secrets dir at runtime');
    assert.equal(got.token, null, 'the deploy token is withheld from the child');
    assert.equal(got.deployment, deployment.id);

    assert.match(r.stdout, /start-marker/);
    assert.match(r.stdout, /end-marker/);
    assert.match(r.stdout, /single: \*\*\*\n/);
    assert.match(r.stdout, /split: \*\*\*\n/, 'a value split across two writes is one mask');
    assert.match(r.stdout, /url: \*\*\*\n/);
    assert.match(r.stderr, /stderr single: \*\*\* url: \*\*\*/);
    assert.match(r.stderr, /stderr split: \*\*\*\n/);
    assertClean(r.stdout, 'stdout');
    assertClean(r.stderr, 'stderr');
    assert.ok(!r.stdout.includes(PREVIEW_ONLY) && !r.stderr.includes(PREVIEW_ONLY));
    assert.ok(!r.stdout.includes(deployment.token) && !r.stderr.includes(deployment.token));
  });

  test('--build: build secrets as env vars and as 0600 files in a 0700 dir that is gone afterwards', async () => {
    const report = join(work, 'build.json');
    const r = await keyloft(['run', '--build', '--', process.execPath, '-e', BUILD_CHILD, report], env).done;
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(got.dirMode, 0o700);
    assert.deepEqual(got.files, ['BUILD_BIN', 'BUILD_TEXT']);
    assert.deepEqual(got.modes, { BUILD_BIN: 0o600, BUILD_TEXT: 0o600 });
    assert.equal(got.contents.BUILD_TEXT, Buffer.from(BUILD_TEXT).toString('base64'), 'exact bytes');
    assert.equal(got.contents.BUILD_BIN, BUILD_BIN.toString('base64'), 'exact bytes of a binary value');
    assert.equal(got.envText, BUILD_TEXT);
    assert.equal(got.envBin, null, 'a binary value (NUL, not UTF-8) is a file only');
    assert.match(r.stderr, /BUILD_BIN is binary/);
    assert.equal(got.runtime, null, 'no runtime secret in a build');
    assert.ok(!existsSync(got.dir), 'the secrets dir is removed when the child exits');
    assert.match(r.stdout, /build secret: \*\*\* dir=/);
    assertClean(r.stdout, 'stdout');
    assertClean(r.stderr, 'stderr');
  });

  test('the secrets dir is removed when the child crashes; exit code 128+9', async () => {
    const report = join(work, 'crash.json');
    const r = await keyloft(['run', '--build', '--', process.execPath, '-e', BUILD_CHILD, report, 'crash'], env).done;
    assert.equal(r.code, 137, r.stderr);
    const got = JSON.parse(readFileSync(report, 'utf8'));
    assert.ok(!existsSync(got.dir), 'the secrets dir is removed after a crash');
  });

  test('SIGINT to keyloft: forwarded to the child, dir removed, exit 130', async () => {
    const marker = join(work, 'sigint.txt');
    const running = keyloft(['run', '--build', '--', process.execPath, '-e', WAITING_CHILD, marker], env);
    await waitFor(running, (out) => /ready dir=\S+\n/.test(out));
    const dir = /ready dir=(\S+)\n/.exec(running.stdout())![1]!;
    assert.ok(existsSync(dir), 'the dir exists while the child runs');
    running.child.kill('SIGINT');
    const r = await running.done;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(readFileSync(marker, 'utf8'), 'got SIGINT', 'the child received the signal');
    assert.ok(!existsSync(dir), 'the secrets dir is removed after SIGINT');
  });

  test('SIGTERM to keyloft: exit 143, dir removed', async () => {
    const running = keyloft(
      ['run', '--build', '--', process.execPath, '-e', 'console.log("ready dir=" + process.env.KEYLOFT_SECRETS_DIR); setInterval(() => {}, 1000)'],
      env,
    );
    await waitFor(running, (out) => /ready dir=\S+\n/.test(out));
    const dir = /ready dir=(\S+)\n/.exec(running.stdout())![1]!;
    running.child.kill('SIGTERM');
    const r = await running.done;
    assert.equal(r.code, 143, r.stderr);
    assert.ok(!existsSync(dir));
  });

  test('exit codes: 0 passes through, command not found is 127', async () => {
    assert.equal((await keyloft(['run', '--', process.execPath, '-e', 'process.exit(0)'], env).done).code, 0);
    const r = await keyloft(['run', '--', 'keyloft-no-such-command-xyz'], env).done;
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found/);
  });

  test('missing settings exit 1; a refused token exits 2; an unreachable server exits 3 — the child never runs', async () => {
    const missing = await keyloft(['run', '--', process.execPath, '-e', 'console.log("ran")'], cliEnv({ KEYLOFT_URL: server.url })).done;
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /KEYLOFT_DEPLOY_TOKEN, KEYLOFT_DEPLOYMENT not set/);
    assert.doesNotMatch(missing.stdout, /ran/);

    const wrong = await keyloft(['run', '--', process.execPath, '-e', 'console.log("ran")'], { ...env, KEYLOFT_DEPLOY_TOKEN: `kldt_${hex()}${hex()}` }).done;
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.doesNotMatch(wrong.stdout, /ran/);

    const down = await keyloft(['run', '--', process.execPath, '-e', 'console.log("ran")'], { ...env, KEYLOFT_URL: 'http://127.0.0.1:9' }).done;
    assert.equal(down.code, 3, down.stderr);
    assert.match(down.stderr, /cannot reach/);
  });

  test('deploy complete ends the deployment; its token is then refused', async () => {
    const d = await api.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
    assert.equal(d.status, 201, d.text);
    const e = cliEnv({ KEYLOFT_URL: server.url, KEYLOFT_DEPLOYMENT: d.body.id, KEYLOFT_DEPLOY_TOKEN: d.body.token });
    const c = await keyloft(['deploy', 'complete', '--status', 'succeeded'], e).done;
    assert.equal(c.code, 0, c.stderr);
    const shown = await api.get(`/api/v1/projects/${slug}/deployments/${d.body.id}`);
    assert.equal(shown.body.deployment.status, 'succeeded');
    const r = await keyloft(['run', '--', process.execPath, '-e', 'console.log("ran")'], e).done;
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stdout, /ran/);
  });

  test("SIGKILL to keyloft leaves its secrets dir on tmpfs (/dev/shm); the next run sweeps it, never a live run's", {
    skip: existsSync('/dev/shm') ? false : 'SKIPPED: no /dev/shm on this system',
  }, async () => {
    const child = 'console.log("ready pid=" + process.pid + " dir=" + process.env.KEYLOFT_SECRETS_DIR); setInterval(() => {}, 1000)';
    const running = keyloft(['run', '--build', '--', process.execPath, '-e', child], env);
    await waitFor(running, (out) => /ready pid=\d+ dir=\S+\n/.test(out));
    const [, grandchild, dir] = /ready pid=(\d+) dir=(\S+)\n/.exec(running.stdout())!;
    // a live run's directory (this test process's pid) and a foreign-looking name must survive the sweep
    const live = join('/dev/shm', `keyloft-secrets-${process.pid}-live00`);
    const other = join('/dev/shm', `keyloft-secrets-other-${hex().slice(0, 6)}`);
    mkdirSync(live, { mode: 0o700 });
    mkdirSync(other, { mode: 0o700 });
    try {
      assert.equal(dirname(dir!), '/dev/shm', 'the secrets dir is created under /dev/shm');
      assert.equal(statfsSync(dir!).type, 0x01021994, 'the secrets dir is on tmpfs (TMPFS_MAGIC)');
      assert.match(dir!, new RegExp(`/keyloft-secrets-${running.child.pid}-[A-Za-z0-9]{6}$`), 'its name carries the owning pid');
      running.child.kill('SIGKILL');
      await running.done;
      process.kill(Number(grandchild), 'SIGKILL');
      assert.ok(existsSync(dir!), 'SIGKILL leaves the directory behind (nothing can run on SIGKILL)');
      assert.ok(existsSync(join(dir!, 'BUILD_TEXT')));
      const next = await keyloft(['run', '--', process.execPath, '-e', 'console.log("next")'], env).done;
      assert.equal(next.code, 0, next.stderr);
      assert.ok(!existsSync(dir!), "the next run removed the dead run's directory");
      assert.match(next.stderr, /removed 1 secrets directory left by a killed keyloft run/);
      assert.ok(existsSync(live), 'a directory of a running process is kept');
      assert.ok(existsSync(other), 'a name without a pid is kept');
    } finally {
      running.child.kill('SIGKILL');
      try {
        process.kill(Number(grandchild), 'SIGKILL');
      } catch {}
      rmSync(dir!, { recursive: true, force: true });
      rmSync(live, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    }
  });

  for (const [tool, args] of [
    ['base64', []],
    ['base64', ['-w', '64']],
    ['od', ['-An', '-tx1']],
    ['xxd', ['-p']],
    ['xxd', ['-p', '-u']],
  ] as const) {
    const absent = spawnSync(tool, ['--version']).error ? `SKIPPED: ${tool} is not installed` : false;
    test(`a child piping a value through the real \`${tool} ${args.join(' ')}\` prints only masks`, { skip: absent }, async () => {
      // MULTI is long enough to wrap (76/64 base64 columns, 16 bytes per od line, 30 per xxd -p line); a prefix moves the phase.
      const script = `for p in "" "." ".." "...." "......................."; do printf '%s%s' "$p" "$MULTI" | ${tool} ${args.join(' ')}; printf '%s%s' "$p" "$SINGLE" | ${tool} ${args.join(' ')}; done`;
      const r = await keyloft(['run', '--', 'sh', '-c', script], env).done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\*\*\*/);
      const flat = r.stdout.replace(/\s+/g, '');
      for (const v of [RUNTIME.MULTI, RUNTIME.SINGLE]) {
        const b = Buffer.from(v);
        const forms = [
          b.toString('hex'),
          b.toString('hex').toUpperCase(),
          ...[0, 1, 2].map((o) =>
            Buffer.concat([Buffer.alloc(o), b])
              .toString('base64')
              .slice(Math.ceil((8 * o) / 6) + 1, Math.floor((8 * (o + b.length)) / 6) - 1),
          ),
        ];
        for (const f of forms)
          for (let i = 0; i + 8 <= f.length; i += 4)
            assert.ok(!flat.includes(f.slice(i, i + 8)), `an 8-character piece of an encoding of a value survived in ${tool}'s output`);
      }
    });
  }
});
