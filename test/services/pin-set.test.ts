import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { overridePr, overrideScope } from '../../src/domain/rules.js';
import { currentSecretsForPinning } from '../../src/store/deployments.repository.js';
import { dialects } from '../helpers/server.js';
import { type TestServices, testServices } from '../helpers/services.js';

/**
 * A deployment's pin set is computed by the database (one INSERT … SELECT, issue 18 §3). These
 * tests check it against the rule it replaced, computed here in JavaScript from the live secrets
 * exactly as the service did before: the environment's and the build scope's current versions
 * (build left out when a project withholds build secrets from previews), a preview PR's overrides
 * over the preview defaults by name, never another PR's overrides, never a deleted secret.
 */

type Ts = TestServices;
type Admin = Awaited<ReturnType<Ts['user']>>;

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The pin set as the service computed it before (deployments.service.ts, up to issue 18 §3). */
async function oldPinSet(ts: Ts, projectId: string, environment: string, pr: number | null, withholdBuild: boolean) {
  const scopes = [environment, ...(withholdBuild ? [] : ['build']), ...(pr !== null ? [overrideScope(pr)] : [])];
  const found = await currentSecretsForPinning(ts.db, projectId, scopes);
  const overridden = new Set(found.filter((s) => overridePr(s.scope) !== null).map((s) => s.name));
  const current = found.filter((s) => s.scope !== 'preview' || !overridden.has(s.name)).sort((a, b) => byCodePoint(a.name, b.name));
  return {
    rows: current.map((s) => `${s.id} ${s.scope === 'build' ? 'build' : 'runtime'} v${s.current_version}`).sort(),
    pinned: {
      runtime: current
        .filter((s) => s.scope !== 'build')
        .map((s) => ({ name: s.name, version: s.current_version, ...(overridePr(s.scope) !== null ? { override: true } : {}) })),
      build: current.filter((s) => s.scope === 'build').map((s) => ({ name: s.name, version: s.current_version })),
    },
  };
}

/** The rows the database pinned for a deployment. */
async function pinnedRows(ts: Ts, deploymentId: string): Promise<string[]> {
  const rows = await ts.db.selectFrom('deployment_pins').select(['secret_id', 'kind', 'version']).where('deployment_id', '=', deploymentId).execute();
  return rows.map((r) => `${r.secret_id} ${r.kind} v${r.version}`).sort();
}

async function setup(t: TestContext, dialect: 'sqlite' | 'postgres'): Promise<{ ts: Ts; admin: Admin; projectId: string }> {
  const ts = await testServices(t, { dialect });
  const admin = await ts.user('admin@example.com');
  const put = (scope: 'production' | 'preview' | 'build', name: string, value: string, pr?: number) =>
    ts.services.secrets.upsert(admin, 'shop', scope, name, { value }, pr);
  const del = (scope: 'production' | 'preview' | 'build', name: string, pr?: number) => ts.services.secrets.remove(admin, 'shop', scope, name, pr);
  await ts.services.projects.create(admin, {
    slug: 'shop',
    name: 'Shop',
    secrets: [
      { name: 'API_KEY', scope: 'production', value: 'p-api-1' },
      { name: 'DB_URL', scope: 'production', value: 'p-db-1' },
      { name: 'GONE', scope: 'production', value: 'p-gone' },
      { name: 'PROD_ONLY', scope: 'production', value: 'p-only' },
      { name: 'API_KEY', scope: 'preview', value: 'v-api-1' },
      { name: 'DB_URL', scope: 'preview', value: 'v-db-1' },
      { name: 'FEATURE', scope: 'preview', value: 'v-feature' },
      { name: 'OLD_PREVIEW', scope: 'preview', value: 'v-old' },
      { name: 'NPM_TOKEN', scope: 'build', value: 'b-npm' },
      { name: 'OLD_BUILD', scope: 'build', value: 'b-old' },
      // A build secret named like a runtime one: both are pinned, one of each kind.
      { name: 'API_KEY', scope: 'build', value: 'b-api' },
    ],
  });
  await ts.services.projects.updateMember(admin, 'shop', admin.email, { release: true });
  // Later versions, tombstones and a secret deleted then written again.
  await put('production', 'API_KEY', 'p-api-2');
  await put('production', 'API_KEY', 'p-api-3');
  await del('production', 'GONE');
  await put('preview', 'DB_URL', 'v-db-2');
  await del('preview', 'OLD_PREVIEW');
  await del('build', 'OLD_BUILD');
  await put('build', 'NPM_TOKEN', 'b-npm-2');
  await del('build', 'NPM_TOKEN');
  await put('build', 'NPM_TOKEN', 'b-npm-3');
  // Overrides: PR 7 overrides API_KEY (wins over the preview default) and adds PR_ONLY; its DB_URL
  // override is deleted (the default is pinned again); PR 8's override of FEATURE is not PR 7's.
  await put('preview', 'API_KEY', 'o7-api', 7);
  await put('preview', 'PR_ONLY', 'o7-only', 7);
  await put('preview', 'DB_URL', 'o7-db', 7);
  await del('preview', 'DB_URL', 7);
  await put('preview', 'FEATURE', 'o8-feature', 8);
  await put('preview', 'FEATURE', 'o8-feature-2', 8);
  const projectId = (await ts.db.selectFrom('projects').select('id').where('slug', '=', 'shop').executeTakeFirstOrThrow()).id;
  return { ts, admin, projectId };
}

