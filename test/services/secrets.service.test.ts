import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
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

/** The SQL of every statement better-sqlite3 runs while `fn` runs (the in-memory test database). */
async function recordStatements(fn: () => Promise<unknown>): Promise<string[]> {
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
  const probe = new Sqlite(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<'run' | 'all' | 'get', (...a: unknown[]) => unknown>;
  probe.close();
  const seen: string[] = [];
  const originals = { run: proto.run, all: proto.all, get: proto.get };
  for (const m of ['run', 'all', 'get'] as const) {
    const orig = originals[m];
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      seen.push(this.source);
      return orig.apply(this, a);
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(proto, originals);
  }
  return seen;
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
  // A person's single set (the PUT route) reads the membership, the key pair and the secret in the
  // first query of its transaction and seals inside it: there is no step between an authorization
  // and the commit for a removal to fall into; the test below checks the order of its statements.
  it('a member removed before a set writes nothing', async (t) => {
    const { ts, admin, bob } = await setUp(t);
    await ts.services.projects.removeMember(admin, 'shop', bob.email);
    await assert.rejects(ts.services.secrets.upsert(bob, 'shop', 'production', 'API_KEY', { value: 'v1' }), NotFoundError);
    assert.deepEqual(await written(ts), { secrets: 0, versions: 0, events: [] });
  });

  it('a set reads the membership and the key pair inside its transaction, before its first write', async (t) => {
    const { ts, bob } = await setUp(t);
    const statements = await recordStatements(() => ts.services.secrets.upsert(bob, 'shop', 'production', 'API_KEY', { value: 'v1' }));
    const begin = statements.indexOf('begin');
    const commit = statements.indexOf('commit');
    const auth = statements.findIndex((s) => /"memberships"/.test(s) && /"project_keys"/.test(s));
    const firstWrite = statements.findIndex((s) => /^(insert|update|delete)/.test(s));
    assert.ok(begin >= 0 && begin < auth && auth < firstWrite && firstWrite < commit, statements.join('\n'));
    assert.equal(statements.filter((s) => /"memberships"/.test(s)).length, 1, 'one authorization query');
  });

  it('a member removed between the seal and the commit writes nothing (import)', async (t) => {
    const { ts, admin, bob } = await setUp(t);
    const secrets = secretsWithHook(ts, () => ts.services.projects.removeMember(admin, 'shop', bob.email));
    await assert.rejects(secrets.importSecrets(bob, 'shop', 'production', { dotenv: 'A=1\nB=2\n' }, false), NotFoundError);
    assert.deepEqual(await written(ts), { secrets: 0, versions: 0, events: [] });
  });

  it('a member made viewer before a set writes nothing', async (t) => {
    const { ts, admin, bob } = await setUp(t);
    await ts.services.projects.setMember(admin, 'shop', bob.email, 'viewer');
    await assert.rejects(ts.services.secrets.upsert(bob, 'shop', 'build', 'TOKEN', { value: 'v1' }), ForbiddenError);
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
