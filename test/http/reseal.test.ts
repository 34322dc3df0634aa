import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Api, type ApiResponse, bootstrap, createUser } from '../helpers/client.js';
import { seedResealProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

/** No response to a person may contain any of the values, nor their base64. */
function assertNoValue(res: ApiResponse, values: readonly string[], what: string): void {
  for (const v of values) {
    assert.ok(!res.text.includes(v), `${what}: the response contains a value`);
    assert.ok(!res.text.includes(b64(v)), `${what}: the response contains a value in base64`);
  }
}

for (const d of await dialects()) {
  describe(`${d.name}: restore and copy (values re-sealed on the server, never returned)`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    let viewer: Api;
    const slug = `reseal-${randomBytes(3).toString('hex')}`;
    const V = { one: val('one'), two: val('two'), p1: val('p1'), p2: val('p2'), prev2: val('prev2'), text: val('build-text') };
    const ALL = Object.values(V);

    const released = async (environment: 'production' | 'preview', pr?: number) => {
      const dep = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment, ...(pr ? { pr } : {}) });
      assert.equal(dep.status, 201, dep.text);
      const r = await admin.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
      assert.equal(r.status, 200, r.text);
      const done = await admin.with(dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, { status: 'succeeded' });
      assert.equal(done.status, 200, done.text);
      return r.body as { runtime: Record<string, string>; build: Record<string, string> };
    };
    const versions = async (scope: string, name: string) => {
      const r = await admin.get(`/api/v1/projects/${slug}/secrets/${scope}/${name}/versions`);
      assert.equal(r.status, 200, r.text);
      return r.body.versions as Array<{ version: number; kind: string; digest: string | null }>;
    };

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      await seedResealProject(admin, { slug, name: 'Reseal' }, { token: V.one, p1: V.p1, p2: V.p2, prev2: V.prev2 }, [
        { name: 'TEXT', scope: 'build', value: V.text },
      ]);
      const bin = await admin.put(`/api/v1/projects/${slug}/secrets/build/BIN`, { valueBase64: b64(new Uint8Array([0xff, 0x00, 0x01, 0xfe])) });
      assert.equal(bin.status, 201, bin.text);
      viewer = await createUser(server, admin, `viewer-${randomBytes(3).toString('hex')}@example.com`);
      const m = await admin.post(`/api/v1/projects/${slug}/members`, { email: (await viewer.get('/api/v1/me')).body.email, role: 'viewer' });
      assert.equal(m.status, 201, m.text);
    });
    after(async () => {
      await server?.stop();
    });

    test('restore makes an old version current as a new version with the same value and digest', async () => {
      assert.equal((await admin.put(`/api/v1/projects/${slug}/secrets/production/TOKEN`, { value: V.two })).status, 200);
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/secrets/production/TOKEN`)).status, 200);
      const before = await versions('production', 'TOKEN');
      assert.deepEqual(
        before.map((v) => v.kind),
        ['delete', 'set', 'set'],
      );
      const r = await admin.post(`/api/v1/projects/${slug}/secrets/production/TOKEN/versions/1/restore`);
      assert.equal(r.status, 200, r.text);
      assertNoValue(r, ALL, 'restore');
      assert.equal(r.body.restoredFrom, 1);
      assert.equal(r.body.version, 4);
      assert.equal(r.body.secret.version, 4);
      assert.equal(r.body.secret.deleted, false);
      const after = await versions('production', 'TOKEN');
      assert.equal(after[0]!.version, 4);
      assert.equal(after[0]!.kind, 'restore');
      assert.equal(after[0]!.digest, before.find((v) => v.version === 1)!.digest, 'the restored digest matches the old version');
      assert.equal((await released('production')).runtime.TOKEN, V.one, 'the released value is the old one');
      const audit = await admin.get(`/api/v1/projects/${slug}/audit?action=secret.restored`);
      assert.equal(audit.status, 200, audit.text);
      assert.equal(audit.body.events[0].detail.restored, 'restored v1 as v4');
      assertNoValue(audit, ALL, 'audit');
    });

    test('a tombstone, a missing version and a viewer are refused; nothing is written', async () => {
      const tomb = await admin.post(`/api/v1/projects/${slug}/secrets/production/TOKEN/versions/3/restore`);
      assert.equal(tomb.status, 400, tomb.text);
      assert.equal(tomb.body.error.field, 'version');
      const missing = await admin.post(`/api/v1/projects/${slug}/secrets/production/TOKEN/versions/99/restore`);
      assert.equal(missing.status, 404, missing.text);
      const denied = await viewer.post(`/api/v1/projects/${slug}/secrets/production/TOKEN/versions/1/restore`);
      assert.equal(denied.status, 403, denied.text);
      assert.equal((await versions('production', 'TOKEN'))[0]!.version, 4);
    });

    test('copy: dry run writes nothing; conflicts are skipped unless overwrite; never a value', async () => {
      const dry = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'preview', names: ['P1', 'P2'], dryRun: true });
      assert.equal(dry.status, 200, dry.text);
      assertNoValue(dry, ALL, 'dry run');
      assert.deepEqual(
        dry.body.copied.map((c: { name: string }) => c.name),
        ['P1'],
      );
      assert.deepEqual(dry.body.skipped, [{ name: 'P2', reason: 'exists' }]);
      assert.equal(dry.body.written, 0);
      const list = await admin.get(`/api/v1/projects/${slug}/secrets?scope=preview`);
      assert.ok(!list.body.secrets.some((s: { name: string }) => s.name === 'P1'), 'the dry run wrote P1');

      const r = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'preview', names: ['P1', 'P2'] });
      assert.equal(r.status, 200, r.text);
      assertNoValue(r, ALL, 'copy');
      assert.equal(r.body.written, 1);
      let preview = await released('preview', 7);
      assert.equal(preview.runtime.P1, V.p1);
      assert.equal(preview.runtime.P2, V.prev2, 'a conflict is kept without overwrite');

      const o = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'preview', names: ['P1', 'P2'], overwrite: true });
      assert.equal(o.status, 200, o.text);
      assertNoValue(o, ALL, 'overwrite');
      assert.deepEqual(
        o.body.copied.map((c: { name: string; change: string }) => `${c.name}:${c.change}`),
        ['P2:changed'],
      );
      assert.deepEqual(o.body.skipped, [{ name: 'P1', reason: 'unchanged' }]);
      preview = await released('preview', 7);
      assert.equal(preview.runtime.P2, V.p2);
      const audit = await admin.get(`/api/v1/projects/${slug}/audit?name=P2`);
      assert.equal(audit.body.events[0].detail.via, 'copy');
      assert.equal(audit.body.events[0].detail.from, 'production');
    });

    test('copy is all or nothing: a binary build value refuses the whole copy, naming it', async () => {
      const r = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'build', to: 'production' });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.field, 'names');
      assert.ok(r.body.error.message.includes('BIN'), r.text);
      assertNoValue(r, ALL, 'refusal');
      const prod = await admin.get(`/api/v1/projects/${slug}/secrets?scope=production`);
      assert.ok(!prod.body.secrets.some((s: { name: string }) => s.name === 'TEXT'), 'TEXT was written although the copy was refused');
      const missing = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'build', to: 'production', names: ['TEXT', 'NOPE'] });
      assert.equal(missing.status, 404, missing.text);
      const ok = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'build', to: 'production', names: ['TEXT'] });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await released('production')).runtime.TEXT, V.text);
      const bin = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'build', names: ['P1'] });
      assert.equal(bin.status, 200, bin.text);
      assert.equal((await released('production')).build.P1, b64(V.p1));
      const denied = await viewer.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'preview' });
      assert.equal(denied.status, 403, denied.text);
      const same = await admin.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'preview', to: 'preview' });
      assert.equal(same.status, 400, same.text);
    });

    test('the api role holds no keys: restore and copy answer 421 naming the release URL', async () => {
      const releaseUrl = 'https://release.example.test';
      // An api-role app of its own (no keyring, as `serve --role api`) over a store holding a project.
      const api = await testApp(undefined, { dialect: d.name, role: 'api', env: { KEYLOFT_RELEASE_URL: releaseUrl } });
      try {
        const owner = await bootstrap(api);
        await seedResealProject(owner, { slug, name: 'Reseal' }, { token: V.one, p1: V.p1, p2: V.p2, prev2: V.prev2 });
        const a = new Api(api.url, owner.token, api.fetch);
        const r = await a.post(`/api/v1/projects/${slug}/secrets/production/TOKEN/versions/1/restore`);
        assert.equal(r.status, 421, r.text);
        assert.equal(r.body.error.code, 'wrong_role');
        assert.ok(r.body.error.message.includes(releaseUrl), r.text);
        const c = await a.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'preview' });
        assert.equal(c.status, 421, c.text);
      } finally {
        await api.stop();
      }
    });
  });
}
