import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { SecretMeta } from '../../src/domain/contract.js';
import { testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

/**
 * The secret list (issue 18 §4) is serialized with JSON.stringify and, for production and build,
 * computes its statuses in the list query: its answer must be exactly what the schema's serializer
 * writes, and the statuses those of the general path (the list of every scope, through statusFor).
 */
for (const d of await dialects()) {
  describe(`secret list answer (${d.name})`, { skip: d.skip }, () => {
    it('is the schema serializer’s text, and the one-scope statuses are those of the all-scope list', async (t) => {
      const a = await testApp(t, { dialect: d.name });
      const { actor: admin, token } = await a.userWithToken('admin@example.com', { admin: true });
      const s = a.services;
      await s.projects.create(admin, { slug: 'p', name: 'P' });
      await s.projects.updateMember(admin, 'p', 'admin@example.com', { release: true });
      const put = (scope: 'production' | 'preview' | 'build', name: string, value: string, pr?: number) =>
        s.secrets.upsert(admin, 'p', scope, name, { value }, pr);
      for (const n of ['A_DEPLOYED', 'B_CHANGED', 'C_REMOVED', 'D_GONE']) await put('production', n, `${n}-1`);
      await put('build', 'NPM_TOKEN', 'npm-1');
      await s.secrets.upsert(admin, 'p', 'build', 'CERT', { valueBase64: Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64') });
      await put('preview', 'PREVIEW_URL', 'pv-1');
      await put('preview', 'PREVIEW_URL', 'override-7', 7);
      // D_GONE deleted before the deployment: gone from the list; C_REMOVED after it: pending removal.
      await s.secrets.remove(admin, 'p', 'production', 'D_GONE');
      const dep = await s.deployments.start(admin, 'p', { environment: 'production' });
      await s.deployments.complete(admin, dep.id, 'succeeded');
      const pv = await s.deployments.start(admin, 'p', { environment: 'preview', pr: 7 });
      await s.deployments.complete(admin, pv.id, 'succeeded');
      await put('production', 'B_CHANGED', 'B_CHANGED-2');
      await put('production', 'E_NEW', 'E-1');
      await put('build', 'NPM_TOKEN', 'npm-2');
      await s.secrets.remove(admin, 'p', 'production', 'C_REMOVED');

      // The reference serializer: Fastify's own, for the route's response schema.
      const ref = Fastify();
      t.after(() => ref.close());
      ref.post('/echo', { schema: { response: { 200: Type.Object({ secrets: Type.Array(SecretMeta) }) } } }, async (req) => req.body as object);

      const all = await a.request('GET', '/api/v1/projects/p/secrets', { token });
      assert.equal(all.status, 200, all.text);
      for (const scope of ['', 'production', 'build', 'preview']) {
        const res = scope ? await a.request('GET', `/api/v1/projects/p/secrets?scope=${scope}`, { token }) : all;
        assert.equal(res.status, 200, res.text);
        assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/);
        const echoed = await ref.inject({ method: 'POST', url: '/echo', payload: res.body });
        assert.equal(res.text, echoed.body, `scope ${scope || '(all)'}: not the schema serializer's text`);
        if (scope === 'production' || scope === 'build') {
          assert.deepEqual(
            res.body.secrets,
            all.body.secrets.filter((m: { scope: string; pr?: number }) => m.scope === scope && m.pr === undefined),
            `scope ${scope}`,
          );
        }
      }
      const prod = Object.fromEntries(
        all.body.secrets.filter((m: { scope: string }) => m.scope === 'production').map((m: { name: string; status: string }) => [m.name, m.status]),
      );
      assert.deepEqual(prod, { A_DEPLOYED: 'deployed', B_CHANGED: 'pending', C_REMOVED: 'pending_removal', E_NEW: 'pending' });
      const build = Object.fromEntries(
        all.body.secrets
          .filter((m: { scope: string }) => m.scope === 'build')
          .map((m: { name: string; status: string; binary?: boolean }) => [m.name, `${m.status}${m.binary ? ' binary' : ''}`]),
      );
      // The last succeeded deployment of any environment (the preview one) decides for build secrets.
      assert.deepEqual(build, { CERT: 'deployed binary', NPM_TOKEN: 'pending' });
      assert.ok(
        all.body.secrets.some((m: { pr?: number; applied?: unknown }) => m.pr === 7),
        'the override is listed',
      );
      // A write's answer computes its one status in one query: the same rule.
      const same = await put('production', 'A_DEPLOYED', 'A_DEPLOYED-1');
      assert.deepEqual([same.unchanged, same.secret.status], [true, 'deployed']);
      const cert = await s.secrets.upsert(admin, 'p', 'build', 'CERT', { valueBase64: Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64') });
      assert.deepEqual([cert.unchanged, cert.secret.status, cert.secret.binary], [true, 'deployed', true]);
      const changed = await put('build', 'CERT', 'now text');
      assert.deepEqual([changed.unchanged, changed.secret.status], [false, 'pending']);
    });
  });
}
