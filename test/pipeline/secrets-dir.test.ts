import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { secretsDirParent, secretsDirPrefix, sweepStaleSecretsDirs } from '../../src/pipeline/secrets-dir.js';

/** A pid that surely no longer runs: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('secrets dir: /dev/shm when usable, else the temp dir; KEYLOFT_TMPDIR wins; the pid is in the name', () => {
  assert.equal(secretsDirParent('/some/where'), '/some/where');
  assert.equal(secretsDirParent(undefined, '/no/such/dir'), tmpdir());
  if (existsSync('/dev/shm')) assert.equal(secretsDirParent(undefined), '/dev/shm');
  assert.equal(secretsDirPrefix('/p', 4242), '/p/keyloft-secrets-4242-');
});

test("secrets dir sweep: removes a dead run's directory only — never a live pid's, a symlink, a file, or a name without a pid", () => {
  const parent = mkdtempSync(join(tmpdir(), 'keyloft-sweep-test-'));
  const outside = mkdtempSync(join(tmpdir(), 'keyloft-sweep-target-'));
  try {
    const dead = deadPid();
    const stale = join(parent, `keyloft-secrets-${dead}-aB3dE9`);
    mkdirSync(stale);
    writeFileSync(join(stale, 'NPM_TOKEN'), 'x');
    const live = join(parent, `keyloft-secrets-${process.ppid}-aB3dE9`); // a running process (the test runner)
    const self = join(parent, `keyloft-secrets-${process.pid}-aB3dE9`);
    mkdirSync(self);
    mkdirSync(live);
    const noPid = join(parent, 'keyloft-secrets-aB3dE9');
    mkdirSync(noPid);
    const link = join(parent, `keyloft-secrets-${dead}-L1nk00`);
    writeFileSync(join(outside, 'keep'), 'y');
    symlinkSync(outside, link);
    const file = join(parent, `keyloft-secrets-${dead}-F1le00`);
    writeFileSync(file, 'z');
    const other = join(parent, `something-${dead}-aB3dE9`);
    mkdirSync(other);

    const removed = sweepStaleSecretsDirs([parent, join(parent, 'missing')]);
    assert.deepEqual(removed, [stale]);
    assert.ok(!existsSync(stale));
    for (const kept of [live, self, noPid, link, file, other, join(outside, 'keep')]) assert.ok(existsSync(kept), `${kept} was kept`);
  } finally {
    rmSync(parent, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
