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

    it('patches the kept answer after a few changes, and answers exactly what a fresh build does after each of 200 random operations', async (t) => {
      const a = await testApp(t, { dialect: d.name });
      const { actor: admin, token } = await a.userWithToken('admin@example.com', { admin: true });
      const s = a.services;
      // mulberry32: the same operations on every run.
      let seed = 0x5eed1234;
      const rand = () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
        return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
      };
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      // Names that sort at the start, middle and end, differ only in case, or in '_' against digits and letters.
      const names = [
        'A',
        'a',
        'AA',
        'Aa',
        'aA',
        'A_',
        'A0',
        'A_0',
        'A0_',
        '_A',
        '_a',
        '__',
        '_0',
        'A9',
        'AZ',
        'Az',
        'a_b',
        'aB',
        'Ab',
        'AB',
        'M',
        'm',
        'M_1',
        'M1',
        'm_1',
        'm1',
        'MM',
        'Mm',
        'Z',
        'z',
        'Z_',
        'Z9',
        'ZZ',
        'zz',
        'z_z',
        'Zz',
        'zZ',
        'Y_Y',
        'y1',
        'Y1',
      ];
      const scopes = ['production', 'build'] as const;
      const live = new Map<string, Set<string>>(scopes.map((sc) => [sc, new Set<string>()]));
      let value = 0;
      const check = async (step: string) => {
        for (const scope of scopes) {
          const fresh = JSON.stringify({ secrets: await s.secrets.list(admin, 'p', scope) });
          for (let i = 0; i < 2; i++) {
            const res = await a.request('GET', `/api/v1/projects/p/secrets?scope=${scope}`, { token });
            assert.equal(res.status, 200, `${step}: ${res.text}`);
            assert.equal(res.text, fresh, `${step}, ${scope}, read ${i + 1}`);
          }
        }
      };
      await s.projects.create(admin, { slug: 'p', name: 'P' });
      await s.projects.updateMember(admin, 'p', 'admin@example.com', { release: true });
      for (const scope of scopes) {
        for (const n of names.slice(0, scope === 'production' ? 30 : 12)) {
          await s.secrets.upsert(admin, 'p', scope, n, { value: `v${value++}` });
          live.get(scope)!.add(n);
        }
      }
      await check('seeded');
      const before = s.secrets.listCacheCounts();
      for (let step = 0; step < 200; step++) {
        const scope = rand() < 0.7 ? 'production' : 'build';
        const have = [...live.get(scope)!];
        const r = rand();
        let what: string;
        if (r < 0.25 || have.length === 0) {
          const n = pick(names);
          what = `set ${scope} ${n}`;
          await s.secrets.upsert(admin, 'p', scope, n, { value: `v${value++}` });
          live.get(scope)!.add(n);
        } else if (r < 0.35) {
          const n = pick(have);
          what = `set ${scope} ${n} to its value again`;
          const cur = await s.secrets.upsert(admin, 'p', scope, n, { value: `again-${n}` });
          await s.secrets.upsert(admin, 'p', scope, n, { value: `again-${n}` });
          assert.ok(cur);
        } else if (r < 0.5) {
          const n = pick(have);
          what = `delete ${scope} ${n}`;
          await s.secrets.remove(admin, 'p', scope, n);
          live.get(scope)!.delete(n);
        } else if (r < 0.6) {
          const gone = pick(have);
          const n = pick(names.filter((x) => !live.get(scope)!.has(x)).concat(gone));
          what = `rename-like ${scope} ${gone} -> ${n}`;
          await s.secrets.remove(admin, 'p', scope, gone);
          live.get(scope)!.delete(gone);
          await s.secrets.upsert(admin, 'p', scope, n, { value: `v${value++}` });
          live.get(scope)!.add(n);
        } else if (r < 0.7 && s.reseal) {
          const n = pick(have);
          what = `restore ${scope} ${n} v1`;
          await s.reseal.restore(admin, 'p', scope, n, 1);
        } else if (r < 0.78) {
          const status = rand() < 0.7 ? 'succeeded' : 'failed';
          const preview = rand() < 0.3;
          what = `deploy ${preview ? 'preview' : 'production'} ${status}`;
          const dep = await s.deployments.start(admin, 'p', preview ? { environment: 'preview', pr: 7 } : { environment: 'production' });
          await s.deployments.complete(admin, dep.id, status);
        } else {
          // A few changes at once, then one list.
          const k = 1 + Math.floor(rand() * 5);
          what = `${k} sets in ${scope}`;
          for (let j = 0; j < k; j++) {
            const n = pick(names);
            await s.secrets.upsert(admin, 'p', scope, n, { value: `v${value++}` });
            live.get(scope)!.add(n);
          }
        }
        await check(`step ${step}: ${what}`);
      }
      const after = s.secrets.listCacheCounts();
      const patched = after.patched - before.patched;
      t.diagnostic(`answers: ${after.same - before.same} kept, ${patched} patched, ${after.full - before.full} built whole`);
      assert.ok(patched >= 100, `most lists after a change were patched (${patched})`);
      assert.ok(after.full - before.full >= 5, 'deployments and large changes build whole');
    });
  });
}
