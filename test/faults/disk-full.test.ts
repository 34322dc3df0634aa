import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, bootstrap, grantRelease } from '../helpers/client.js';
import { startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, stopOrKill, writeFigures } from '../security/support.js';
import { sleep, WriteLoad } from './support.js';

/**
 * The embedded default's disk fills up under a running server: the SQLite data directory is a
 * small tmpfs the test mounts (as root), filled with a file until ENOSPC, then freed.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'keyloft-diskfull-'));
let mounted = false;
let skip: string | false = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', dataDir], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  skip = `SKIPPED: mounting a tmpfs is not permitted here (${String((err as { stderr?: Buffer }).stderr ?? err)
    .trim()
    .slice(0, 120)}); run as root to try a full disk`;
  rmSync(dataDir, { recursive: true, force: true });
}

/** Fills the file system holding `dir` with one file until the kernel refuses (ENOSPC); returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // the last few pages: smaller writes until nothing fits
    for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
      try {
        for (;;) writeSync(fd, chunk.subarray(0, size));
      } catch {
        // next size
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

describe('disk full on the embedded SQLite default', { skip }, () => {
  const store: TestStore = { dialect: 'sqlite', dataDir, databaseUrl: undefined, cleanup: async () => {} };
  let server: TestServer | undefined;

  before(() => {});
  after(async () => {
    await stopOrKill(server);
    if (mounted) execFileSync('umount', ['-l', dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses writes with 507 storage_full and a message for the operator, keeps reads, sign-ins and releases working, resumes after space is freed, loses nothing acknowledged', {
    timeout: 120_000,
  }, async () => {
    server = await startServer(store);
    const api = await bootstrap(server);
    const before = await api.post('/api/v1/projects', {
      slug: 'full',
      name: 'full',
      secrets: [{ name: 'BEFORE', scope: 'production', value: 'before-the-disk-filled' }],
    });
    assert.equal(before.status, 201, before.text);
    await grantRelease(api, 'full');
    // A deployment started while there was room: its release must still work on a full disk.
    const dep = await api.post('/api/v1/projects/full/deployments', { environment: 'production' });
    assert.equal(dep.status, 201, dep.text);

    const load = new WriteLoad(api, 'full');
    const filler = fill(dataDir);
    // SQLite reuses the pages its write-ahead log already has: writes go on until those run out.
    const big = (i: number) => `${String(i).padStart(6, '0')}-${'x'.repeat(60 * 1024)}`;
    let i = 0;
    let full: { status: number; body: any } | undefined;
    for (; i < 400 && !full; i++) {
      const r = await api.put(`/api/v1/projects/full/secrets/production/FILL_${i % 8}`, { value: big(i) });
      if (r.status === 200 || r.status === 201)
        load.acked.set(`FILL_${i % 8}`, [...(load.acked.get(`FILL_${i % 8}`) ?? []), { value: big(i), version: r.body.secret.version }]);
      else {
        load.maybe.set(`FILL_${i % 8}`, [...(load.maybe.get(`FILL_${i % 8}`) ?? []), big(i)]);
        full = r;
      }
    }
    assert.ok(full, 'a write was refused once the disk was full');
    assert.equal(full.status, 507, JSON.stringify(full.body));
    assert.equal(full.body.error.code, 'storage_full');
    assert.match(full.body.error.message, /storage is full.*nothing was saved.*free disk space/);

    // More writes while full: all refused the same way, none a 500.
    for (let k = 0; k < 5; k++) await load.put(`SMALL_${k}`, `small-${k}`);
    const refusedWhileFull = load.statuses.get('507 storage_full') ?? 0;
    assert.equal(refusedWhileFull, 5, `writes while full: ${JSON.stringify(Object.fromEntries(load.statuses))}`);
    assert.ok(!existsSync(join(dataDir, 'keyloft.reserve')), 'keyloft freed its disk reserve');
    assert.deepEqual(load.failures, []);
    // Reads keep working.
    const list = await api.get('/api/v1/projects/full/secrets');
    assert.equal(list.status, 200, list.text);
    // Releases (their audit events go into the reserve keyloft freed) and sign-ins keep working.
    const release = await new Api(server.url, dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
    const releaseWhileFull = release.status;
    assert.equal(releaseWhileFull, 200, `the release of a running deployment on a full disk: ${release.text.slice(0, 300)}`);
    assert.equal(release.body.runtime.BEFORE, 'before-the-disk-filled');
    const signIn = await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    assert.equal(signIn.status, 200, 'sign-in on a full disk');
    const complete = await new Api(server.url, dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, { status: 'succeeded' });
    assert.equal(complete.status, 200, `completing a deployment on a full disk: ${complete.text.slice(0, 200)}`);
    // Still full for people's changes.
    assert.equal(await load.put('STILL_FULL', 'still-full'), 507);

    // Space freed: writes resume without a restart (keyloft re-creates its reserve first; it looks every 2 s).
    unlinkSync(filler);
    let after = 0;
    for (let waited = 0; waited < 30_000; waited += 500) {
      after = await load.put('AFTER', 'after-space-was-freed');
      if (after === 201) break;
      await sleep(500);
    }
    assert.equal(after, 201, `a write after space was freed: ${after}`);
    const { lost } = await load.verify(store, api);
    assert.equal(lost, 0, `${lost} acknowledged writes lost`);
    assert.equal(server.process.exitCode, null, 'keyloft kept running');
    const out = server.output();
    assert.equal(out.split('\n').filter((l) => l.includes('storage full')).length, 1, 'the full disk is logged once, not per request');
    assert.ok(!/unhandled error|request failed/.test(out), 'no per-request error lines');

    await stopOrKill(server);
    const check = await dbQuery<{ integrity_check: string }>(store, 'pragma integrity_check');
    assert.equal(check[0]!.integrity_check, 'ok');
    assert.ok(existsSync(join(dataDir, 'keyloft.reserve')), 'the reserve is back once there was room');
    writeFigures('faults-disk-full', {
      writesAcknowledgedBeforeFull: i - 1,
      writesRefusedWhileFull: (load.statuses.get('507 storage_full') ?? 0) + 1,
      signInWhileFull: signIn.status,
      completeWhileFull: complete.status,
      byStatus: Object.fromEntries(load.statuses),
      readWhileFull: list.status,
      releaseWhileFull,
      writeAfterFreed: after,
      acknowledgedWrites: load.acknowledged,
      lost,
      integrityCheck: check[0]!.integrity_check,
    });
  });
});
