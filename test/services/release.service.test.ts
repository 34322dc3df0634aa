import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyloftError } from '../../src/domain/errors.js';
import type { Actor } from '../../src/services/actor.js';
import { type TestServices, testServices } from '../helpers/services.js';

async function deployActor(ts: TestServices, token: string): Promise<Actor> {
  const actor = await ts.services.deployments.tokenActor(token, null);
  assert.ok(actor, 'the deploy token resolves');
  return actor;
}

async function secretId(ts: TestServices, scope: string, name: string): Promise<string> {
  return (await ts.db.selectFrom('secrets').select('id').where('scope', '=', scope).where('name', '=', name).executeTakeFirstOrThrow()).id;
}

describe('release service: tampered rows are refused', () => {
  it("a PR-43 deployment's pin pointed at PR 42's override row is refused, not opened", async (t) => {
    const ts = await testServices(t);
    const admin = await ts.user('admin@example.com');
    await ts.services.projects.create(admin, { slug: 'shop', name: 'Shop', secrets: [{ name: 'DB_URL', scope: 'preview', value: 'preview-default' }] });
    // Starting deployments (and creating deploy keys) needs the release grant, off by default for admins too.
    await ts.services.projects.updateMember(admin, 'shop', admin.email, { release: true });
    await ts.services.secrets.upsert(admin, 'shop', 'preview', 'DB_URL', { value: 'only-for-pr-42' }, 42);
    await ts.services.secrets.upsert(admin, 'shop', 'preview', 'DB_URL', { value: 'only-for-pr-43' }, 43);
    const dep = await ts.services.deployments.start(admin, 'shop', { environment: 'preview', pr: 43 });
    const release = ts.services.release!;
    const actor = await deployActor(ts, dep.token);
    assert.deepEqual((await release.release(actor, dep.id)).runtime, { DB_URL: 'only-for-pr-43' });
    release.forget(dep.id);

    // The row's own AAD (scope preview#42) opens fine: only the release path's scope check stands in the way.
    const moved = await ts.db
      .updateTable('deployment_pins')
      .set({ secret_id: await secretId(ts, 'preview#42', 'DB_URL') })
      .where('deployment_id', '=', dep.id)
      .where('secret_id', '=', await secretId(ts, 'preview#43', 'DB_URL'))
      .executeTakeFirst();
    assert.equal(Number(moved.numUpdatedRows), 1);
    await assert.rejects(release.releaseJson(actor, dep.id), (err: unknown) => {
      assert.ok(err instanceof KeyloftError);
      assert.equal(err.code, 'internal');
      assert.match(err.message, /does not belong to this deployment/);
      assert.doesNotMatch(err.message, /only-for-pr/);
      return true;
    });
  });

  it('two values of the same version swapped between names fail to open (the name is bound end to end)', async (t) => {
    const ts = await testServices(t);
    const admin = await ts.user('admin@example.com');
    await ts.services.projects.create(admin, {
      slug: 'shop',
      name: 'Shop',
      secrets: [
        { name: 'ALPHA', scope: 'production', value: 'alpha-value' },
        { name: 'BETA', scope: 'production', value: 'beta-value' },
      ],
    });
    // Starting deployments (and creating deploy keys) needs the release grant, off by default for admins too.
    await ts.services.projects.updateMember(admin, 'shop', admin.email, { release: true });
    // Same project, scope, key pair and version (1): only the name tells the two apart.
    const rows = await ts.db
      .selectFrom('secret_versions')
      .innerJoin('secrets', 'secrets.id', 'secret_versions.secret_id')
      .select(['secret_versions.secret_id', 'secrets.name', 'secret_versions.version', 'secret_versions.ciphertext', 'secret_versions.key_id'])
      .where('secrets.scope', '=', 'production')
      .execute();
    const alpha = rows.find((r) => r.name === 'ALPHA')!;
    const beta = rows.find((r) => r.name === 'BETA')!;
    assert.equal(alpha.version, beta.version);
    assert.equal(alpha.key_id, beta.key_id);
    await ts.db.updateTable('secret_versions').set({ ciphertext: beta.ciphertext }).where('secret_id', '=', alpha.secret_id).execute();
    await ts.db.updateTable('secret_versions').set({ ciphertext: alpha.ciphertext }).where('secret_id', '=', beta.secret_id).execute();
    const dep = await ts.services.deployments.start(admin, 'shop', { environment: 'production' });
    await assert.rejects(ts.services.release!.releaseJson(await deployActor(ts, dep.token), dep.id), (err: unknown) => {
      assert.ok(err instanceof KeyloftError);
      assert.match(err.message, /could not open the pinned secret/);
      assert.doesNotMatch(err.message, /alpha-value|beta-value/);
      return true;
    });
  });
});
