import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken } from '../../src/crypto/tokens.js';
import { findDeploymentByTokenHash } from '../../src/store/deployments.repository.js';
import { testServices } from '../helpers/services.js';

async function started(t: Parameters<typeof testServices>[0]) {
  const ts = await testServices(t);
  const admin = await ts.user('admin@example.com');
  await ts.services.projects.create(admin, { slug: 'shop', name: 'Shop', secrets: [{ name: 'API_KEY', scope: 'production', value: 'v1' }] });
  // Starting deployments (and creating deploy keys) needs the release grant, off by default for admins too.
  await ts.services.projects.updateMember(admin, 'shop', admin.email, { release: true });
  const dep = await ts.services.deployments.start(admin, 'shop', { environment: 'production' });
  return { ts, admin, dep };
}

/**
 * A deploy token is revoked twice over at completion: its hash is cleared, and `tokenActor` admits
 * only a running deployment. Each layer alone is tested here, so neither hides a bug in the other.
 */
describe('deployments service: deploy token revocation, each layer alone', () => {
  it('completion clears the token hash: no row answers to the token any more', async (t) => {
    const { ts, admin, dep } = await started(t);
    assert.ok(await findDeploymentByTokenHash(ts.db, hashToken(dep.token)), 'the running deployment answers to its token');
    await ts.services.deployments.complete(admin, dep.id, 'succeeded');
    assert.equal(await findDeploymentByTokenHash(ts.db, hashToken(dep.token)), undefined);
    const row = await ts.db.selectFrom('deployments').select(['status', 'token_hash']).where('id', '=', dep.id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { status: 'succeeded', token_hash: null });
  });

  it('tokenActor refuses a deployment that is not running, even with its token hash still stored', async (t) => {
    const { ts, dep } = await started(t);
    const actor = await ts.services.deployments.tokenActor(dep.token, null);
    assert.equal(actor?.kind, 'deployment');
    for (const status of ['succeeded', 'failed', 'expired']) {
      // Only the status changes: the hash stays, as if the completion had not cleared it.
      await ts.db.updateTable('deployments').set({ status }).where('id', '=', dep.id).execute();
      assert.equal(await ts.services.deployments.tokenActor(dep.token, null), undefined, status);
    }
  });

  it('tokenActor refuses an expired token once the clock passes its expiry (fake clock, no SQL)', async (t) => {
    const { ts, dep } = await started(t);
    ts.clock.advance(30 * 60_000 - 1);
    assert.equal((await ts.services.deployments.tokenActor(dep.token, null))?.kind, 'deployment');
    ts.clock.advance(1);
    assert.equal(await ts.services.deployments.tokenActor(dep.token, null), undefined);
    const row = await ts.db.selectFrom('deployments').select('status').where('id', '=', dep.id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'expired');
  });
});
