import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Api, bootstrap } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease, runCli, stopOrKill, writeFigures } from '../security/support.js';

/**
 * A ciphertext bit-flipped in the database: the release of a deployment that pins it is refused
 * with secret_damaged naming that secret and version (never a value), everything else keeps
 * working, and `keyloft check` lists the damaged version and exits 1.
 */
for (const d of await dialects()) {
  describe(`a corrupted row (${d.name})`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer | undefined;
    let api: Api;
    const values: string[] = [];
    const v = (label: string) => {
      const s = `corrupt-${label}-${randomBytes(8).toString('hex')}`;
      values.push(s);
      return s;
    };

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      api = await bootstrap(server);
      for (const slug of ['bad', 'good']) {
        const r = await api.post('/api/v1/projects', {
          slug,
          name: slug,
          secrets: [
            { name: 'DAMAGED', scope: 'production', value: v(`${slug}-damaged`) },
            { name: 'FINE', scope: 'production', value: v(`${slug}-fine`) },
          ],
        });
        assert.equal(r.status, 201, r.text);
      }
      assert.equal((await api.put('/api/v1/projects/bad/secrets/production/DAMAGED', { value: v('bad-damaged-v2') })).status, 200);
    });
    after(async () => {
      await stopOrKill(server);
      await store?.cleanup();
    });

    it('refuses only the release that pins it, with secret_damaged naming the secret and version, and keyloft check lists it (exit 1)', {
      timeout: 120_000,
    }, async () => {
      const clean = await runCli(store, ['check']);
      assert.equal(clean.code, 0, clean.stderr);
      assert.match(clean.stdout, /checked 5 sealed version\(s\): all open/);

      const row = (
        await dbQuery<{ secret_id: string; ciphertext: Buffer }>(
          store,
          "select v.secret_id, v.ciphertext from secret_versions v join secrets s on s.id = v.secret_id join projects p on p.id = s.project_id where p.slug = 'bad' and s.name = 'DAMAGED' and v.version = 2",
        )
      )[0]!;
      const flipped = Buffer.from(row.ciphertext);
      flipped[flipped.length - 20]! ^= 0x04;
      await dbQuery(store, 'update secret_versions set ciphertext = $1 where secret_id = $2 and version = 2', [flipped, row.secret_id]);

      const { release } = await deployAndRelease(api, 'bad');
      assert.equal(release.status, 500, release.text);
      assert.equal(release.body.error.code, 'secret_damaged');
      assert.match(release.body.error.message, /DAMAGED v2/);
      assert.ok(!values.some((s) => release.text.includes(s)), 'no value in the refusal');

      // The rest of the server: another project releases, the damaged project lists, writes, and releases once the secret is set again.
      const other = await deployAndRelease(api, 'good');
      assert.equal(other.release.status, 200, other.release.text);
      assert.equal((await api.get('/api/v1/projects/bad/secrets')).status, 200);

      const check = await runCli(store, ['check']);
      assert.equal(check.code, 1, check.stdout + check.stderr);
      assert.match(check.stdout, /checked 5 sealed version\(s\): 1 damaged/);
      assert.match(check.stdout, /damaged: bad production DAMAGED v2 \(ciphertext does not open\)/);
      const json = await runCli(store, ['check', '--json']);
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.stdout).damaged, [
        { project: 'bad', scope: 'production', name: 'DAMAGED', version: 2, reason: 'ciphertext does not open' },
      ]);
      for (const out of [check.stdout, check.stderr, json.stdout, release.text, server!.output()])
        assert.ok(!values.some((s) => out.includes(s)), 'no value printed or logged');

      assert.equal((await api.put('/api/v1/projects/bad/secrets/production/DAMAGED', { value: v('bad-damaged-v3') })).status, 200);
      const again = await deployAndRelease(api, 'bad');
      assert.equal(again.release.status, 200, again.release.text);
      // v2 stays damaged in the history: still listed.
      assert.equal((await runCli(store, ['check'])).code, 1);
      writeFigures(`faults-corrupted-${d.name}`, {
        versionsChecked: 5,
        damagedFound: 1,
        releaseStatus: release.status,
        otherProjectRelease: other.release.status,
      });
    });
  });
}
