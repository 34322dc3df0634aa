import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KyselyPlugin } from 'kysely';
import { createServices } from '../../src/services/container.js';
import { createRotationService } from '../../src/services/rotation.service.js';
import { activeProjectKey, findProjectBySlug } from '../../src/store/projects.repository.js';
import { dialects } from '../helpers/server.js';
import { testServices } from '../helpers/services.js';

/**
 * The write path seals with the project scope's key pair cached in-process (issue 18 §4) and checks
 * it inside the write's transaction: a rotation run elsewhere (another instance, the CLI) must never
 * let a write seal to a superseded or retired pair.
 */
for (const d of await dialects()) {
  describe(`cached sealing key (${d.name})`, { skip: d.skip }, () => {
    it('a write after a rotation elsewhere seals to the new active pair, mid-rotation and after it', async (t) => {
      const ts = await testServices(t, { dialect: d.name });
      const admin = await ts.user('admin@example.com', { admin: true });
      const writer = ts.services;
      // "Another instance": the rotation service over the same database, with caches of its own.
      const elsewhere = createRotationService({ db: ts.db, clock: ts.clock, keyring: ts.keyring });
      await writer.projects.create(admin, { slug: 'p', name: 'P' });
      const p = (await findProjectBySlug(ts.db, 'p'))!;
      const keyOf = async (name: string) =>
        (
          await ts.db
            .selectFrom('secret_versions')
            .innerJoin('secrets', 'secrets.id', 'secret_versions.secret_id')
            .select('secret_versions.key_id')
            .where('secrets.project_id', '=', p.id)
            .where('secrets.name', '=', name)
            .orderBy('secret_versions.version', 'desc')
            .executeTakeFirstOrThrow()
        ).key_id;
      const active = async () => (await activeProjectKey(ts.db, p.id, 'production'))!.id;

      await writer.secrets.upsert(admin, 'p', 'production', 'A', { value: 'a-1' });
      const first = await active();
      assert.equal(await keyOf('A'), first);

      // Mid-rotation: the new pairs exist, the old ones are not retired yet; writes must use the new ones.
      const started = await elsewhere.rotateProject('p', { maxBatches: 0 });
      assert.equal(started.done, false);
      const second = await active();
      assert.notEqual(second, first);
      await writer.secrets.upsert(admin, 'p', 'production', 'B', { value: 'b-1' });
      assert.equal(await keyOf('B'), second, 'sealed to the superseded pair');
      await writer.secrets.upsert(admin, 'p', 'production', 'A', { value: 'a-2' });
      assert.equal(await keyOf('A'), second, 'an overwrite sealed to the superseded pair');
      assert.equal((await elsewhere.rotateProject('p')).done, true);

      // A second, complete rotation elsewhere retires `second`, which the writer holds in its cache.
      assert.equal((await elsewhere.rotateProject('p')).done, true);
      const third = await active();
      assert.notEqual(third, second);
      await writer.secrets.upsert(admin, 'p', 'production', 'C', { value: 'c-1' });
      assert.equal(await keyOf('C'), third, 'sealed to a retired pair');
      // Every version is under an active pair: none was left under a retired one.
      const stale = await ts.db
        .selectFrom('secret_versions')
        .innerJoin('project_keys', 'project_keys.id', 'secret_versions.key_id')
        .select('project_keys.id')
        .where('project_keys.retired_at', 'is not', null)
        .execute();
      assert.deepEqual(stale, []);
    });

    it('a write reads its authorization, active key pair and secret in one query: four queries in all', async (t) => {
      const ts = await testServices(t, { dialect: d.name });
      const admin = await ts.user('admin@example.com', { admin: true });
      const queries: string[] = [];
      // transformResult runs once per query sent (transformQuery also runs for subqueries).
      const counter: KyselyPlugin = {
        transformQuery: (args) => args.node,
        transformResult: async (args) => {
          queries.push(args.queryId.queryId);
          return args.result;
        },
      };
      const services = createServices({ db: ts.db.withPlugin(counter), config: ts.config, keyring: ts.keyring, clock: ts.clock });
      t.after(() => services.close());
      await services.projects.create(admin, { slug: 'p', name: 'P' });
      await services.secrets.upsert(admin, 'p', 'production', 'WARM', { value: 'w' });
      queries.length = 0;
      await services.secrets.upsert(admin, 'p', 'production', 'NEW', { value: 'n' });
      const created = queries.length;
      queries.length = 0;
      await services.secrets.upsert(admin, 'p', 'production', 'NEW', { value: 'n-2' });
      const overwritten = queries.length;
      // [BEGIN] authorization + active key pair + secret + current digest + pinned version in one
      // query, insert secret, insert version, audit, [COMMIT] (the token is the auth hook's).
      assert.ok(created <= 4, `a create ran ${created} queries`);
      // The overwrite moves the version with a compare-and-set instead of the insert.
      assert.ok(overwritten <= 4, `an overwrite ran ${overwritten} queries`);
    });
  });
}
