import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ForbiddenError, NotFoundError } from '../../src/domain/errors.js';
import type { Actor } from '../../src/services/actor.js';
import { createPublicKeys } from '../../src/services/keys.service.js';
import { createSecretsService } from '../../src/services/secrets.service.js';
import { createStatusService } from '../../src/services/status.service.js';
import { type TestServices, testServices } from '../helpers/services.js';

const text = (s: string) => new TextEncoder().encode(s);

/**
 * A secrets service whose sealing step runs `between` once the values are being sealed: after the
 * authorization that sealing needs, before the transaction that writes.
 */
function secretsWithHook(ts: TestServices, between: () => Promise<void>) {
  const keys = createPublicKeys({ db: ts.db, clock: ts.clock });
  let fired = false;
  const hooked: typeof keys = {
    ...keys,
    async sealerFor(ex, projectId, scope) {
      const r = await keys.sealerFor(ex, projectId, scope);
      if (!fired) {
        fired = true;
        await between();
      }
      return r;
    },
  };
  return createSecretsService({ db: ts.db, clock: ts.clock, keys: hooked, status: createStatusService() });
}

async function setUp(t: Parameters<typeof testServices>[0]) {
  const ts = await testServices(t);
  const admin = await ts.user('admin@example.com');
  const bob = await ts.user('bob@example.com');
  await ts.services.projects.create(admin, { slug: 'shop', name: 'Shop' });
  await ts.services.projects.setMember(admin, 'shop', bob.email, 'member');
  return { ts, admin, bob };
}

/** Everything written about the project's secrets: rows, versions and audit events. */
async function written(ts: TestServices) {
  const secrets = await ts.db.selectFrom('secrets').select('name').execute();
  const versions = await ts.db.selectFrom('secret_versions').select('version').execute();
  const events = (await ts.db.selectFrom('audit_events').select('action').execute()).map((e) => e.action).filter((a) => a.startsWith('secret.'));
  return { secrets: secrets.length, versions: versions.length, events };
}

describe('secrets service: authorization inside the write transaction', () => {
  it('a member removed between the seal and the commit writes nothing (set)', async (t) => {
    const { ts, admin, bob } = await setUp(t);
    const secrets = secretsWithHook(ts, () => ts.services.projects.removeMember(admin, 'shop', bob.email));
    await assert.rejects(secrets.upsert(bob, 'shop', 'production', 'API_KEY', { value: 'v1' }), NotFoundError);
    assert.deepEqual(await written(ts), { secrets: 0, versions: 0, events: [] });
  });

  it('a member removed between the seal and the commit writes nothing (import)', async (t) => {
    const { ts, admin, bob } = await setUp(t);
    const secrets = secretsWithHook(ts, () => ts.services.projects.removeMember(admin, 'shop', bob.email));
    await assert.rejects(secrets.importSecrets(bob, 'shop', 'production', { dotenv: 'A=1\nB=2\n' }, false), NotFoundError);
    assert.deepEqual(await written(ts), { secrets: 0, versions: 0, events: [] });
  });

  it('a member made viewer between the seal and the commit writes nothing', async (t) => {
    const { ts, admin, bob } = await setUp(t);
    const secrets = secretsWithHook(ts, async () => {
      await ts.services.projects.setMember(admin, 'shop', bob.email, 'viewer');
    });
    await assert.rejects(secrets.upsert(bob, 'shop', 'build', 'TOKEN', { value: 'v1' }), ForbiddenError);
    assert.deepEqual(await written(ts), { secrets: 0, versions: 0, events: [] });
  });

  it('a member still in the project at the commit writes (the hook alone changes nothing)', async (t) => {
    const { ts, bob } = await setUp(t);
    const secrets = secretsWithHook(ts, async () => {});
    const r = await secrets.upsert(bob as Actor, 'shop', 'production', 'API_KEY', { value: 'v1' });
    assert.equal(r.created, true);
    assert.deepEqual(await written(ts), { secrets: 1, versions: 1, events: ['secret.created'] });
    assert.equal(text('v1').length, r.secret.size);
  });
});
