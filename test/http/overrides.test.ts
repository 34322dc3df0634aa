import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Api, bootstrap } from '../helpers/client.js';
import { seedProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

for (const d of await dialects()) {
  describe(`${d.name}: per-pull-request preview overrides`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    const slug = `ovr-${randomBytes(3).toString('hex')}`;
    const V = {
      prodDb: val('prod-db'),
      prodOnly: val('prod-only'),
      prevDb: val('prev-db'),
      prevOnly: val('prev-only'),
      pr42Db: val('pr42-db'),
      pr42New: val('pr42-new'),
    };
    const PRODUCTION = [V.prodDb, V.prodOnly];

    const deployPreview = async (pr: number) => {
      const dep = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr });
      assert.equal(dep.status, 201, dep.text);
      const r = await admin.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
      assert.equal(r.status, 200, r.text);
      for (const v of PRODUCTION) assert.ok(!r.text.includes(v), `a preview deployment (PR ${pr}) received a production value`);
      await admin.with(dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, { status: 'succeeded' });
      return { started: dep.body, released: r.body as { runtime: Record<string, string> } };
    };

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Overrides' }, [
        { name: 'DB', scope: 'production', value: V.prodDb },
        { name: 'PROD_ONLY', scope: 'production', value: V.prodOnly },
        { name: 'DB', scope: 'preview', value: V.prevDb },
        { name: 'PREV_ONLY', scope: 'preview', value: V.prevOnly },
      ]);
    });
    after(async () => {
      await server?.stop();
    });

    test('an override is written with ?pr= and listed under its default; only for preview', async () => {
      const put = await admin.put(`/api/v1/projects/${slug}/secrets/preview/DB?pr=42`, { value: V.pr42Db });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.secret.scope, 'preview');
      assert.equal(put.body.secret.pr, 42);
      const extra = await admin.put(`/api/v1/projects/${slug}/secrets/preview/PR_ONLY?pr=42`, { value: V.pr42New });
      assert.equal(extra.status, 201, extra.text);
      const bad = await admin.put(`/api/v1/projects/${slug}/secrets/production/DB?pr=42`, { value: val('x') });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.body.error.field, 'pr');
      const list = await admin.get(`/api/v1/projects/${slug}/secrets?scope=preview`);
      assert.equal(list.status, 200, list.text);
      const rows = list.body.secrets.map((s: { name: string; pr?: number }) => `${s.name}${s.pr ? `#${s.pr}` : ''}`).sort();
      assert.deepEqual(rows, ['DB', 'DB#42', 'PREV_ONLY', 'PR_ONLY#42']);
      const all = await admin.get(`/api/v1/projects/${slug}/secrets`);
      assert.equal(all.status, 200, all.text);
      assert.ok(all.body.secrets.every((s: { scope: string }) => ['production', 'preview', 'build'].includes(s.scope)));
      const hist = await admin.get(`/api/v1/projects/${slug}/secrets/preview/DB/versions?pr=42`);
      assert.equal(hist.status, 200, hist.text);
      assert.equal(hist.body.versions.length, 1);
    });

    test('a PR-42 deployment gets its override, a PR-43 deployment the default; never a production value', async () => {
      const d42 = await deployPreview(42);
      assert.equal(d42.released.runtime.DB, V.pr42Db);
      assert.equal(d42.released.runtime.PR_ONLY, V.pr42New);
      assert.equal(d42.released.runtime.PREV_ONLY, V.prevOnly);
      assert.equal(d42.released.runtime.PROD_ONLY, undefined);
      const pinned42 = Object.fromEntries(d42.started.pinned.runtime.map((p: { name: string; override?: boolean }) => [p.name, p.override === true]));
      assert.deepEqual(pinned42, { DB: true, PREV_ONLY: false, PR_ONLY: true });
      assert.deepEqual(d42.started.pinned.absent, ['PROD_ONLY'], 'the pinned list names the production secret that has no preview value');

      const d43 = await deployPreview(43);
      assert.equal(d43.released.runtime.DB, V.prevDb);
      assert.equal(d43.released.runtime.PR_ONLY, undefined);
      assert.equal(d43.released.runtime.PROD_ONLY, undefined);
      assert.ok(d43.started.pinned.runtime.every((p: { override?: boolean }) => !p.override));

      const shown = await admin.get(`/api/v1/projects/${slug}/deployments/${d42.started.id}`);
      assert.equal(shown.body.pinned.runtime.find((p: { name: string }) => p.name === 'DB').override, true);
      const list = await admin.get(`/api/v1/projects/${slug}/secrets?scope=preview`);
      const ovr = list.body.secrets.find((s: { name: string; pr?: number }) => s.name === 'DB' && s.pr === 42);
      assert.equal(ovr.status, 'deployed');
    });

    test('closing the preview app removes its overrides; the next PR-42 deployment gets the defaults', async () => {
      const del = await admin.delete(`/api/v1/projects/${slug}/previews/42`);
      assert.equal(del.status, 204, del.text);
      const audit = await admin.get(`/api/v1/projects/${slug}/audit?action=secret.deleted`);
      assert.deepEqual(audit.body.events.map((e: { name: string; scope: string }) => `${e.name}@${e.scope}`).sort(), ['DB@preview#42', 'PR_ONLY@preview#42']);
      const again = await deployPreview(42);
      assert.equal(again.released.runtime.DB, V.prevDb);
      assert.equal(again.released.runtime.PR_ONLY, undefined);
      // Overrides for a PR that never had a deployment are removed too.
      assert.equal((await admin.put(`/api/v1/projects/${slug}/secrets/preview/DB?pr=77`, { value: val('pr77') })).status, 201);
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/77`)).status, 204);
      const d77 = await deployPreview(77);
      assert.equal(d77.released.runtime.DB, V.prevDb);
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/9999`)).status, 404);
    });
  });
}
