import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loadMasterKeys, StartupError, verifyMasterKeys } from '../../src/services/bootstrap.js';
import { openDatabase } from '../../src/store/db.js';
import { Api, bootstrap } from '../helpers/client.js';
import { createStore, dialects, expectStartFailure, startServer, storeEnv, type TestServer, type TestStore } from '../helpers/server.js';

const newKey = () => randomBytes(32).toString('base64');

/** SHA-256 over every row of every table, in a stable order (bytes as hex). */
async function rowsChecksum(store: TestStore): Promise<{ sum: string; counts: Record<string, number> }> {
  const h = createHash('sha256');
  const counts: Record<string, number> = {};
  const add = (table: string, rows: Array<Record<string, unknown>>) => {
    counts[table] = rows.length;
    const lines = rows
      .map((r) =>
        JSON.stringify(
          Object.entries(r)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v)]),
        ),
      )
      .sort();
    h.update(`${table}\n${lines.join('\n')}\n`);
  };
  if (store.dialect === 'sqlite') {
    const db = new SQLite(join(store.dataDir, 'keyloft.db'), { readonly: true, fileMustExist: true });
    try {
      const tables = (db.prepare("select name from sqlite_master where type = 'table' order by name").all() as Array<{ name: string }>).map((t) => t.name);
      for (const t of tables) add(t, db.prepare(`select * from "${t}"`).all() as Array<Record<string, unknown>>);
    } finally {
      db.close();
    }
  } else {
    const c = new pg.Client({ connectionString: store.databaseUrl });
    await c.connect();
    try {
      const tables = (
        await c.query("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name")
      ).rows.map((r: { table_name: string }) => r.table_name);
      for (const t of tables) add(t, (await c.query(`select * from "${t}"`)).rows);
    } finally {
      await c.end();
    }
  }
  return { sum: h.digest('hex'), counts };
}

/** SHA-256 of every file in the data dir (SQLite file, WAL if any, the key file). */
function filesChecksum(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isFile()) out[name] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

describe('configuration errors fail at start, naming the setting', () => {
  let store: TestStore;
  before(async () => {
    store = await createStore('sqlite');
  });
  after(async () => {
    await store?.cleanup();
  });

  /** The ConfigError message loadConfig gives for `env` (in process, for the many variants). */
  function configProblem(env: Record<string, string>, overrides: { role?: string } = {}): string {
    try {
      loadConfig({ KEYLOFT_DATA_DIR: store.dataDir, ...env }, overrides);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    assert.fail(`configuration ${JSON.stringify(env)} was accepted`);
  }

  it('a malformed KEYLOFT_MASTER_KEY (never echoed)', async () => {
    const bad = `${newKey().slice(0, 40)}!!!=`;
    const r = await expectStartFailure(store, { env: { KEYLOFT_MASTER_KEY: bad } });
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /KEYLOFT_MASTER_KEY must be 32 bytes in base64/);
    assert.ok(!r.output.includes(bad), 'the error echoes the (secret) key');
    assert.ok(!existsSync(join(store.dataDir, 'master.key')), 'a key file was created on the way');
    for (const v of ['not a key', Buffer.alloc(16, 7).toString('base64'), Buffer.alloc(33, 7).toString('base64'), `${newKey()},short`]) {
      const m = configProblem({ KEYLOFT_MASTER_KEY: v });
      assert.match(m, /KEYLOFT_MASTER_KEY/);
      assert.ok(!m.includes(v.split(',')[0]!), 'the message echoes the key');
    }
  });

  it('a bad KEYLOFT_PORT', async () => {
    const r = await expectStartFailure(store, { env: { KEYLOFT_PORT: 'eighty' } });
    assert.notEqual(r.code, 0);
    assert.match(r.output, /KEYLOFT_PORT must be a whole number from 0 to 65535/, r.output);
    for (const v of ['70000', '-1', '80.5', ' 80', '0x50']) assert.match(configProblem({ KEYLOFT_PORT: v }), /KEYLOFT_PORT/);
    assert.equal(loadConfig({ KEYLOFT_DATA_DIR: store.dataDir, KEYLOFT_PORT: '8081' }).port, 8081);
  });

  it('a bad KEYLOFT_ROLE, KEYLOFT_DATABASE_URL, KEYLOFT_HOST or KEYLOFT_LOG_LEVEL', async () => {
    const r = await expectStartFailure(store, { env: { KEYLOFT_ROLE: 'everything' } });
    assert.notEqual(r.code, 0);
    assert.match(r.output, /KEYLOFT_ROLE/, r.output);
    assert.match(configProblem({ KEYLOFT_DATABASE_URL: 'mysql://x' }), /KEYLOFT_DATABASE_URL/);
    assert.match(configProblem({ KEYLOFT_HOST: 'bad host!' }), /KEYLOFT_HOST/);
    assert.match(configProblem({ KEYLOFT_LOG_LEVEL: 'loud' }), /KEYLOFT_LOG_LEVEL/);
    // every problem is listed at once
    const all = configProblem({ KEYLOFT_PORT: 'x', KEYLOFT_ROLE: 'y' });
    assert.match(all, /KEYLOFT_PORT/);
    assert.match(all, /KEYLOFT_ROLE/);
  });

  it('--role api with a master key configured is refused', async () => {
    const key = newKey();
    const r = await expectStartFailure(store, { role: 'api', env: { KEYLOFT_MASTER_KEY: key } });
    assert.notEqual(r.code, 0);
    assert.match(r.output, /api role/);
    assert.match(r.output, /KEYLOFT_MASTER_KEY/);
    assert.ok(!r.output.includes(key));
    assert.match(configProblem({ KEYLOFT_MASTER_KEY_FILE: join(store.dataDir, 'some.key') }, { role: 'api' }), /api role/);
    assert.match(configProblem({ KEYLOFT_ROLE: 'api', KEYLOFT_MASTER_KEY: key }), /api role/);
  });
});

