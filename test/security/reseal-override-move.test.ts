import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type Api, type ApiResponse, bootstrap } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease } from './support.js';

/**
 * A per-pull-request preview override is sealed with the preview key pair, and its ciphertext's AAD
 * binds the row's own stored scope (`preview#42`). Moved in the database to another pull request
 * (`preview#43`) or to the preview default, it must fail to open: on release, and on the reseal path
 * (restore, copy), with a clear error that names the row and carries no value — never silently
 * giving PR 43 (or every preview) PR 42's value.
 */
for (const d of await dialects()) {
  describe(`a per-PR override ciphertext moved to another PR or to the preview default (${d.name})`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let api: Api;
    const slug = `mv-${randomBytes(3).toString('hex')}`;
    const values: string[] = [];
    const v = (label: string) => {
      const s = `move-${label}-${randomBytes(8).toString('hex')}`;
      values.push(s);
      return s;
    };
    const V = { dflt: v('default'), pr42: v('pr42'), only42: v('only42') };
    const b64 = (s: string) => Buffer.from(s).toString('base64');

    type Row = { secret_id: string; scope: string; version: number; ciphertext: Buffer; key_id: string };
    const row = async (name: string, scope: string): Promise<Row> => {
      const rows = await dbQuery<Row>(
        store,
        `select s.id as secret_id, s.scope, v.version, v.ciphertext, v.key_id from secrets s join secret_versions v on v.secret_id = s.id and v.version = s.current_version
         join projects p on p.id = s.project_id where p.slug = $1 and s.name = $2 and s.scope = $3`,
        [slug, name, scope],
      );
      assert.ok(rows[0], `row ${name} ${scope}`);
      return { ...rows[0], ciphertext: Buffer.from(rows[0].ciphertext) };
    };
    const setScope = (secretId: string, scope: string) => dbQuery(store, 'update secrets set scope = $1 where id = $2', [scope, secretId]);
    const setCiphertext = (r: Row, ciphertext: Buffer, keyId = r.key_id) =>
      dbQuery(store, 'update secret_versions set ciphertext = $1, key_id = $2 where secret_id = $3 and version = $4', [
        ciphertext,
        keyId,
        r.secret_id,
        r.version,
      ]);

    /** A refusal that is clear (names the row, says it could not be opened) and carries no value. */
    function assertClearRefusal(res: ApiResponse, name: string, what: string): void {
      assert.ok(res.status >= 400, `${what}: expected a refusal, got ${res.status} ${res.text.slice(0, 200)}`);
      const msg = String(res.body?.error?.message ?? '');
      assert.match(msg, /could not open/, `${what}: ${res.text.slice(0, 300)}`);
      assert.ok(msg.includes(name), `${what}: the error names the secret: ${msg}`);
      assert.match(msg, /damaged|moved/, `${what}: ${msg}`);
      for (const s of values) {
        assert.ok(!res.text.includes(s), `${what}: the response contains a value`);
        assert.ok(!res.text.includes(b64(s)), `${what}: the response contains a value in base64`);
      }
    }

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      api = await bootstrap(server);
      const c = await api.post('/api/v1/projects', { slug, name: 'Move', secrets: [{ name: 'API_URL', scope: 'preview', value: V.dflt }] });
      assert.equal(c.status, 201, c.text);
      assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/preview/API_URL?pr=42`, { value: V.pr42 })).status, 201);
      assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/preview/ONLY_42?pr=42`, { value: V.only42 })).status, 201);
      // As stored: PR 42 gets its overrides, PR 43 the default and no ONLY_42.
      const r42 = await deployAndRelease(api, slug, 'preview', 42);
      assert.equal(r42.release.status, 200, r42.release.text);
      assert.equal(r42.release.body.runtime.API_URL, V.pr42);
      assert.equal(r42.release.body.runtime.ONLY_42, V.only42);
      const r43 = await deployAndRelease(api, slug, 'preview', 43);
      assert.equal(r43.release.body.runtime.API_URL, V.dflt);
      assert.equal('ONLY_42' in r43.release.body.runtime, false);
    });
    after(async () => {
      await server?.stop();
      const out = server?.output() ?? '';
      for (const s of values) assert.ok(!out.includes(s) && !out.includes(b64(s)), 'a value reached the server output');
      await store?.cleanup();
    });

    it('the override row moved from preview#42 to preview#43 does not open for PR 43 (release, restore)', async () => {
      const o = await row('API_URL', 'preview#42');
      assert.equal(o.key_id, (await row('API_URL', 'preview')).key_id, 'overrides are sealed with the preview key pair');
      await setScope(o.secret_id, 'preview#43');
      try {
        const { release } = await deployAndRelease(api, slug, 'preview', 43);
        assertClearRefusal(release, 'API_URL', 'PR 43 release of the moved override');
        assert.match(String(release.body.error.message), /nothing was released/);
        const restore = await api.post(`/api/v1/projects/${slug}/secrets/preview/API_URL/versions/1/restore?pr=43`);
        assertClearRefusal(restore, 'API_URL', 'restore of the moved override');
        const hist = await api.get(`/api/v1/projects/${slug}/secrets/preview/API_URL/versions?pr=43`);
        assert.equal(hist.body.versions.length, 1, 'the refused restore wrote nothing');
      } finally {
        await setScope(o.secret_id, 'preview#42');
      }
      const ok = await deployAndRelease(api, slug, 'preview', 42);
      assert.equal(ok.release.status, 200, ok.release.text);
      assert.equal(ok.release.body.runtime.API_URL, V.pr42, 'moved back, it opens again');
    });

    it('an override-only row moved to the preview default does not open for any preview (release, copy)', async () => {
      const o = await row('ONLY_42', 'preview#42');
      await setScope(o.secret_id, 'preview');
      try {
        for (const pr of [7, 42]) {
          const { release } = await deployAndRelease(api, slug, 'preview', pr);
          assertClearRefusal(release, 'ONLY_42', `PR ${pr} release of the override moved to the default`);
        }
        const copy = await api.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'preview', to: 'production' });
        assertClearRefusal(copy, 'ONLY_42', 'copy of the moved override');
        const prod = await api.get(`/api/v1/projects/${slug}/secrets?scope=production`);
        assert.deepEqual(prod.body.secrets, [], 'the refused copy wrote nothing (all or nothing)');
      } finally {
        await setScope(o.secret_id, 'preview#42');
      }
      const ok = await deployAndRelease(api, slug, 'preview', 42);
      assert.equal(ok.release.status, 200, ok.release.text);
    });

    it('the override ciphertext copied over the preview default version does not open for a PR without an override', async () => {
      const dflt = await row('API_URL', 'preview');
      const o = await row('API_URL', 'preview#42');
      assert.equal(dflt.version, o.version, 'same name, same version, same key pair: only the scope in the AAD differs');
      await setCiphertext(dflt, o.ciphertext, o.key_id);
      try {
        const { release } = await deployAndRelease(api, slug, 'preview', 7);
        assertClearRefusal(release, 'API_URL', 'PR 7 release of the default holding the PR 42 ciphertext');
        const restore = await api.post(`/api/v1/projects/${slug}/secrets/preview/API_URL/versions/1/restore`);
        assertClearRefusal(restore, 'API_URL', 'restore of the default holding the PR 42 ciphertext');
      } finally {
        await setCiphertext(dflt, dflt.ciphertext);
      }
      const ok = await deployAndRelease(api, slug, 'preview', 7);
      assert.equal(ok.release.status, 200, ok.release.text);
      assert.equal(ok.release.body.runtime.API_URL, V.dflt);
    });
  });
}
