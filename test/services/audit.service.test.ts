import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { testServices } from '../helpers/services.js';

/**
 * The audit event is written in the transaction of the write it records: when its insert fails,
 * the write is rolled back. The failure is made deterministic with a trigger that refuses every
 * new audit row.
 */
describe('audit: a failed audit insert rolls back its write', () => {
  it('set, delete, member change, deploy key and deployment start each write nothing when their audit event cannot be stored', async (t) => {
    const ts = await testServices(t);
    const admin = await ts.user('admin@example.com');
    const bob = await ts.user('bob@example.com');
    await ts.services.projects.create(admin, { slug: 'shop', name: 'Shop', secrets: [{ name: 'KEEP', scope: 'production', value: 'kept' }] });
    // Starting deployments (and creating deploy keys) needs the release grant, off by default for admins too.
    await ts.services.projects.updateMember(admin, 'shop', admin.email, { release: true });
    const snapshot = async () => ({
      secrets: await ts.db.selectFrom('secrets').select(['name', 'current_version', 'deleted']).orderBy('name').execute(),
      versions: (await ts.db.selectFrom('secret_versions').select('version').execute()).length,
      members: (await ts.db.selectFrom('memberships').select('user_id').execute()).length,
      deployKeys: (await ts.db.selectFrom('deploy_keys').select('id').execute()).length,
      deployments: (await ts.db.selectFrom('deployments').select('id').execute()).length,
      audit: (await ts.db.selectFrom('audit_events').select('id').execute()).length,
    });
    const before = await snapshot();
    await sql`create trigger audit_down before insert on audit_events begin select raise(abort, 'audit store down'); end`.execute(ts.db);
    const writes: Array<[string, () => Promise<unknown>]> = [
      ['set a new secret', () => ts.services.secrets.upsert(admin, 'shop', 'production', 'NEW', { value: 'v' })],
      ['overwrite a secret', () => ts.services.secrets.upsert(admin, 'shop', 'production', 'KEEP', { value: 'changed' })],
      ['import', () => ts.services.secrets.importSecrets(admin, 'shop', 'build', { dotenv: 'A=1\n' }, false)],
      ['delete a secret', () => ts.services.secrets.remove(admin, 'shop', 'production', 'KEEP')],
      ['add a member', () => ts.services.projects.setMember(admin, 'shop', bob.email, 'member')],
      ['create a deploy key', () => ts.services.deployKeys.create(admin, 'shop', 'ci')],
      ['start a deployment', () => ts.services.deployments.start(admin, 'shop', { environment: 'production' })],
    ];
    for (const [label, write] of writes) {
      await assert.rejects(write(), /audit store down/, label);
      assert.deepEqual(await snapshot(), before, `${label}: nothing written`);
    }
    await sql`drop trigger audit_down`.execute(ts.db);
    await ts.services.secrets.upsert(admin, 'shop', 'production', 'NEW', { value: 'v' });
    assert.equal((await snapshot()).secrets.length, 2, 'the same write succeeds once audit events can be stored');
  });
});
