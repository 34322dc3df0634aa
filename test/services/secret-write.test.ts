import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditRow } from '../../src/store/audit.repository.js';
import { type SetCheck, writeSetPg } from '../../src/store/secret-write.repository.js';
import { isPostgres } from '../../src/store/executor.js';
import { activeProjectKey, findProjectBySlug } from '../../src/store/projects.repository.js';
import { dialects } from '../helpers/server.js';
import { testServices } from '../helpers/services.js';

/**
 * On PostgreSQL a set writes the secret, its version and its audit event in one statement that
 * checks the set's authorization and key pair itself (secret-write.repository writeSetPg): the
 * version and the event exist only with the secret's row, and nothing is written unless the
 * membership, its role, the project and the active key pair all still hold.
 */
for (const d of await dialects()) {
  if (d.name !== 'postgres') continue;
  describe('one-statement set (postgres)', { skip: d.skip }, () => {
    async function setUp(t: Parameters<typeof testServices>[0]) {
      const ts = await testServices(t, { dialect: 'postgres' });
      assert.equal(isPostgres(ts.db), true);
      const admin = await ts.user('admin@example.com', { admin: true });
      const bob = await ts.user('bob@example.com');
      await ts.services.projects.create(admin, { slug: 'p', name: 'P' });
      await ts.services.projects.setMember(admin, 'p', bob.email, 'member');
      await ts.services.secrets.upsert(admin, 'p', 'production', 'A', { value: 'a-1' });
      const p = (await findProjectBySlug(ts.db, 'p'))!;
      const key = (await activeProjectKey(ts.db, p.id, 'production'))!;
      const s = await ts.db.selectFrom('secrets').selectAll().where('name', '=', 'A').executeTakeFirstOrThrow();
      const counts = async () => ({
        versions: (await ts.db.selectFrom('secret_versions').select('version').where('secret_id', '=', s.id).execute()).length,
        events: (await ts.db.selectFrom('audit_events').select('id').where('name', '=', 'A').execute()).length,
        current: (await ts.db.selectFrom('secrets').select('current_version').where('id', '=', s.id).executeTakeFirstOrThrow()).current_version,
      });
      const version = (n: number) => ({
        secret_id: s.id,
        version: n,
        kind: 'set',
        ciphertext: new Uint8Array([1, 2, 3]),
        key_id: key.id,
        digest: 'd',
        size: 3,
        binary: 0,
        created_at: ts.clock(),
        created_by: 'bob@example.com',
      });
      const event = (n: number) =>
        auditRow({
          at: ts.clock(),
          projectId: p.id,
          actor: 'bob@example.com',
          actorIp: null,
          action: 'secret.updated',
          scope: 'production',
          name: 'A',
          version: n,
        });
      const check: SetCheck = { slug: 'p', userId: bob.userId, roles: ['member', 'admin'], keyScope: 'production' };
      const set = (from: number, c: SetCheck = check, keyId = key.id) =>
        writeSetPg(ts.db, p.id, 'production', from, { ...version(from + 1), key_id: keyId }, event(from + 1), c);
      return { ts, admin, bob, p, set, counts, check };
    }

    it('a compare-and-set that finds another version writes neither the version nor the audit event', async (t) => {
      const { set, counts } = await setUp(t);
      const before = await counts();
      assert.equal(before.current, 1);
      assert.equal(await set(2), false);
      assert.deepEqual(await counts(), before);
      assert.equal(await set(1), true);
      assert.deepEqual(await counts(), { versions: before.versions + 1, events: before.events + 1, current: 2 });
    });

    it('writes nothing for a removed member, a viewer, another slug or a key pair that is not the active one', async (t) => {
      const { ts, admin, bob, set, counts, check } = await setUp(t);
      const before = await counts();
      assert.equal(await set(1, { ...check, slug: 'other' }), false, 'another slug');
      assert.equal(await set(1, check, 'pk_not_active'), false, 'a key pair that is not the active one');
      await ts.services.projects.setMember(admin, 'p', bob.email, 'viewer');
      assert.equal(await set(1), false, 'a viewer');
      await ts.services.projects.removeMember(admin, 'p', bob.email);
      assert.equal(await set(1), false, 'a removed member');
      assert.deepEqual(await counts(), before);
    });
  });
}
