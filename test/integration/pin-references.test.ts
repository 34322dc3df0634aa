// deployment_pins' references to secrets and deployments. SQLite keeps two foreign keys; on
// PostgreSQL migration 2026-11-29-0010 replaces them with statement-level triggers (one check per
// INSERT, not one per row). Both must give the same guarantees: no pin of a missing secret or
// deployment (SQLSTATE 23503 / SQLITE_CONSTRAINT_FOREIGNKEY), pins deleted with their secret or
// deployment, no id change under a pin, and on PostgreSQL no orphan when a delete races a pin.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Kysely, type Migration, Migrator, sql } from 'kysely';
import pg from 'pg';
import { type Database, MIGRATIONS, migrateToLatest, openDatabase } from '../../src/store/db.js';
import { createPgDatabase, dialects } from '../helpers/server.js';

const NEW = '2026-11-29-0010-pin-references';

const provider = (names: (n: string) => boolean) => ({
  getMigrations: async (): Promise<Record<string, Migration>> => Object.fromEntries(Object.entries(MIGRATIONS).filter(([n]) => names(n))),
});

/** A foreign-key violation as each engine reports it. */
const fkError = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
};

const NOW = Date.UTC(2026, 10, 29);

/** A project with secrets s1..s4 (one version each) and deployments d1, d2. */
async function seed(db: Kysely<any>): Promise<void> {
  await db
    .insertInto('projects')
    .values({
      id: 'prj_1',
      slug: 'shop',
      name: 'Shop',
      fly_app: 'shop',
      fly_preview_pattern: 'shop-pr-<pr>',
      digest_key: new Uint8Array(32),
      created_at: NOW,
      created_by: 'a@example.com',
    })
    .execute();
  for (const id of ['s1', 's2', 's3', 's4']) {
    await db
      .insertInto('secrets')
      .values({
        id,
        project_id: 'prj_1',
        scope: 'production',
        name: id.toUpperCase(),
        current_version: 1,
        deleted: 0,
        created_at: NOW,
        updated_at: NOW,
        updated_by: 'a',
      })
      .execute();
    await db.insertInto('secret_versions').values({ secret_id: id, version: 1, kind: 'value', created_at: NOW, created_by: 'a' }).execute();
  }
  for (const id of ['d1', 'd2']) {
    await db
      .insertInto('deployments')
      .values({
        id,
        project_id: 'prj_1',
        environment: 'production',
        status: 'running',
        started_by: 'ci',
        created_at: NOW,
        expires_at: NOW + 1,
        pr: null,
        ref: null,
        token_hash: null,
        completed_at: null,
      })
      .execute();
  }
}

const pin = (deployment_id: string, secret_id: string) => ({ deployment_id, secret_id, kind: 'runtime', version: 1 });

async function pins(db: Kysely<any>): Promise<string[]> {
  const rows = await db.selectFrom('deployment_pins').select(['deployment_id', 'secret_id']).orderBy('deployment_id').orderBy('secret_id').execute();
  return rows.map((r) => `${r.deployment_id}/${r.secret_id}`);
}

/** deployment_pins' foreign keys on PostgreSQL: referenced table and delete action. */
async function pgForeignKeys(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ k: string }>`select confrelid::regclass::text || ' ' || confdeltype::text as k from pg_constraint
    where conrelid = 'deployment_pins'::regclass and contype = 'f' order by 1`.execute(db);
  return rows.map((r) => r.k);
}

async function pgTriggers(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ t: string }>`select tgname as t from pg_trigger where not tgisinternal
    and tgrelid in ('deployment_pins'::regclass, 'secrets'::regclass, 'deployments'::regclass) order by 1`.execute(db);
  return rows.map((r) => r.t);
}

