import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Kysely, type Migration, Migrator } from 'kysely';
import { ConfigError, loadConfig } from '../../src/config.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import * as initial from '../../src/store/migrations/2026-11-26-0001-initial.js';
import { createPgDatabase, dialects } from '../helpers/server.js';

/** Brings a database to the schema as it was before the release-rights migration (the first migration only). */
async function migrateToInitial(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async (): Promise<Record<string, Migration>> => ({ '2026-11-26-0001-initial': initial }) } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

for (const d of await dialects()) {
  describe(`${d.name}: migration 2026-11-29-0003-release-rights on a database created before it`, { skip: d.skip }, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    test('existing memberships get release false, deployments a derived startedBy, projects keep preview build secrets', async () => {
      let url: string;
      if (d.name === 'postgres') {
        const pg = await createPgDatabase();
        cleanups.push(pg.drop);
        url = pg.url;
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'keyloft-migrate-'));
        cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
        url = join(dir, 'keyloft.db');
      }
      const database = openDatabase(url);
      cleanups.push(() => database.close());
      const db = database.db as unknown as Kysely<any>;
      await migrateToInitial(db);
      const now = Date.now();
      await db.insertInto('users').values({ id: 'usr_1', email: 'old@example.com', password_hash: 'x', is_admin: 1, created_at: now }).execute();
      await db
        .insertInto('projects')
        .values({
          id: 'prj_1',
          slug: 'old',
          name: 'Old',
          fly_app: 'old',
          fly_preview_pattern: 'old-pr-<pr>',
          digest_key: new Uint8Array(32),
          created_at: now,
          created_by: 'old@example.com',
        })
        .execute();
      await db.insertInto('memberships').values({ project_id: 'prj_1', user_id: 'usr_1', role: 'admin', created_at: now }).execute();
      const dep = (id: string, startedBy: string) => ({
        id,
        project_id: 'prj_1',
        environment: 'production',
        pr: null,
        ref: null,
        status: 'succeeded',
        token_hash: null,
        started_by: startedBy,
        created_at: now,
        expires_at: now,
        completed_at: now,
      });
      await db
        .insertInto('deployments')
        .values([
          dep('dep_key', 'deploy key ci main'),
          dep('dep_person', 'old@example.com'),
          dep('dep_token', 'old@example.com (token laptop)'),
          dep('dep_other', 'system'),
        ])
        .execute();

      await migrateToLatest(database.db);

      const m = await db.selectFrom('memberships').selectAll().execute();
      assert.deepEqual(
        m.map((r) => [r.user_id, r.role, Number(r.can_release)]),
        [['usr_1', 'admin', 0]],
      );
      const deps = await db.selectFrom('deployments').select(['id', 'started_by_kind', 'started_by_name', 'started_by_id']).orderBy('id').execute();
      assert.deepEqual(
        deps.map((r) => [r.id, r.started_by_kind, r.started_by_name, r.started_by_id]),
        [
          ['dep_key', 'deploy_key', 'ci main', null],
          ['dep_other', 'deploy_key', 'unknown', null],
          ['dep_person', 'person', 'old@example.com', null],
          ['dep_token', 'person', 'old@example.com (token laptop)', null],
        ],
      );
      const p = await db.selectFrom('projects').select('preview_build_secrets').executeTakeFirstOrThrow();
      assert.equal(Number(p.preview_build_secrets), 1, 'preview deployments keep their build secrets (today\u2019s behaviour)');
      // New rows get the safe defaults too.
      await db.insertInto('users').values({ id: 'usr_2', email: 'new@example.com', password_hash: 'x', is_admin: 0, created_at: now }).execute();
      await db.insertInto('memberships').values({ project_id: 'prj_1', user_id: 'usr_2', role: 'member', created_at: now }).execute();
      const n = await db.selectFrom('memberships').select('can_release').where('user_id', '=', 'usr_2').executeTakeFirstOrThrow();
      assert.equal(Number(n.can_release), 0);
    });
  });
}

describe('KEYLOFT_DEPLOY_KEY_MAX_RUNNING', () => {
  test('defaults to 5, takes 1–1000, and a bad value is refused naming the setting', () => {
    assert.equal(loadConfig({}).deployKeyMaxRunning, 5);
    assert.equal(loadConfig({ KEYLOFT_DEPLOY_KEY_MAX_RUNNING: '1' }).deployKeyMaxRunning, 1);
    for (const bad of ['0', '-1', 'five', '1001', '2.5']) {
      assert.throws(
        () => loadConfig({ KEYLOFT_DEPLOY_KEY_MAX_RUNNING: bad }),
        (err: unknown) => err instanceof ConfigError && /KEYLOFT_DEPLOY_KEY_MAX_RUNNING must be a whole number from 1 to 1000/.test(err.message),
        bad,
      );
    }
  });
});
