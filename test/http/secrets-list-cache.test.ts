import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

/**
 * The production and build lists are kept and served again while the scope is unchanged
 * (secrets.service listScopeBody, ScopeListCache): after every kind of change, each answer, read
 * twice, must be exactly the one built afresh (JSON.stringify of `list`, which is not cached).
 */
for (const d of await dialects()) {
  describe(`secret list cache (${d.name})`, { skip: d.skip }, () => {
    it('answers what the scope holds now after every kind of change, and checks authorization every time', async (t) => {
      const a = await testApp(t, { dialect: d.name });
      const { actor: admin, token } = await a.userWithToken('admin@example.com', { admin: true });
      const s = a.services;
      const answers = new Set<string>();
      const check = async (step: string, slug = 'p') => {
        for (const scope of ['production', 'build'] as const) {
          const fresh = JSON.stringify({ secrets: await s.secrets.list(admin, slug, scope) });
          for (let i = 0; i < 2; i++) {
            const res = await a.request('GET', `/api/v1/projects/${slug}/secrets?scope=${scope}`, { token });
            assert.equal(res.status, 200, `${step}: ${res.text}`);
            assert.equal(res.text, fresh, `${step}, ${scope}, read ${i + 1}`);
          }
          answers.add(`${scope} ${fresh}`);
        }
      };
      const put = (scope: 'production' | 'build', name: string, value: string) => s.secrets.upsert(admin, 'p', scope, name, { value });
      const deploy = async (status: 'succeeded' | 'failed') => {
        const dep = await s.deployments.start(admin, 'p', { environment: 'production' });
        await s.deployments.complete(admin, dep.id, status);
      };

      await s.projects.create(admin, { slug: 'p', name: 'P' });
      await s.projects.updateMember(admin, 'p', 'admin@example.com', { release: true });
      await check('empty');
      for (const n of ['A', 'B', 'C', 'D']) await put('production', n, `${n}-1`);
      await put('build', 'NPM_TOKEN', 'npm-1');
      await check('created');
      await put('production', 'B', 'B-1');
      await check('the same value again (nothing written)');
      await put('production', 'B', 'B-2');
      await check('overwritten');
      await deploy('succeeded');
      await check('deployed');
      await s.secrets.remove(admin, 'p', 'production', 'C');
      await check('deleted after the deployment: pending removal');
      await deploy('failed');
      await check('a failed deployment changes no status');
      await deploy('succeeded');
      await check('deployed again: the tombstone is gone from the list');
      await s.secrets.remove(admin, 'p', 'production', 'D');
      await check('another deleted');
      await s.secrets.importSecrets(admin, 'p', 'production', { map: { A: 'A-2', E: 'E-1' } }, false, true);
      await check('imported with replace');
      if (s.reseal) {
        await s.reseal.restore(admin, 'p', 'production', 'A', 1);
        await check('restored');
      }
      await put('build', 'NPM_TOKEN', 'npm-2');
      await check('build overwritten');
      await s.secrets.upsert(admin, 'p', 'build', 'CERT', { valueBase64: Buffer.from([0xff, 0xfe]).toString('base64') });
      await check('a binary build secret');
      await s.projects.remove(admin, 'p', 'p');
      await s.projects.create(admin, { slug: 'p', name: 'P again' });
      await s.projects.updateMember(admin, 'p', 'admin@example.com', { release: true });
      await check('the project deleted and created again');
      for (const n of ['A', 'B']) await put('production', n, `${n}-1`);
      await check('the same names in the new project');
      assert.ok(answers.size >= 14, `the steps changed the answers (${answers.size} distinct)`);

      // Authorization is checked on every request, before any kept answer.
      const { token: viewerToken } = await a.userWithToken('viewer@example.com');
      await s.projects.setMember(admin, 'p', 'viewer@example.com', 'viewer');
      const seen = await a.request('GET', '/api/v1/projects/p/secrets?scope=production', { token: viewerToken });
      assert.equal(seen.status, 200, seen.text);
      await s.projects.removeMember(admin, 'p', 'viewer@example.com');
      const gone = await a.request('GET', '/api/v1/projects/p/secrets?scope=production', { token: viewerToken });
      assert.equal(gone.status, 404, gone.text);
    });
  });
}