for (const d of await dialects()) {
  describe(`${d.name}: deployment_pins references`, { skip: d.skip }, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    /** A new database (migrated to `upTo`, default all) with its URL (PostgreSQL) for extra connections. */
    async function fresh(upTo?: (n: string) => boolean): Promise<{ database: Database; db: Kysely<any>; url: string }> {
      let url = ':memory:';
      if (d.name === 'postgres') {
        const p = await createPgDatabase();
        cleanups.push(p.drop);
        url = p.url;
      }
      const database = openDatabase(url);
      cleanups.push(() => database.close());
      const db = database.db as unknown as Kysely<any>;
      if (upTo) {
        const { error } = await new Migrator({ db, provider: provider(upTo) }).migrateToLatest();
        if (error) throw error;
      } else await migrateToLatest(database.db);
      await seed(db);
      return { database, db, url };
    }

    test('a pin of a missing secret or deployment is refused as a foreign-key violation, and the statement writes nothing', async () => {
      const { db } = await fresh();
      await db
        .insertInto('deployment_pins')
        .values([pin('d1', 's1'), pin('d1', 's2')])
        .execute();
      const refused = async (what: string, q: () => Promise<unknown>) => assert.rejects(q, fkError, what);
      await refused('missing secret', () => db.insertInto('deployment_pins').values(pin('d1', 'nope')).execute());
      await refused('missing deployment', () => db.insertInto('deployment_pins').values(pin('nope', 's1')).execute());
      await refused('one missing secret among existing ones', () =>
        db
          .insertInto('deployment_pins')
          .values([pin('d2', 's1'), pin('d2', 'nope'), pin('d2', 's3')])
          .execute(),
      );
      await refused('one missing deployment among existing ones', () =>
        db
          .insertInto('deployment_pins')
          .values([pin('d2', 's1'), pin('nope', 's2'), pin('d2', 's3')])
          .execute(),
      );
      await refused('a pin moved to a missing secret', () =>
        db.updateTable('deployment_pins').set({ secret_id: 'nope' }).where('deployment_id', '=', 'd1').where('secret_id', '=', 's1').execute(),
      );
      await refused('a pin moved to a missing deployment', () =>
        db.updateTable('deployment_pins').set({ deployment_id: 'nope' }).where('secret_id', '=', 's2').execute(),
      );
      assert.deepEqual(await pins(db), ['d1/s1', 'd1/s2']);
      // Pins of existing rows, several deployments in one statement, and updates that keep them, pass.
      await db
        .insertInto('deployment_pins')
        .values([pin('d2', 's1'), pin('d2', 's2'), pin('d1', 's3')])
        .execute();
      await db.updateTable('deployment_pins').set({ version: 2 }).where('secret_id', '=', 's1').execute();
      await db.updateTable('deployment_pins').set({ secret_id: 's4' }).where('deployment_id', '=', 'd1').where('secret_id', '=', 's3').execute();
      assert.deepEqual(await pins(db), ['d1/s1', 'd1/s2', 'd1/s4', 'd2/s1', 'd2/s2']);
    });

    test('deleting a secret, a deployment or the whole project deletes their pins (and only theirs)', async () => {
      const { db } = await fresh();
      await db
        .insertInto('deployment_pins')
        .values([pin('d1', 's1'), pin('d1', 's2'), pin('d1', 's3'), pin('d2', 's1'), pin('d2', 's2'), pin('d2', 's3')])
        .execute();
      await db.deleteFrom('secret_versions').where('secret_id', '=', 's1').execute();
      await db.deleteFrom('secrets').where('id', '=', 's1').execute();
      assert.deepEqual(await pins(db), ['d1/s2', 'd1/s3', 'd2/s2', 'd2/s3']);
      await db.deleteFrom('deployments').where('id', '=', 'd1').execute();
      assert.deepEqual(await pins(db), ['d2/s2', 'd2/s3']);
      // The project's own cascade reaches secrets and deployments, and through them the pins.
      await db.deleteFrom('projects').where('id', '=', 'prj_1').execute();
      assert.deepEqual(await pins(db), []);
    });

    test('the id of a pinned secret or deployment cannot change', async () => {
      const { db } = await fresh();
      await db
        .insertInto('deployment_pins')
        .values([pin('d1', 's1')])
        .execute();
      await assert.rejects(() => db.updateTable('deployments').set({ id: 'd9' }).where('id', '=', 'd1').execute(), fkError);
      await db.deleteFrom('secret_versions').where('secret_id', '=', 's1').execute();
      await assert.rejects(() => db.updateTable('secrets').set({ id: 's9' }).where('id', '=', 's1').execute(), fkError);
      assert.deepEqual(await pins(db), ['d1/s1']);
    });

    test(`migration ${NEW} keeps the pins of a database made before it, and its down keeps them too`, async () => {
      const { database, db } = await fresh((n) => n < NEW);
      await db
        .insertInto('deployment_pins')
        .values([pin('d1', 's1'), pin('d1', 's2'), pin('d2', 's1')])
        .execute();
      const before = await pins(db);
      if (d.name === 'postgres') assert.deepEqual(await pgForeignKeys(db), ['deployments c', 'secrets c']);
      await migrateToLatest(database.db);
      assert.deepEqual(await pins(db), before);
      if (d.name === 'postgres') {
        assert.deepEqual(await pgForeignKeys(db), [], 'the per-row foreign keys are gone');
        assert.deepEqual(await pgTriggers(db), [
          'deployment_pins_inserted',
          'deployment_pins_updated',
          'deployments_deleted_pins',
          'deployments_id_fixed',
          'deployments_truncated_pins',
          'secrets_deleted_pins',
          'secrets_id_fixed',
          'secrets_truncated_pins',
        ]);
      }
      await assert.rejects(() => db.insertInto('deployment_pins').values(pin('d2', 'nope')).execute(), fkError);

      const { error, results } = await new Migrator({ db, provider: provider(() => true) }).migrateDown();
      if (error) throw error;
      assert.equal(results?.[0]?.migrationName, NEW);
      assert.deepEqual(await pins(db), before);
      if (d.name === 'postgres') {
        assert.deepEqual(await pgForeignKeys(db), ['deployments c', 'secrets c'], 'down restores both keys, ON DELETE CASCADE');
        assert.deepEqual(await pgTriggers(db), []);
      }
      await assert.rejects(() => db.insertInto('deployment_pins').values(pin('d2', 'nope')).execute(), fkError);
      await db.deleteFrom('deployments').where('id', '=', 'd1').execute();
      assert.deepEqual(await pins(db), ['d2/s1']);
    });

    if (d.name !== 'postgres') return;

    test('a TRUNCATE of secrets or deployments is refused while pins refer to them', async () => {
      const { db } = await fresh();
      await db
        .insertInto('deployment_pins')
        .values([pin('d1', 's1')])
        .execute();
      const refused = (e: { code?: string }) => e.code === '0A000';
      await assert.rejects(() => sql`truncate deployments`.execute(db), refused);
      await assert.rejects(() => sql`truncate secrets, secret_versions`.execute(db), refused);
      assert.deepEqual(await pins(db), ['d1/s1']);
      await sql`truncate deployments, deployment_pins`.execute(db);
      assert.deepEqual(await pins(db), []);
    });

    /** Two more connections to the database, and a way to wait until one of them waits for a lock. */
    async function connections(url: string) {
      const a = new pg.Client({ connectionString: url });
      const b = new pg.Client({ connectionString: url });
      const watch = new pg.Client({ connectionString: url });
      await Promise.all([a.connect(), b.connect(), watch.connect()]);
      cleanups.push(async () => {
        await Promise.all([a, b, watch].map((c) => c.end().catch(() => {})));
      });
      const pid = async (c: pg.Client) => Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid);
      /** Resolves once `pidOf` waits for a lock; fails if `pending` settles first (it did not wait). */
      const waitsForLock = async (pidOf: number, pending: Promise<unknown>, what: string) => {
        let settled = false;
        pending.then(
          () => (settled = true),
          () => (settled = true),
        );
        // Generous: a loaded machine may take a while to reach the lock; a wait is seen at once after.
        for (const start = Date.now(); Date.now() - start < 30_000; ) {
          const r = await watch.query(`select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'`, [pidOf]);
          if (r.rowCount) return;
          assert.equal(settled, false, `${what} did not wait for the other transaction`);
          await new Promise((res) => setTimeout(res, 20));
        }
        assert.fail(`${what} neither waited for a lock nor finished`);
      };
      return { a, b, aPid: await pid(a), bPid: await pid(b), waitsForLock };
    }

    test('a secret deleted while a transaction pins it waits for that transaction, then deletes the pin', async () => {
      const { db, url } = await fresh();
      const { a, b, bPid, waitsForLock } = await connections(url);
      await a.query('begin');
      await a.query(`insert into deployment_pins (deployment_id, secret_id, kind, version) values ('d1', 's1', 'runtime', 1), ('d1', 's2', 'runtime', 1)`);
      await b.query('begin');
      await b.query(`delete from secret_versions where secret_id = 's1'`);
      const del = b.query(`delete from secrets where id = 's1'`);
      await waitsForLock(bPid, del, 'the DELETE of the secret');
      await a.query('commit');
      await del;
      await b.query('commit');
      assert.deepEqual(await pins(db), ['d1/s2'], 'the pin committed first was deleted with its secret');
    });

    test('a pin of a secret or deployment whose delete is not yet committed waits for it, then fails', async () => {
      const { db, url } = await fresh();
      const { a, b, aPid, waitsForLock } = await connections(url);
      for (const [what, del, values] of [
        [
          'secret',
          [`delete from secret_versions where secret_id = 's3'`, `delete from secrets where id = 's3'`],
          `('d1', 's4', 'runtime', 1), ('d1', 's3', 'runtime', 1)`,
        ],
        ['deployment', [`delete from deployments where id = 'd2'`], `('d1', 's1', 'runtime', 1), ('d2', 's4', 'runtime', 1)`],
      ] as const) {
        await b.query('begin');
        for (const q of del) await b.query(q);
        const ins = a.query(`insert into deployment_pins (deployment_id, secret_id, kind, version) values ${values}`);
        await waitsForLock(aPid, ins, `the pin of the deleted ${what}`);
        await b.query('commit');
        await assert.rejects(ins, fkError, what);
        assert.deepEqual(await pins(db), [], what);
      }
    });
  });
}
