import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditRow } from '../../src/store/audit.repository.js';
import { isPostgres, writeSetPg } from '../../src/store/secret-write.repository.js';
import { findProjectBySlug } from '../../src/store/projects.repository.js';
import { dialects } from '../helpers/server.js';
import { testServices } from '../helpers/services.js';

/**
 * On PostgreSQL a set writes the secret, its version and its audit event in one statement
 * (secret-write.repository writeSetPg): the version and the event exist only with the secret's row.
 */
for (const d of await dialects()) {
  if (d.name !== 'postgres') continue;
  describe('one-statement set (postgres)', { skip: d.skip }, () => {
    it('a compare-and-set that finds another version writes neither the version nor the audit event', async (t) => {
      const ts = await testServices(t, { dialect: 'postgres' });
      assert.equal(isPostgres(ts.db), true);
      const admin = await ts.user('admin@example.com', { admin: true });
      await ts.services.projects.create(admin, { slug: 'p', name: 'P' });
      await ts.services.secrets.upsert(admin, 'p', 'production', 'A', { value: 'a-1' });
      const p = (await findProjectBySlug(ts.db, 'p'))!;
      const s = await ts.db.selectFrom('secrets').selectAll().where('name', '=', 'A').executeTakeFirstOrThrow();
      const counts = async () => ({
        versions: (await ts.db.selectFrom('secret_versions').select('version').where('secret_id', '=', s.id).execute()).length,
        events: (await ts.db.selectFrom('audit_events').select('id').where('name', '=', 'A').execute()).length,
      });
      const before = await counts();
      const version = {
        secret_id: s.id,
        version: 3,
        kind: 'set',
        ciphertext: new Uint8Array([1, 2, 3]),
        key_id: null,
        digest: 'd',
        size: 3,
        binary: 0,
        created_at: ts.clock(),
        created_by: 'x',
      };
      const event = auditRow({
        at: ts.clock(),
        projectId: p.id,
        actor: 'x',
        actorIp: null,
        action: 'secret.updated',
        scope: 'production',
        name: 'A',
        version: 3,
      });
      // The secret is at version 1: a set from version 2 finds another version and writes nothing.
      const ok = await ts.db.transaction().execute((trx) => writeSetPg(trx, p.id, 'production', 2, version, event));
      assert.equal(ok, false);
      assert.deepEqual(await counts(), before);
      const row = await ts.db.selectFrom('secrets').selectAll().where('id', '=', s.id).executeTakeFirstOrThrow();
      assert.equal(row.current_version, 1);
      // From the right version it writes all three.
      const ok2 = await ts.db.transaction().execute((trx) => writeSetPg(trx, p.id, 'production', 1, { ...version, version: 2 }, { ...event, version: 2 }));
      assert.equal(ok2, true);
      assert.deepEqual(await counts(), { versions: before.versions + 1, events: before.events + 1 });
    });
  });
}