for (const d of await dialects()) {
  describe(`the pin set computed by the database equals the rule it replaced (${d.name})`, { skip: d.skip }, () => {
    it('production, previews with and without overrides, build secrets, tombstones; and with build secrets withheld from previews', async (t) => {
      const { ts, admin, projectId } = await setup(t, d.name);
      const cases: Array<{ environment: 'production' | 'preview'; pr?: number }> = [
        { environment: 'production' },
        { environment: 'preview', pr: 7 },
        { environment: 'preview', pr: 8 },
        { environment: 'preview', pr: 9 },
      ];
      for (const withhold of [false, true]) {
        if (withhold) await ts.services.projects.update(admin, 'shop', { previewBuildSecrets: false });
        for (const c of cases) {
          const what = `${c.environment}${c.pr ? ` PR ${c.pr}` : ''}${withhold ? ', build withheld' : ''}`;
          const expected = await oldPinSet(ts, projectId, c.environment, c.pr ?? null, withhold && c.environment === 'preview');
          const dep = await ts.services.deployments.start(admin, 'shop', c);
          assert.deepEqual(await pinnedRows(ts, dep.id), expected.rows, what);
          assert.deepEqual({ runtime: dep.pinned.runtime, build: dep.pinned.build }, expected.pinned, what);
          // The deployment shows the same pins afterwards.
          const shown = await ts.services.deployments.get(admin, 'shop', dep.id);
          assert.deepEqual({ runtime: shown.pinned.runtime, build: shown.pinned.build }, expected.pinned, what);
          await ts.services.deployments.complete(admin, dep.id, 'succeeded');
        }
      }
      // Spelled out once, so the rule itself is checked and not only its two implementations against each other.
      const pr7 = await ts.services.deployments.start(admin, 'shop', { environment: 'preview', pr: 7 });
      assert.deepEqual(pr7.pinned.runtime, [
        { name: 'API_KEY', version: 1, override: true },
        { name: 'DB_URL', version: 2 },
        { name: 'FEATURE', version: 1 },
        { name: 'PR_ONLY', version: 1, override: true },
      ]);
      assert.deepEqual(pr7.pinned.build, []);
      assert.deepEqual(pr7.pinned.absent, ['PROD_ONLY']);
      const prod = await ts.services.deployments.start(admin, 'shop', { environment: 'production' });
      assert.deepEqual(prod.pinned.runtime, [
        { name: 'API_KEY', version: 3 },
        { name: 'DB_URL', version: 1 },
        { name: 'PROD_ONLY', version: 1 },
      ]);
      assert.deepEqual(prod.pinned.build, [
        { name: 'API_KEY', version: 1 },
        { name: 'NPM_TOKEN', version: 4 },
      ]);
    });

    it('`removed` names what the previous succeeded deployment pinned and this one does not, by name (an override replacing its default is not removed)', async (t) => {
      const { ts, admin } = await setup(t, d.name);
      const run = async (input: { environment: 'production' | 'preview'; pr?: number }) => {
        // The previous deployment is the last completed: each completes at its own instant.
        ts.clock.advance(1000);
        const dep = await ts.services.deployments.start(admin, 'shop', input);
        await ts.services.deployments.complete(admin, dep.id, 'succeeded');
        return dep.pinned;
      };
      assert.equal((await run({ environment: 'production' })).removed, undefined, 'no previous deployment');
      await ts.services.secrets.remove(admin, 'shop', 'production', 'DB_URL');
      await ts.services.secrets.upsert(admin, 'shop', 'production', 'NEW_ONE', { value: 'n' });
      assert.deepEqual((await run({ environment: 'production' })).removed, ['DB_URL']);
      assert.equal((await run({ environment: 'production' })).removed, undefined);

      assert.equal((await run({ environment: 'preview', pr: 7 })).removed, undefined);
      // The override of API_KEY goes: the preview default takes its place (same name, another secret): not removed.
      // PR_ONLY goes with nothing in its place: removed. FEATURE's default is overridden now: not removed.
      await ts.services.secrets.remove(admin, 'shop', 'preview', 'API_KEY', 7);
      await ts.services.secrets.remove(admin, 'shop', 'preview', 'PR_ONLY', 7);
      await ts.services.secrets.upsert(admin, 'shop', 'preview', 'FEATURE', { value: 'o7-feature' }, 7);
      const next = await run({ environment: 'preview', pr: 7 });
      assert.deepEqual(next.removed, ['PR_ONLY']);
      assert.deepEqual(
        next.runtime.map((p) => `${p.name}${p.override ? ' (override)' : ''}`),
        ['API_KEY', 'DB_URL', 'FEATURE (override)'],
      );
      // PR 8's previous deployment is its own: none yet.
      assert.equal((await run({ environment: 'preview', pr: 8 })).removed, undefined);
    });
  });
}
