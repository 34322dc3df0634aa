// Each database driver is loaded only when its database is opened: a server on the embedded
// SQLite never loads `pg`, and one on PostgreSQL never loads the native better-sqlite3.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { createPgDatabase, postgresAvailable } from '../helpers/server.js';

/** Opens `url` in a fresh process; returns which drivers that process loaded. */
function driversLoadedFor(url: string): { pg: boolean; sqlite: boolean } {
  const dbModule = new URL('../../src/store/db.js', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    const { openDatabase, waitForDatabase } = await import(${JSON.stringify(dbModule)});
    const d = openDatabase(${JSON.stringify(url)});
    await waitForDatabase(d.db, { timeoutMs: 5000 });
    await d.close();
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(JSON.stringify({ pg: loaded.some((k) => k.includes('/node_modules/pg/')), sqlite: loaded.some((k) => k.includes('/node_modules/better-sqlite3/')) }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { pg: boolean; sqlite: boolean };
}

test('on SQLite, pg is not loaded', () => {
  assert.deepEqual(driversLoadedFor(':memory:'), { pg: false, sqlite: true });
});

test('on PostgreSQL, better-sqlite3 is not loaded', async (t) => {
  if (!(await postgresAvailable())) return t.skip('no PostgreSQL');
  const pg = await createPgDatabase();
  t.after(() => pg.drop());
  assert.deepEqual(driversLoadedFor(pg.url), { pg: true, sqlite: false });
});
