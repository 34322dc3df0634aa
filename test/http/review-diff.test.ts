import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Api, type ApiResponse, bootstrap } from '../helpers/client.js';
import { deploy as deployAs, seedReviewProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;
const noValue = (res: ApiResponse, values: readonly string[], what: string) => {
  for (const v of values) assert.ok(!res.text.includes(v), `${what}: the response contains a value`);
};

for (const d of await dialects()) {
  describe(`${d.name}: review before apply (import --replace) and the change diff per deployment`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    const slug = `review-${randomBytes(3).toString('hex')}`;
    const V = { a: val('a'), a2: val('a2'), b: val('b'), c: val('c'), keep: val('keep') };
    const ALL = Object.values(V);

    const deploy = (environment: 'production' | 'preview', pr?: number, status: 'succeeded' | 'failed' = 'succeeded') =>
      deployAs(admin, slug, { environment, ...(pr ? { pr } : {}) }, status);

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      await seedReviewProject(admin, slug, V);
    });
    after(async () => {
      await server?.stop();
    });

    test('import dry run with replace lists added / changed / unchanged / removed by digest and writes nothing', async () => {
      const list0 = await admin.get(`/api/v1/projects/${slug}/secrets?scope=production`);
      const digestA = list0.body.secrets.find((s: { name: string }) => s.name === 'A').digest;
      const digestB = list0.body.secrets.find((s: { name: string }) => s.name === 'B').digest;
      const dry = await admin.post(`/api/v1/projects/${slug}/secrets/production:import?dryRun=true&replace=true`, `A=${V.a2}\nC=${V.c}\n`, {
        contentType: 'text/plain',
      });
      assert.equal(dry.status, 200, dry.text);
      noValue(dry, ALL, 'dry run');
      assert.equal(dry.body.written, 0);
      const byName = Object.fromEntries(dry.body.changes.map((c: { name: string }) => [c.name, c]));
      assert.equal(byName.A.change, 'changed');
      assert.equal(byName.A.digestBefore, digestA);
      assert.notEqual(byName.A.digestAfter, digestA);
      assert.equal(byName.C.change, 'added');
      assert.deepEqual(byName.B, { name: 'B', change: 'removed', digestBefore: digestB, digestAfter: null });
      assert.equal(byName.KEEP, undefined, 'another scope is never touched');
      const list1 = await admin.get(`/api/v1/projects/${slug}/secrets?scope=production`);
      assert.deepEqual(list1.body, list0.body, 'the dry run wrote something');
      // Without replace, B is not listed.
      const plain = await admin.post(`/api/v1/projects/${slug}/secrets/production:import?dryRun=true`, `A=${V.a2}\nC=${V.c}\n`, { contentType: 'text/plain' });
      assert.deepEqual(
        plain.body.changes.map((c: { name: string; change: string }) => `${c.name}:${c.change}`),
        ['A:changed', 'C:added'],
      );
    });

    test('import with replace deletes the names not in the file in the same write', async () => {
      const first = await deploy('production');
      const r = await admin.post(`/api/v1/projects/${slug}/secrets/production:import?replace=true`, `A=${V.a2}\nC=${V.c}\n`, { contentType: 'text/plain' });
      assert.equal(r.status, 200, r.text);
      noValue(r, ALL, 'import');
      assert.equal(r.body.written, 3);
      const list = await admin.get(`/api/v1/projects/${slug}/secrets?scope=production`);
      const b = list.body.secrets.find((s: { name: string }) => s.name === 'B');
      assert.equal(b.deleted, true);
      assert.equal(b.status, 'pending_removal');
      const audit = await admin.get(`/api/v1/projects/${slug}/audit?action=secret.deleted`);
      assert.equal(audit.body.events[0].name, 'B');
      assert.equal(audit.body.events[0].detail.via, 'import-replace');
      const preview = await admin.get(`/api/v1/projects/${slug}/secrets?scope=preview`);
      assert.equal(preview.body.secrets[0].deleted, false);

      // The change diff: against the previous succeeded deployment of production (a failed one in between is ignored).
      await deploy('production', undefined, 'failed');
      const second = await deploy('production');
      const shown = await admin.get(`/api/v1/projects/${slug}/deployments/${second}`);
      assert.equal(shown.status, 200, shown.text);
      noValue(shown, ALL, 'deployment');
      const ch = shown.body.changes;
      assert.equal(ch.previous, first);
      assert.deepEqual(ch.added, ['C']);
      assert.deepEqual(ch.removed, ['B']);
      assert.deepEqual(
        ch.changed.map((c: { name: string }) => c.name),
        ['A'],
      );
      assert.ok(/^[0-9a-f]{12}$/.test(ch.changed[0].digestBefore) && /^[0-9a-f]{12}$/.test(ch.changed[0].digestAfter));
      assert.notEqual(ch.changed[0].digestBefore, ch.changed[0].digestAfter);
      // The CLI prints the same diff: integration/review-diff.test.ts (keyloft deploy show).
      const firstShown = await admin.get(`/api/v1/projects/${slug}/deployments/${first}`);
      assert.equal(firstShown.body.changes.previous, null);
      assert.deepEqual(firstShown.body.changes.added, ['A', 'B'], 'the first deployment adds everything');
    });

    test('the preview diff compares with the same pull request', async () => {
      const p1 = await deploy('preview', 5);
      await admin.put(`/api/v1/projects/${slug}/secrets/preview/NEW_ONE`, { value: val('new') });
      const p2 = await deploy('preview', 6);
      const p3 = await deploy('preview', 5);
      const d3 = await admin.get(`/api/v1/projects/${slug}/deployments/${p3}`);
      assert.equal(d3.body.changes.previous, p1);
      assert.deepEqual(d3.body.changes.added, ['NEW_ONE']);
      const d2 = await admin.get(`/api/v1/projects/${slug}/deployments/${p2}`);
      assert.equal(d2.body.changes.previous, null);
    });
  });
}
