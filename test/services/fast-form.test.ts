import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { Keyring, masterKeyFromPrivate, ValueOpener } from '../../src/crypto/keyring.js';
import { KeyloftError } from '../../src/domain/errors.js';
import { createCheckService } from '../../src/services/check.service.js';
import { createReleaseService } from '../../src/services/release.service.js';
import { createRotationService } from '../../src/services/rotation.service.js';
import { storeDataKey } from '../../src/store/deployments.repository.js';
import { rewrapProjectKey } from '../../src/store/rotation.repository.js';
import { dialects } from '../helpers/server.js';
import { type TestServices, testServices } from '../helpers/services.js';

/**
 * The fast form of a value (issue 18 §3): the release role's first HPKE open of a version stores a
 * second ciphertext under the key pair's data key; later deployments pinning that version open it
 * with AES-256-GCM alone. HPKE opens are counted with a spy on ValueOpener.open (one per value).
 */

const VALUES = { ALPHA: 'alpha-value-7f3a', BETA: 'beta-value-91c2', GAMMA: 'gamma-value-0d4e' } as const;
const BUILD = 'npm-build-token-55aa';
const PREVIEW_ALPHA = 'preview-alpha-3b3b';

type Ts = TestServices;
type Admin = Awaited<ReturnType<Ts['user']>>;

async function setup(t: TestContext, dialect: 'sqlite' | 'postgres'): Promise<{ ts: Ts; admin: Admin }> {
  const ts = await testServices(t, { dialect });
  const admin = await ts.user('admin@example.com');
  await ts.services.projects.create(admin, {
    slug: 'shop',
    name: 'Shop',
    secrets: [
      ...Object.entries(VALUES).map(([name, value]) => ({ name, scope: 'production', value })),
      { name: 'ALPHA', scope: 'preview', value: PREVIEW_ALPHA },
      { name: 'NPM_TOKEN', scope: 'build', value: BUILD },
    ],
  });
  await ts.services.projects.updateMember(admin, 'shop', admin.email, { release: true });
  return { ts, admin };
}

/** Starts a deployment and fetches its values once, through `release` (default: the services' own). */
async function deployAndFetch(ts: Ts, admin: Admin, environment = 'production', release = ts.services.release!) {
  const dep = await ts.services.deployments.start(admin, 'shop', environment === 'preview' ? { environment, pr: 1 } : { environment });
  const actor = await ts.services.deployments.tokenActor(dep.token, null);
  assert.ok(actor);
  return release.release(actor, dep.id);
}

/** Counts HPKE value opens (one X25519 each) from now on. */
function countHpke(t: TestContext): () => number {
  const spy = t.mock.method(ValueOpener.prototype, 'open');
  return () => spy.mock.callCount();
}

async function fastRows(ts: Ts) {
  return ts.db
    .selectFrom('secret_versions')
    .innerJoin('secrets', 'secrets.id', 'secret_versions.secret_id')
    .select([
      'secret_versions.secret_id',
      'secrets.scope',
      'secrets.name',
      'secret_versions.version',
      'secret_versions.fast_ciphertext',
      'secret_versions.key_id',
    ])
    .orderBy('secrets.scope')
    .orderBy('secrets.name')
    .orderBy('secret_versions.version')
    .execute();
}

async function fastOf(ts: Ts, scope: string, name: string, version = 1): Promise<Uint8Array | null> {
  const row = (await fastRows(ts)).find((r) => r.scope === scope && r.name === name && r.version === version);
  assert.ok(row, `${scope} ${name} v${version}`);
  return row.fast_ciphertext;
}

async function setFast(ts: Ts, scope: string, name: string, version: number, fast: Uint8Array | null): Promise<void> {
  const id = (await ts.db.selectFrom('secrets').select('id').where('scope', '=', scope).where('name', '=', name).executeTakeFirstOrThrow()).id;
  await ts.db.updateTable('secret_versions').set({ fast_ciphertext: fast }).where('secret_id', '=', id).where('version', '=', version).execute();
}

