// A restart with every migration applied checks them with one query and does not run Kysely's
// migrator; anything else (new database, unknown migration) still goes through the migrator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';

const tables = async (db: Parameters<typeof migrateToLatest>[0]) =>
  (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name like 'kysely_migration%'`.execute(db)).rows
    .map((r) => r.name)
    .sort();

test('a restart with nothing pending does not run the migrator (its lock table is not recreated)', async (t) => {
  const d = openDatabase(':memory:');
  t.after(() => d.close());
  await migrateToLatest(d.db);
  assert.deepEqual(await tables(d.db), ['kysely_migration', 'kysely_migration_lock']);
  await sql`drop table kysely_migration_lock`.execute(d.db);
  await migrateToLatest(d.db);
  assert.deepEqual(await tables(d.db), ['kysely_migration'], 'the migrator ran although nothing was pending');
});

test('an applied migration this version does not know still fails the start, as the migrator does', async (t) => {
  const d = openDatabase(':memory:');
  t.after(() => d.close());
  await migrateToLatest(d.db);
  await sql`insert into kysely_migration (name, timestamp) values ('2099-01-01-0001-future', '2099-01-01T00:00:00.000Z')`.execute(d.db);
  await assert.rejects(() => migrateToLatest(d.db), /migration/);
});