// One dialect after the other: fewer servers at once on small CI machines.
const DIALECTS = await dialects();
describe('master key checks: every dialect', { concurrency: 1 }, () => {
  for (const d of DIALECTS) {
    describe(`master key checks on ${d.name}`, { skip: d.skip, concurrency: 1 }, () => {
      let store: TestStore;
      let token: string;
      const slug = `mk-${randomBytes(4).toString('hex')}`;
      const keyFile = () => join(store.dataDir, 'master.key');
      /** The environment that starts this store without its own key. */
      const withoutKeyFile = (extra: Record<string, string | undefined>) => (d.name === 'postgres' ? { KEYLOFT_MASTER_KEY_FILE: undefined, ...extra } : extra);

      let rowsBefore: { sum: string; counts: Record<string, number> };
      let filesBefore: Record<string, string>;

      async function assertUnchanged(what: string): Promise<void> {
        const rows = await rowsChecksum(store);
        assert.deepEqual(rows.counts, rowsBefore.counts, `${what}: row counts changed`);
        assert.equal(rows.sum, rowsBefore.sum, `${what}: rows changed`);
        assert.deepEqual(filesChecksum(store.dataDir), filesBefore, `${what}: files in the data dir changed`);
      }

      before(async () => {
        store = await createStore(d.name);
        const server: TestServer = await startServer(store);
        try {
          const api = await bootstrap(server);
          token = api.token!;
          const r = await api.post('/api/v1/projects', {
            slug,
            name: 'Master key test',
            secrets: [
              { name: 'A', scope: 'production', value: 'a-value' },
              { name: 'B', scope: 'preview', value: 'b-value' },
              { name: 'C', scope: 'build', valueBase64: 'AAEC' },
            ],
          });
          assert.equal(r.status, 201, r.text);
          assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/A`, { value: 'a-value-2' })).status, 200);
        } finally {
          assert.equal(await server.stop(), 0, 'the server did not stop cleanly');
        }
        assert.ok(existsSync(keyFile()));
        rowsBefore = await rowsChecksum(store);
        filesBefore = filesChecksum(store.dataDir);
        assert.ok(rowsBefore.counts.secret_versions! >= 4);
        assert.equal(rowsBefore.counts.master_keys, 1);
      });
      after(async () => {
        await store?.cleanup();
      });

      it('the generated or given key file is mode 0600', { skip: d.name !== 'sqlite' && 'the PostgreSQL key file is written by the test helper' }, () => {
        assert.equal(statSync(keyFile()).mode & 0o777, 0o600);
      });

      it('refuses to start with a different master key, and changes nothing', async () => {
        const wrong = newKey();
        const r = await expectStartFailure(store, { env: withoutKeyFile({ KEYLOFT_MASTER_KEY: wrong }) });
        assert.notEqual(r.code, 0, r.output);
        assert.match(r.output, /wrong key/, r.output);
        assert.match(r.output, /does not match the master public key stored in the database/);
        assert.match(r.output, /Nothing was changed/);
        assert.ok(!r.output.includes(wrong), 'the output echoes the key');
        assert.ok(!/listening/.test(r.output));
        await assertUnchanged('wrong key');
      });

      it('refuses a wrong key file, and changes nothing', async () => {
        const other = join(store.dataDir, '..', `${store.dataDir.split('/').pop()}-other.key`);
        writeFileSync(other, `${newKey()}\n`, { mode: 0o600 });
        const r = await expectStartFailure(store, { env: { KEYLOFT_MASTER_KEY_FILE: other } });
        assert.notEqual(r.code, 0);
        assert.match(r.output, /wrong key/, r.output);
        await assertUnchanged('wrong key file');
      });

      it('refuses the right key listed together with a wrong one, and a malformed key file, changing nothing (in process)', async () => {
        const right = readFileSync(keyFile(), 'utf8').trim();
        const database = openDatabase(store.databaseUrl ?? join(store.dataDir, 'keyloft.db'));
        try {
          const config = (env: Record<string, string | undefined>) => loadConfig(storeEnv(store, env));
          const { keys } = await loadMasterKeys(config(withoutKeyFile({ KEYLOFT_MASTER_KEY: `${right},${newKey()}` })), database.db);
          assert.equal(keys.length, 2);
          await assert.rejects(verifyMasterKeys(database.db, keys, Date.now()), (err: unknown) => {
            assert.ok(err instanceof StartupError);
            assert.match(err.message, /wrong key/);
            return true;
          });
          const bad = join(store.dataDir, '..', `${store.dataDir.split('/').pop()}-bad.key`);
          writeFileSync(bad, 'c2hvcnQ=\n', { mode: 0o600 });
          await assert.rejects(loadMasterKeys(config({ KEYLOFT_MASTER_KEY_FILE: bad }), database.db), (err: unknown) => {
            assert.ok(err instanceof StartupError);
            assert.ok(err.message.includes(bad), err.message);
            assert.match(err.message, /32 bytes in base64/);
            assert.ok(!err.message.includes('c2hvcnQ='));
            return true;
          });
        } finally {
          await database.close();
        }
        await assertUnchanged('right and wrong key, malformed key file');
      });

      it('refuses to start when the key is missing, and does not generate a new one over existing data', async () => {
        const aside = `${keyFile()}.aside`;
        renameSync(keyFile(), aside);
        try {
          const r = await expectStartFailure(store, {});
          assert.notEqual(r.code, 0);
          assert.match(r.output, /master key/i, r.output);
          assert.ok(!existsSync(keyFile()), 'a new master key was generated over existing data');
        } finally {
          renameSync(aside, keyFile());
        }
        await assertUnchanged('missing key');
      });

      it('starts again with the right key (given as KEYLOFT_MASTER_KEY too), data intact', async () => {
        const right = readFileSync(keyFile(), 'utf8').trim();
        const server = await startServer(store, { env: withoutKeyFile({ KEYLOFT_MASTER_KEY: right }) });
        try {
          assert.ok(!server.setupToken, 'setup offered again on an existing database');
          const api = new Api(server.url, token);
          const list = await api.get(`/api/v1/projects/${slug}/secrets`);
          assert.equal(list.status, 200, list.text);
          assert.deepEqual(list.body.secrets.map((s: { scope: string; name: string; version: number }) => `${s.scope}/${s.name}@${s.version}`).sort(), [
            'build/C@1',
            'preview/B@1',
            'production/A@2',
          ]);
          assert.equal((await api.get('/readyz')).status, 200);
        } finally {
          await server.stop();
        }
      });

      it('--role api starts without any key and can still write (public keys only)', async () => {
        const server = await startServer(store, { role: 'api', env: withoutKeyFile({}) });
        try {
          assert.match(server.output(), /keyloft api listening/);
          const api = new Api(server.url, token);
          const r = await api.put(`/api/v1/projects/${slug}/secrets/production/FROM_API_ROLE`, { value: 'written by the api role' });
          assert.equal(r.status, 201, r.text);
          const ready = await api.get('/readyz');
          assert.equal(ready.status, 200, ready.text);
        } finally {
          await server.stop();
        }
      });
    });
  }
});
