// Operations: KEYLOFT_METRICS=false (and a bad value stopping serve),
// keyloft backup / restore on the embedded SQLite database while a server writes, several
// instances starting at once on a fresh PostgreSQL database (the migration lock), and
// SIGTERM draining in-flight requests. What /metrics counts is tested in process
// (test/http/metrics.test.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, dialects, KEYLOFT_BIN, startServer, storeEnv, type TestServer, type TestStore } from '../helpers/server.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { verifyMasterKeys } from '../../src/services/bootstrap.js';
import { masterKeyFromPrivate } from '../../src/crypto/keyring.js';

const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

/** Runs a keyloft command on a store; resolves with its exit code and output. */
function keyloft(store: TestStore, args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env: storeEnv(store, env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return new Promise((r) => child.on('close', (code) => r({ code, out })));
}

describe('KEYLOFT_METRICS=false', () => {
  let store: TestStore;
  before(async () => {
    store = await createStore('sqlite');
  });
  after(async () => store?.cleanup());
  test('turns /metrics off; a bad value names the setting', async () => {
    const server = await startServer(store, { env: { KEYLOFT_METRICS: 'false' } });
    try {
      assert.equal((await new Api(server.url).get('/metrics')).status, 404);
    } finally {
      await server.stop();
    }
    const bad = await keyloft(store, ['serve'], { KEYLOFT_METRICS: 'yes' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /KEYLOFT_METRICS must be true or false/);
  });
});

describe('sqlite: keyloft backup and restore', () => {
  let store: TestStore;
  let server: TestServer | undefined;
  let admin: Api;
  const slug = `bk-${randomBytes(4).toString('hex')}`;
  const dbFile = () => join(store.dataDir, 'keyloft.db');
  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Backup' })).status, 201);
    await grantRelease(admin, slug);
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
  });

  test('an online backup while the server writes; restore refuses, then brings back that moment', async () => {
    const out = join(store.dataDir, '..', `${store.dataDir.split('/').pop()}-backup.db`);
    // writes keep coming while the backup runs
    const acked = new Map<string, { value: string; version: number }>();
    let writing = true;
    let i = 0;
    const writer = (async () => {
      while (writing) {
        const name = `K${i % 20}`;
        const value = val(`v${i++}`);
        const r = await admin.put(`/api/v1/projects/${slug}/secrets/production/${name}`, { value });
        assert.ok(r.status === 200 || r.status === 201, r.text);
        acked.set(name, { value, version: r.body.secret.version });
      }
    })();
    while (acked.size < 5) await new Promise((r) => setTimeout(r, 10));
    const before = new Map(acked);
    const b = await keyloft(store, ['backup', '--out', out]);
    writing = false;
    await writer;
    assert.equal(b.code, 0, b.out);
    assert.match(b.out, /integrity ok/);
    assert.match(b.out, /back up the master key .* separately/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    // a second backup to the same file needs --force
    const again = await keyloft(store, ['backup', '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.out, /already exists/);

    // the backup: sound, one file, ciphertext only — not the master private key
    const copy = new SQLite(out, { readonly: true });
    const inBackup = new Map<string, number>();
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
      for (const row of copy.prepare("select name, current_version as version from secrets where scope = 'production'").all() as Array<{
        name: string;
        version: number;
      }>) {
        inBackup.set(row.name, row.version);
      }
    } finally {
      copy.close();
    }
    for (const [name, a] of before)
      assert.ok((inBackup.get(name) ?? 0) >= a.version, `${name} v${a.version} was acknowledged before the backup began but is not in it`);
    const key = readFileSync(join(store.dataDir, 'master.key'), 'utf8').trim();
    const bytes = readFileSync(out);
    assert.ok(!bytes.includes(Buffer.from(key, 'base64')) && !bytes.includes(Buffer.from(key)), 'the backup holds the master private key');
    for (const a of acked.values()) assert.ok(!bytes.includes(Buffer.from(a.value)), 'the backup holds a plaintext value');

    // restore: refused while the target exists (no --force), refused while the server holds it
    const noForce = await keyloft(store, ['restore', '--from', out]);
    assert.equal(noForce.code, 2);
    assert.match(noForce.out, /already exists .* --force/);
    const busy = await keyloft(store, ['restore', '--from', out, '--force']);
    assert.equal(busy.code, 2, busy.out);
    assert.match(busy.out, /in use/);
    // a damaged or foreign file is refused before anything is touched
    const junk = join(store.dataDir, 'junk.db');
    writeFileSync(junk, 'not a database at all, just text');
    const bad = await keyloft(store, ['restore', '--from', junk, '--force']);
    assert.equal(bad.code, 2);
    const foreign = join(store.dataDir, 'foreign.db');
    const f = new SQLite(foreign);
    f.exec('create table t (x)');
    f.close();
    const notOurs = await keyloft(store, ['restore', '--from', foreign, '--force']);
    assert.equal(notOurs.code, 2);
    assert.match(notOurs.out, /not a keyloft database/);

    // stop, restore, start with the same key: the backup's moment is back, and it releases
    assert.equal(await server!.stop(), 0);
    server = undefined;
    const ok = await keyloft(store, ['restore', '--from', out, '--force']);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /master key id mk_/);
    assert.ok(!existsSync(`${dbFile()}-wal`) || statSync(`${dbFile()}-wal`).size === 0);
    server = await startServer(store);
    const api = new Api(server.url, admin.token);
    const list = await api.get(`/api/v1/projects/${slug}/secrets?scope=production`);
    assert.equal(list.status, 200, list.text);
    const restored = new Map<string, number>(list.body.secrets.map((s: { name: string; version: number }) => [s.name, s.version]));
    assert.deepEqual(restored, inBackup);
    const dep = await api.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
    assert.equal(dep.status, 201, dep.text);
    const rel = await api.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
    assert.equal(rel.status, 200, rel.text);
    assert.deepEqual(Object.keys(rel.body.runtime).sort(), [...inBackup.keys()].sort());
    for (const [name, a] of before) if (inBackup.get(name) === a.version) assert.equal(rel.body.runtime[name], a.value);
  });

  test('backup and restore refuse PostgreSQL and point at pg_dump', async () => {
    const r = await keyloft(store, ['backup', '--out', join(store.dataDir, 'x.db')], { KEYLOFT_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    assert.equal(r.code, 2);
    assert.match(r.out, /pg_dump/);
  });
});

const pgd = (await dialects()).find((x) => x.name === 'postgres');
describe('postgres: several instances start at once on a fresh database', { skip: pgd?.skip ?? 'SKIPPED: postgres not selected' }, () => {
  let store: TestStore;
  before(async () => {
    store = await createStore('postgres');
  });
  after(async () => store?.cleanup());

  test('concurrent migrations take the lock: every migrator succeeds, each migration runs once', async () => {
    const dbs = Array.from({ length: 6 }, () => openDatabase(store.databaseUrl!));
    try {
      await Promise.all(dbs.map((x) => migrateToLatest(x.db)));
    } finally {
      await Promise.all(dbs.map((x) => x.close()));
    }
    const c = new pg.Client({ connectionString: store.databaseUrl });
    await c.connect();
    try {
      const rows = (await c.query('select name from kysely_migration')).rows as Array<{ name: string }>;
      assert.equal(new Set(rows.map((r) => r.name)).size, rows.length, 'a migration ran twice');
      assert.ok(rows.length >= 1);
    } finally {
      await c.end();
    }
  });

  test('keyed instances racing to store the first master public key all start', async () => {
    const dbs = Array.from({ length: 4 }, () => openDatabase(store.databaseUrl!));
    try {
      const key = masterKeyFromPrivate(new Uint8Array(randomBytes(32)));
      const results = await Promise.allSettled(dbs.map((x) => verifyMasterKeys(x.db, [key], Date.now())));
      assert.deepEqual(
        results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
        [],
      );
      const rows = await dbs[0]!.db.selectFrom('master_keys').select('id').execute();
      assert.deepEqual(
        rows.map((r) => r.id),
        [key.id],
      );
    } finally {
      await Promise.all(dbs.map((x) => x.close()));
    }
  });

  test('three keyed instances and two api instances started together all come up and agree', async () => {
    const fresh = await createStore('postgres');
    try {
      const keyed = Array.from({ length: 3 }, (_, i) => startServer(fresh, { role: i === 0 ? 'all' : 'release', env: { KEYLOFT_LOG_LEVEL: 'warn' } }));
      const servers = await Promise.allSettled(keyed);
      const up = servers.filter((s): s is PromiseFulfilledResult<TestServer> => s.status === 'fulfilled').map((s) => s.value);
      try {
        const failed = servers.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => String(s.reason));
        assert.deepEqual(failed, [], 'an instance failed to start');
        const apis = await Promise.all(
          [0, 1].map(() => startServer(fresh, { role: 'api', env: { KEYLOFT_MASTER_KEY_FILE: undefined, KEYLOFT_LOG_LEVEL: 'warn' } })),
        );
        up.push(...apis);
        for (const s of up) assert.equal((await new Api(s.url).get('/readyz')).status, 200);
        const c = new pg.Client({ connectionString: fresh.databaseUrl });
        await c.connect();
        try {
          assert.equal((await c.query('select count(*)::int as n from master_keys')).rows[0].n, 1, 'one master public key');
        } finally {
          await c.end();
        }
      } finally {
        for (const s of up) await s.stop();
      }
    } finally {
      await fresh.cleanup();
    }
  });
});

describe('sqlite: SIGTERM drains requests in flight', () => {
  let store: TestStore;
  before(async () => {
    store = await createStore('sqlite');
  });
  after(async () => store?.cleanup());

  test('requests being handled at SIGTERM finish and are answered; the rest did nothing; exit code 0', async () => {
    const server = await startServer(store);
    const admin = await bootstrap(server);
    const slug = `drain-${randomBytes(3).toString('hex')}`;
    assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Drain' })).status, 201);
    // a batch of imports in flight (each seals 200 values under names of its own), then SIGTERM
    const batches = Array.from({ length: 8 }, (_, i) => Object.fromEntries(Array.from({ length: 200 }, (_, j) => [`R${i}_V${j}`, val(`d${i}-${j}`)])));
    const inFlight = batches.map((secrets) =>
      admin.post(`/api/v1/projects/${slug}/secrets/production:import`, { secrets }).then(
        (r) => r.status,
        (e: Error) => `error: ${String((e.cause as { code?: string })?.code ?? e.message)}`,
      ),
    );
    await new Promise((r) => setTimeout(r, 30));
    const code = await server.stop('SIGTERM');
    const statuses = await Promise.all(inFlight);
    assert.equal(code, 0, server.output());
    // Requests being handled complete (200). Requests not yet read when closing began get a clean
    // 503, or their connection is refused or closed before the request is read (an idle socket):
    // a load balancer retries those, and the check below proves none of them did anything.
    for (const s of statuses)
      assert.ok([200, 503, 'error: ECONNREFUSED', 'error: ECONNRESET', 'error: UND_ERR_SOCKET'].includes(s), `unexpected outcome: ${s}`);
    assert.ok(statuses.includes(200), `nothing was in flight: ${statuses.join(', ')}`);
    // no request was handled without its answer: a 200 wrote its 200 names, anything else none
    const again = await startServer(store);
    try {
      const list = await new Api(again.url, admin.token).get(`/api/v1/projects/${slug}/secrets?scope=production`);
      assert.equal(list.status, 200, list.text);
      const names = new Set(list.body.secrets.map((s: { name: string }) => s.name));
      statuses.forEach((s, i) => {
        const present = Object.keys(batches[i]!).filter((n) => names.has(n)).length;
        assert.equal(present, s === 200 ? 200 : 0, `import ${i} answered ${s} but ${present} of its names are stored`);
      });
    } finally {
      await again.stop();
    }
    process.stdout.write(`drain: SIGTERM during ${statuses.length} imports → ${statuses.join(', ')}\n`);
    assert.match(server.output(), /shutting down: draining requests/);
  });
});
