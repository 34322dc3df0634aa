import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api, bootstrap } from '../helpers/client.js';
import { createStore, dialects, expectStartFailure, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease, Tally, valuesInDatabase } from './support.js';

/**
 * Ciphertext tampering straight in the database (swapped between rows and projects, truncated,
 * bit-flipped, moved to another version or key pair): every release must fail with a clear error,
 * without any value in the body or the logs; and a wrong master key must stop the start.
 */
/** The file's figures; each test keeps a tally of its own (`figures.forTest()`). */
const figures = new Tally();

for (const d of await dialects()) {
  describe(`tampered ciphertexts and a wrong master key (${d.name})`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let api: Api;
    const values: string[] = [];
    const v = (label: string) => {
      const s = `tamper-${label}-${randomBytes(8).toString('hex')}`;
      values.push(s);
      return s;
    };
    type Row = { secret_id: string; version: number; ciphertext: Buffer; key_id: string };
    const row = async (slug: string, name: string, version?: number): Promise<Row> => {
      const rows = await dbQuery<Row>(
        store,
        `select v.secret_id, v.version, v.ciphertext, v.key_id from secret_versions v join secrets s on s.id = v.secret_id join projects p on p.id = s.project_id
         where p.slug = $1 and s.name = $2 and s.scope = 'production' and v.version = ${version === undefined ? 's.current_version' : '$3'}`,
        version === undefined ? [slug, name] : [slug, name, version],
      );
      assert.ok(rows[0], `row ${slug}/${name}`);
      return { ...rows[0], ciphertext: Buffer.from(rows[0].ciphertext) };
    };
    const put = (r: Row, ciphertext: Buffer, keyId = r.key_id) =>
      dbQuery(store, 'update secret_versions set ciphertext = $1, key_id = $2 where secret_id = $3 and version = $4', [
        ciphertext,
        keyId,
        r.secret_id,
        r.version,
      ]);

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      api = await bootstrap(server);
      for (const slug of ['tam-a', 'tam-b']) {
        const r = await api.post('/api/v1/projects', {
          slug,
          name: slug,
          secrets: [
            { name: 'ONE', scope: 'production', value: v(`${slug}-one`) },
            { name: 'TWO', scope: 'production', value: v(`${slug}-two`) },
            { name: 'ONE', scope: 'preview', value: v(`${slug}-preview-one`) },
          ],
        });
        assert.equal(r.status, 201, r.text);
      }
      assert.equal((await api.put('/api/v1/projects/tam-a/secrets/production/ONE', { value: v('tam-a-one-v2') })).status, 200);
    });
    after(async () => {
      await server?.stop();
      const out = server?.output() ?? '';
      for (const s of values) assert.ok(!out.includes(s), 'a value reached the server log');
      if (store) assert.deepEqual(await valuesInDatabase(store, values), [], 'no plaintext value in the database');
      figures.write('tamper');
      await store?.cleanup();
    });

    /** The running test's own tally (set at the start of each test). */
    let tally = figures.forTest();

    /** Applies a tampering, checks the release refuses it cleanly, restores, checks the release works again. */
    async function attack(label: string, tamper: () => Promise<unknown>, restore: () => Promise<unknown>) {
      await tamper();
      const { release } = await deployAndRelease(api, 'tam-a');
      const leaked = values.some((s) => release.text.includes(s));
      const clear =
        typeof release.body?.error?.message === 'string' &&
        /could not open|could not be unwrapped|another project|does not exist|does not belong/.test(release.body.error.message);
      tally.case(
        'tampered ciphertext',
        release.status >= 400 && release.status < 600 && release.status !== 200 && clear && !leaked,
        `${label} → ${release.status} ${release.text.slice(0, 160)}`,
      );
      await restore();
      const ok = await deployAndRelease(api, 'tam-a');
      assert.equal(ok.release.status, 200, `after restoring ${label}: ${ok.release.text}`);
    }

    it('ciphertext swapped between two rows, between two projects, moved to another version, truncated or bit-flipped fails to open and is reported without the value', async () => {
      tally = figures.forTest();
      const one = await row('tam-a', 'ONE');
      const two = await row('tam-a', 'TWO');
      const oneV1 = await row('tam-a', 'ONE', 1);
      const bOne = await row('tam-b', 'ONE');
      const restoreOne = () => put(one, one.ciphertext);
      await attack(
        'swapped between two rows of a project',
        async () => {
          await put(one, two.ciphertext);
          await put(two, one.ciphertext);
        },
        async () => {
          await put(one, one.ciphertext);
          await put(two, two.ciphertext);
        },
      );
      await attack('copied from another project (key id kept)', () => put(one, bOne.ciphertext), restoreOne);
      await attack('copied from another project with its key id', () => put(one, bOne.ciphertext, bOne.key_id), restoreOne);
      await attack('an older version copied over the current one', () => put(one, oneV1.ciphertext), restoreOne);
      const preview = (
        await dbQuery<{ id: string }>(
          store,
          `select pk.id from project_keys pk join projects p on p.id = pk.project_id where p.slug = 'tam-a' and pk.scope = 'preview'`,
        )
      )[0]!;
      await attack('key id pointed at the preview key pair', () => put(one, one.ciphertext, preview.id), restoreOne);
      await attack('key id pointed at a key pair that does not exist', () => put(one, one.ciphertext, 'pk_missing'), restoreOne);
      for (const cut of [1, 16, 17, one.ciphertext.length - 33, one.ciphertext.length - 1]) {
        await attack(`truncated by ${cut} bytes`, () => put(one, one.ciphertext.subarray(0, one.ciphertext.length - cut)), restoreOne);
      }
      await attack('emptied', () => put(one, Buffer.alloc(0)), restoreOne);
      for (const pos of [0, 1, 20, 32, 33, 40, one.ciphertext.length - 17, one.ciphertext.length - 1]) {
        for (const bit of [0x01, 0x80]) {
          const flipped = Buffer.from(one.ciphertext);
          flipped[pos]! ^= bit;
          await attack(`bit ${bit.toString(16)} flipped at byte ${pos}`, () => put(one, flipped), restoreOne);
        }
      }
      await attack('appended bytes', () => put(one, Buffer.concat([one.ciphertext, Buffer.from([0])])), restoreOne);
      // the project's wrapped private keys: swapped between scopes, flipped
      const keys = await dbQuery<{ id: string; scope: string; wrapped_private_key: Buffer }>(
        store,
        `select pk.id, pk.scope, pk.wrapped_private_key from project_keys pk join projects p on p.id = pk.project_id where p.slug = 'tam-a'`,
      );
      const prod = keys.find((k) => k.scope === 'production')!;
      const prev = keys.find((k) => k.scope === 'preview')!;
      const bKey = (
        await dbQuery<{ wrapped_private_key: Buffer }>(
          store,
          `select pk.wrapped_private_key from project_keys pk join projects p on p.id = pk.project_id where p.slug = 'tam-b' and pk.scope = 'production'`,
        )
      )[0]!;
      const setWrapped = (id: string, w: Buffer) => dbQuery(store, 'update project_keys set wrapped_private_key = $1 where id = $2', [w, id]);
      const restoreKey = () => setWrapped(prod.id, Buffer.from(prod.wrapped_private_key));
      await attack("wrapped key swapped with the preview scope's", () => setWrapped(prod.id, Buffer.from(prev.wrapped_private_key)), restoreKey);
      await attack('wrapped key copied from another project', () => setWrapped(prod.id, Buffer.from(bKey.wrapped_private_key)), restoreKey);
      const flippedKey = Buffer.from(prod.wrapped_private_key);
      flippedKey[flippedKey.length - 3]! ^= 0x04;
      await attack('wrapped key bit-flipped', () => setWrapped(prod.id, flippedKey), restoreKey);
      // Same project, scope, key pair and version: only the name binds each value to its row.
      assert.equal((await api.put('/api/v1/projects/tam-a/secrets/production/TWO', { value: v('tam-a-two-v2') })).status, 200);
      const oneV2 = await row('tam-a', 'ONE');
      const twoV2 = await row('tam-a', 'TWO');
      assert.equal(oneV2.version, twoV2.version);
      assert.equal(oneV2.key_id, twoV2.key_id);
      await attack(
        'two values of the same version swapped between names',
        async () => {
          await put(oneV2, twoV2.ciphertext);
          await put(twoV2, oneV2.ciphertext);
        },
        async () => {
          await put(oneV2, oneV2.ciphertext);
          await put(twoV2, twoV2.ciphertext);
        },
      );
      assert.deepEqual(tally.failures(), []);
    });

    it('a wrong master key at start is refused, names the mismatch, changes nothing and prints no key', async () => {
      tally = figures.forTest();
      await server.stop();
      const file = join(store.dataDir, 'master.key');
      const right = readFileSync(file, 'utf8');
      const before = await dbQuery(store, 'select id, retired_at from master_keys order by id');
      const cases: Array<[string, string, RegExp]> = [
        ['another valid key', `${randomBytes(32).toString('base64')}\n`, /does not match the master public key stored|not configured/],
        ['a short key', `${randomBytes(31).toString('base64')}\n`, /32 bytes in base64/],
        ['not base64', 'this is not a key at all, just some words!!\n', /32 bytes in base64/],
        ['an empty file', '\n', /empty/],
        ['the right key plus a stranger', `${right.trim()}\n${randomBytes(32).toString('base64')}\n`, /does not match/],
      ];
      // the key check does not depend on the engine: PostgreSQL tries the first case only
      for (const [label, content, want] of d.name === 'sqlite' ? cases : cases.slice(0, 1)) {
        writeFileSync(file, content, { mode: 0o600 });
        const r = await expectStartFailure(store);
        const printed = content
          .trim()
          .split('\n')
          .some((line) => line.length > 8 && r.output.includes(line.trim()));
        tally.case('wrong master key at start', r.code === 1 && want.test(r.output) && !printed, `${label} → exit ${r.code}: ${r.output.slice(0, 200)}`);
      }
      // via the environment too
      writeFileSync(file, right, { mode: 0o600 });
      const envKey = randomBytes(32).toString('base64');
      const r = await expectStartFailure(store, { env: { KEYLOFT_MASTER_KEY: envKey, KEYLOFT_MASTER_KEY_FILE: undefined } });
      tally.case(
        'wrong master key at start',
        r.code === 1 && /does not match|not configured/.test(r.output) && !r.output.includes(envKey),
        `KEYLOFT_MASTER_KEY → ${r.code}: ${r.output.slice(0, 200)}`,
      );
      assert.deepEqual(await dbQuery(store, 'select id, retired_at from master_keys order by id'), before, 'nothing was changed');
      server = await startServer(store);
      const ok = await deployAndRelease(new Api(server.url, api.token), 'tam-a');
      assert.equal(ok.release.status, 200, 'the right key still opens everything');
      assert.deepEqual(tally.failures(), []);
    });
  });
}