const expected = { runtime: { ...VALUES }, build: { NPM_TOKEN: Buffer.from(BUILD).toString('base64') } };

/** A refusal that names the row and holds no value. */
function damaged(name: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof KeyloftError, String(err));
    assert.equal(err.code, 'secret_damaged');
    assert.match(err.message, name);
    for (const v of [...Object.values(VALUES), BUILD, PREVIEW_ALPHA]) assert.ok(!err.message.includes(v));
    return true;
  };
}

for (const d of await dialects()) {
  describe(`fast form of released values (${d.name})`, { skip: d.skip }, () => {
    it('the first release opens with HPKE and stores the fast form; the next deployment of the same versions opens it without HPKE', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      const hpke = countHpke(t);
      assert.deepEqual(await deployAndFetch(ts, admin), expected);
      assert.equal(hpke(), 4, 'one HPKE open per value on the first release');
      const stored = (await fastRows(ts)).filter((r) => r.scope !== 'preview');
      assert.equal(stored.length, 4);
      for (const r of stored) {
        assert.ok(r.fast_ciphertext, `${r.name}: a fast form`);
        assert.equal(r.fast_ciphertext[0], 0x02);
        for (const v of [...Object.values(VALUES), BUILD]) assert.equal(Buffer.from(r.fast_ciphertext).indexOf(v), -1, 'a value in the fast form');
      }
      // Only the key pairs released from got a data key; the preview value, never released, has no fast form.
      assert.equal(await fastOf(ts, 'preview', 'ALPHA'), null);
      const pairs = await ts.db.selectFrom('project_keys').select(['scope', 'wrapped_data_key']).execute();
      assert.deepEqual(
        pairs
          .filter((p) => p.wrapped_data_key !== null)
          .map((p) => p.scope)
          .sort(),
        ['build', 'production'],
      );

      assert.deepEqual(await deployAndFetch(ts, admin), expected);
      assert.equal(hpke(), 4, 'the second deployment opened no value with HPKE');

      // A new version pays HPKE once, the others stay on their fast form.
      await ts.services.secrets.upsert(admin, 'shop', 'production', 'BETA', { value: 'beta-v2' });
      assert.deepEqual((await deployAndFetch(ts, admin)).runtime, { ...VALUES, BETA: 'beta-v2' });
      assert.equal(hpke(), 5);
      assert.deepEqual((await deployAndFetch(ts, admin)).runtime, { ...VALUES, BETA: 'beta-v2' });
      assert.equal(hpke(), 5);
    });

    it('a fast form swapped between names, versions or scopes, or without its data key, is refused (secret_damaged) and `keyloft check` lists it', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      await deployAndFetch(ts, admin);
      await deployAndFetch(ts, admin, 'preview');
      await ts.services.secrets.upsert(admin, 'shop', 'production', 'GAMMA', { value: 'gamma-v2' });
      await deployAndFetch(ts, admin);
      const release = ts.services.release!;
      const check = createCheckService({ db: ts.db, keyring: ts.keyring });
      assert.deepEqual((await check.check()).damaged, []);

      // Between two names of the same version and scope.
      const alpha = (await fastOf(ts, 'production', 'ALPHA'))!;
      const beta = (await fastOf(ts, 'production', 'BETA'))!;
      await setFast(ts, 'production', 'ALPHA', 1, beta);
      await setFast(ts, 'production', 'BETA', 1, alpha);
      await assert.rejects(deployAndFetch(ts, admin, 'production', release), damaged(/could not open the pinned secret (ALPHA|BETA) v1/));
      const report = await check.check();
      assert.deepEqual(report.damaged.map((x) => `${x.scope} ${x.name} v${x.version} ${x.reason}`).sort(), [
        'production ALPHA v1 fast form does not open',
        'production BETA v1 fast form does not open',
      ]);
      await setFast(ts, 'production', 'ALPHA', 1, alpha);
      await setFast(ts, 'production', 'BETA', 1, beta);
      assert.deepEqual(await deployAndFetch(ts, admin), { ...expected, runtime: { ...VALUES, GAMMA: 'gamma-v2' } });

      // The HPKE forms swapped while the fast forms stay: a release reads only the fast forms, but
      // each is bound to its row's HPKE ciphertext, so the tampering is still refused.
      const ct = async (name: string) =>
        await ts.db
          .selectFrom('secret_versions')
          .innerJoin('secrets', 'secrets.id', 'secret_versions.secret_id')
          .select(['secret_id', 'ciphertext'])
          .where('secrets.scope', '=', 'production')
          .where('secrets.name', '=', name)
          .where('secret_versions.version', '=', 1)
          .executeTakeFirstOrThrow();
      const [a1, b1] = [await ct('ALPHA'), await ct('BETA')];
      const setCt = (id: string, c: Uint8Array | null) =>
        ts.db.updateTable('secret_versions').set({ ciphertext: c }).where('secret_id', '=', id).where('version', '=', 1).execute();
      await setCt(a1.secret_id, b1.ciphertext);
      await setCt(b1.secret_id, a1.ciphertext);
      await assert.rejects(deployAndFetch(ts, admin), damaged(/could not open the pinned secret (ALPHA|BETA) v1/));
      await setCt(a1.secret_id, a1.ciphertext);
      await setCt(b1.secret_id, b1.ciphertext);
      assert.deepEqual((await check.check()).damaged, []);

      // The wrapped private key or the wrapped data key of the pair damaged: refused, though every pin has its fast form.
      const keys = await ts.db.selectFrom('project_keys').selectAll().execute();
      const prodKey = keys.find((k) => k.scope === 'production')!;
      const previewKey = keys.find((k) => k.scope === 'preview')!;
      const setKey = (set: { wrapped_private_key?: Uint8Array; wrapped_data_key?: Uint8Array | null }) =>
        ts.db.updateTable('project_keys').set(set).where('id', '=', prodKey.id).execute();
      const unwrapRefused = (what: RegExp) => (err: unknown) => err instanceof KeyloftError && err.code === 'internal' && what.test(err.message);
      await setKey({ wrapped_private_key: previewKey.wrapped_private_key });
      await assert.rejects(deployAndFetch(ts, admin), unwrapRefused(/production key pair of this project could not be unwrapped/));
      await setKey({ wrapped_private_key: prodKey.wrapped_private_key });
      const flipped = new Uint8Array(prodKey.wrapped_data_key!);
      flipped[flipped.length - 3]! ^= 0x04;
      await setKey({ wrapped_data_key: flipped });
      await assert.rejects(deployAndFetch(ts, admin), unwrapRefused(/production data key of this project could not be unwrapped/));
      await setKey({ wrapped_data_key: previewKey.wrapped_data_key });
      await assert.rejects(deployAndFetch(ts, admin), unwrapRefused(/production data key of this project could not be unwrapped/));
      await setKey({ wrapped_data_key: prodKey.wrapped_data_key });

      // Between two versions of one secret: v1's fast form in the current v2 row.
      const gamma2 = await fastOf(ts, 'production', 'GAMMA', 2);
      await setFast(ts, 'production', 'GAMMA', 2, await fastOf(ts, 'production', 'GAMMA', 1));
      await assert.rejects(deployAndFetch(ts, admin), damaged(/GAMMA v2/));
      await setFast(ts, 'production', 'GAMMA', 2, gamma2);

      // Between scopes: production's ALPHA in preview's ALPHA row (another key pair, another data key).
      const previewAlpha = await fastOf(ts, 'preview', 'ALPHA');
      assert.ok(previewAlpha);
      await setFast(ts, 'preview', 'ALPHA', 1, alpha);
      await assert.rejects(deployAndFetch(ts, admin, 'preview'), damaged(/ALPHA v1/));
      await setFast(ts, 'preview', 'ALPHA', 1, previewAlpha);
      assert.deepEqual((await deployAndFetch(ts, admin, 'preview')).runtime, { ALPHA: PREVIEW_ALPHA });

      // A fast form whose key pair lost its data key is damaged too: never passed over for HPKE.
      await ts.db.updateTable('project_keys').set({ wrapped_data_key: null }).where('scope', '=', 'preview').execute();
      await assert.rejects(deployAndFetch(ts, admin, 'preview'), damaged(/ALPHA v1/));
      assert.deepEqual(
        (await check.check()).damaged.map((x) => `${x.scope} ${x.name} ${x.reason}`),
        ['preview ALPHA fast form does not open'],
      );
    });

    it('a failure to store the fast forms never fails the release: it is reported without values, and the next release tries again', {
      skip: d.name !== 'sqlite' && 'the failure is injected with a SQLite trigger',
    }, async (t) => {
      const { ts, admin } = await setup(t, d.name);
      await sql`create trigger no_fast before update of fast_ciphertext on secret_versions begin select raise(abort, 'injected failure'); end`.execute(ts.db);
      const warnings: string[] = [];
      const release = createReleaseService({ db: ts.db, clock: ts.clock, keyring: ts.keyring, warn: (m) => warnings.push(m) });
      t.after(() => release.close());
      assert.deepEqual(await deployAndFetch(ts, admin, 'production', release), expected);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /fast form of 4 released value\(s\) was not stored \(SQLITE_CONSTRAINT_TRIGGER\)/);
      for (const v of [...Object.values(VALUES), BUILD]) assert.ok(!warnings[0]!.includes(v));
      assert.ok(
        (await fastRows(ts)).every((r) => r.fast_ciphertext === null),
        'nothing stored',
      );
      await sql`drop trigger no_fast`.execute(ts.db);
      const hpke = countHpke(t);
      assert.deepEqual(await deployAndFetch(ts, admin, 'production', release), expected);
      assert.equal(hpke(), 4);
      assert.deepEqual(await deployAndFetch(ts, admin, 'production', release), expected);
      assert.equal(hpke(), 4, 'stored by the second release');
    });

    it('project key rotation re-seals the values and drops their fast forms; the next release stores them under the new key pairs', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      await deployAndFetch(ts, admin);
      const rotation = createRotationService({ db: ts.db, clock: ts.clock, keyring: ts.keyring });
      const r = await rotation.rotateProject('shop');
      assert.equal(r.done, true);
      assert.ok(
        (await fastRows(ts)).every((x) => x.fast_ciphertext === null),
        'no fast form under a retired key pair',
      );
      const hpke = countHpke(t);
      assert.deepEqual(await deployAndFetch(ts, admin), expected);
      assert.equal(hpke(), 4);
      assert.deepEqual(await deployAndFetch(ts, admin), expected);
      assert.equal(hpke(), 4);
      const newPairs = new Set(Object.values(r.newPairs));
      for (const x of (await fastRows(ts)).filter((x) => x.scope !== 'preview')) assert.ok(x.fast_ciphertext && newPairs.has(x.key_id!), `${x.name}`);
    });

    it('master key rotation re-wraps the data keys: a release server holding only the new master key opens the fast forms', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      await deployAndFetch(ts, admin);
      const oldMaster = masterKeyFromPrivate(new Uint8Array(Buffer.from(ts.config.masterKeys[0]!, 'base64')));
      const newMaster = masterKeyFromPrivate(generateRawKeyPair().privateKey);
      const rotation = createRotationService({ db: ts.db, clock: ts.clock, keyring: await Keyring.create([oldMaster, newMaster]) });
      await rotation.registerMasterKey(newMaster);
      await rotation.beginMasterRotation(newMaster.id);
      const done = await rotation.rewrapBatches({ batchSize: 2 });
      assert.equal(done.done, true);
      const pairs = await ts.db.selectFrom('project_keys').selectAll().execute();
      assert.ok(pairs.every((p) => p.master_key_id === newMaster.id));
      assert.equal(pairs.filter((p) => p.wrapped_data_key !== null).length, 2);

      const release = createReleaseService({ db: ts.db, clock: ts.clock, keyring: await Keyring.create([newMaster]) });
      t.after(() => release.close());
      const hpke = countHpke(t);
      assert.deepEqual(await deployAndFetch(ts, admin, 'production', release), expected);
      assert.equal(hpke(), 0, 'every value opened from its fast form');
      assert.deepEqual((await createCheckService({ db: ts.db, keyring: await Keyring.create([newMaster]) }).check()).damaged, []);
    });

    it('a data key stored by a release while a master rotation ran is not overwritten: the rotation re-reads the row', async (t) => {
      const { ts } = await setup(t, d.name);
      const pair = await ts.db.selectFrom('project_keys').selectAll().where('scope', '=', 'production').executeTakeFirstOrThrow();
      const { wrapped } = await ts.keyring.newDataKey({ id: pair.id, projectId: pair.project_id, scope: pair.scope, masterKeyId: pair.master_key_id });
      // The rotation read the row (no data key yet); a release then stores the first data key.
      assert.equal(await storeDataKey(ts.db, pair.id, pair.master_key_id, wrapped), true);
      assert.equal(await storeDataKey(ts.db, pair.id, pair.master_key_id, wrapped), false, 'a data key is stored once');
      assert.equal(await rewrapProjectKey(ts.db, pair.id, pair.master_key_id, 'mk_new', new Uint8Array(pair.wrapped_private_key), null), false);
      const after = await ts.db.selectFrom('project_keys').selectAll().where('id', '=', pair.id).executeTakeFirstOrThrow();
      assert.equal(after.master_key_id, pair.master_key_id);
      assert.deepEqual(new Uint8Array(after.wrapped_data_key!), wrapped);
    });

    it('restoring an old version writes a new version without a fast form; its first release stores one', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      await ts.services.secrets.upsert(admin, 'shop', 'production', 'ALPHA', { value: 'alpha-v2' });
      await deployAndFetch(ts, admin);
      const restored = await ts.services.reseal!.restore(admin, 'shop', 'production', 'ALPHA', 1);
      assert.equal(restored.version, 3);
      assert.equal(await fastOf(ts, 'production', 'ALPHA', 3), null);
      const hpke = countHpke(t);
      assert.deepEqual(await deployAndFetch(ts, admin), expected);
      assert.equal(hpke(), 1, 'only the restored version opened with HPKE');
      assert.ok(await fastOf(ts, 'production', 'ALPHA', 3));
    });

    it('deleting a project deletes its data keys and fast forms with it', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      await deployAndFetch(ts, admin);
      await ts.services.projects.remove(admin, 'shop', 'shop');
      assert.equal((await ts.db.selectFrom('project_keys').selectAll().execute()).length, 0);
      assert.equal((await fastRows(ts)).length, 0);
    });
  });
}

describe('the api role never creates or reads a data key', () => {
  it('builds no release service (it has no keyring) and its writes leave every fast form and data key empty', async (t) => {
    const ts = await testServices(t, { role: 'api' });
    assert.equal('release' in ts.services, false);
    assert.equal('reseal' in ts.services, false);
    const admin = await ts.user('admin@example.com');
    await ts.services.projects.create(admin, { slug: 'shop', name: 'Shop', secrets: [{ name: 'ALPHA', scope: 'production', value: 'a' }] });
    await ts.services.secrets.upsert(admin, 'shop', 'production', 'ALPHA', { value: 'b' });
    await ts.services.secrets.upsert(admin, 'shop', 'build', 'NPM', { value: 'c' });
    assert.ok((await ts.db.selectFrom('project_keys').select('wrapped_data_key').execute()).every((r) => r.wrapped_data_key === null));
    assert.ok((await ts.db.selectFrom('secret_versions').select('fast_ciphertext').execute()).every((r) => r.fast_ciphertext === null));
  });
});
