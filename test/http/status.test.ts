import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Api, bootstrap, createUser, grantRelease } from '../helpers/client.js';
import { expireDeployment, type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

interface Meta {
  name: string;
  scope: string;
  version: number;
  deleted: boolean;
  status: 'deployed' | 'pending' | 'pending_removal';
  applied?: { count: number; of: number };
}

for (const d of await dialects()) {
  describe(`${d.name}: pinning and deployed/pending status`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    let viewer: Api;
    let n = 0;

    /** A fresh project per test, so statuses do not leak between tests. */
    const project = async (secrets: Array<{ name: string; scope: string; value: string }>): Promise<string> => {
      const slug = `st-${++n}`;
      const r = await admin.post('/api/v1/projects', { slug, name: slug, secrets });
      assert.equal(r.status, 201, r.text);
      await grantRelease(admin, slug);
      assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'viewer@example.com', role: 'viewer' })).status, 201);
      return slug;
    };
    const list = async (slug: string): Promise<Meta[]> => {
      const r = await viewer.get(`/api/v1/projects/${slug}/secrets`);
      assert.equal(r.status, 200, r.text);
      return r.body.secrets as Meta[];
    };
    const meta = async (slug: string, scope: string, name: string): Promise<Meta | undefined> =>
      (await list(slug)).find((m) => m.scope === scope && m.name === name);
    const status = async (slug: string, scope: string, name: string) => (await meta(slug, scope, name))?.status;
    /** name@scope → status (and applied, for preview), for comparing whole lists. */
    const snapshot = async (slug: string) =>
      Object.fromEntries((await list(slug)).map((m) => [`${m.scope}/${m.name}`, m.applied ? `${m.status} ${m.applied.count}/${m.applied.of}` : m.status]));
    const put = async (slug: string, scope: string, name: string, value: string) => {
      const r = await admin.put(`/api/v1/projects/${slug}/secrets/${scope}/${name}`, { value });
      assert.ok(r.status === 200 || r.status === 201, r.text);
      return r.body.secret as Meta;
    };
    const del = async (slug: string, scope: string, name: string) => {
      const r = await admin.delete(`/api/v1/projects/${slug}/secrets/${scope}/${name}`);
      assert.equal(r.status, 200, r.text);
      return r.body.secret as Meta | null;
    };
    const start = async (slug: string, environment: 'production' | 'preview', pr?: number) => {
      const r = await admin.post(`/api/v1/projects/${slug}/deployments`, pr === undefined ? { environment } : { environment, pr });
      assert.equal(r.status, 201, r.text);
      return r.body as {
        id: string;
        token: string;
        expiresAt: string;
        pinned: { runtime: Array<{ name: string; version: number }>; build: Array<{ name: string; version: number }> };
      };
    };
    const release = async (dep: { id: string; token: string }) => {
      const r = await admin.with(dep.token).get(`/api/v1/deployments/${dep.id}/secrets`);
      assert.equal(r.status, 200, r.text);
      return r.body as { runtime: Record<string, string>; build: Record<string, string> };
    };
    const complete = async (dep: { id: string; token: string }, s: 'succeeded' | 'failed') => {
      const r = await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, { status: s });
      assert.equal(r.status, 200, r.text);
    };
    const deploy = async (slug: string, environment: 'production' | 'preview', pr?: number, outcome: 'succeeded' | 'failed' = 'succeeded') => {
      const dep = await start(slug, environment, pr);
      await complete(dep, outcome);
      return dep;
    };

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      viewer = await createUser(server, admin, 'viewer@example.com');
    });
    after(async () => {
      await server?.stop();
    });

    test('a secret is pending until a deployment of its environment succeeds', async () => {
      const slug = await project([
        { name: 'A', scope: 'production', value: 'a1' },
        { name: 'P', scope: 'preview', value: 'p1' },
        { name: 'B', scope: 'build', value: 'b1' },
      ]);
      assert.deepEqual(await snapshot(slug), { 'build/B': 'pending', 'preview/P': 'pending 0/0', 'production/A': 'pending' });
      const dep = await start(slug, 'production');
      assert.equal(await status(slug, 'production', 'A'), 'pending', 'a running deployment applies nothing yet');
      await complete(dep, 'succeeded');
      assert.deepEqual(await snapshot(slug), { 'build/B': 'deployed', 'preview/P': 'pending 0/0', 'production/A': 'deployed' });
      // A new secret after the deployment is pending.
      assert.equal((await put(slug, 'production', 'NEW', 'n1')).status, 'pending');
      assert.equal(await status(slug, 'production', 'A'), 'deployed');
    });

    test('pinning: a value changed after the start is not seen by that deployment, and stays pending until the next one succeeds', async () => {
      const slug = await project([
        { name: 'A', scope: 'production', value: 'a1' },
        { name: 'B', scope: 'build', value: 'b1' },
      ]);
      await deploy(slug, 'production');
      const d1 = await start(slug, 'production');
      const changed = await put(slug, 'production', 'A', 'a2');
      assert.equal(changed.version, 2);
      assert.equal(changed.status, 'pending');
      await put(slug, 'build', 'B', 'b2');
      await put(slug, 'production', 'ADDED', 'x');
      // The running deployment still gets what it pinned: the old values, and no secret added later.
      const r1 = await release(d1);
      assert.deepEqual(r1, { runtime: { A: 'a1' }, build: { B: Buffer.from('b1').toString('base64') } });
      assert.deepEqual(d1.pinned, { runtime: [{ name: 'A', version: 1 }], build: [{ name: 'B', version: 1 }] });
      await complete(d1, 'succeeded');
      // It succeeded with the old version: the new one is still pending.
      assert.equal(await status(slug, 'production', 'A'), 'pending');
      assert.equal(await status(slug, 'build', 'B'), 'pending');
      assert.equal(await status(slug, 'production', 'ADDED'), 'pending');
      const d2 = await start(slug, 'production');
      assert.deepEqual(await release(d2), { runtime: { A: 'a2', ADDED: 'x' }, build: { B: Buffer.from('b2').toString('base64') } });
      assert.equal(await status(slug, 'production', 'A'), 'pending', 'still pending while the next deployment runs');
      await complete(d2, 'succeeded');
      assert.deepEqual(await snapshot(slug), { 'build/B': 'deployed', 'production/A': 'deployed', 'production/ADDED': 'deployed' });
    });

    test('a failed or expired deployment changes no status', async () => {
      const slug = await project([
        { name: 'A', scope: 'production', value: 'a1' },
        { name: 'C', scope: 'production', value: 'c1' },
        { name: 'B', scope: 'build', value: 'b1' },
        { name: 'P', scope: 'preview', value: 'p1' },
      ]);
      await deploy(slug, 'production');
      await deploy(slug, 'preview', 4);
      await put(slug, 'production', 'A', 'a2');
      await put(slug, 'build', 'B', 'b2');
      await put(slug, 'preview', 'P', 'p2');
      await del(slug, 'production', 'C');
      const before = await snapshot(slug);
      assert.deepEqual(before, { 'build/B': 'pending', 'preview/P': 'pending 0/1', 'production/A': 'pending', 'production/C': 'pending_removal' });
      await deploy(slug, 'production', undefined, 'failed');
      await deploy(slug, 'preview', 4, 'failed');
      assert.deepEqual(await snapshot(slug), before, 'failed deployments changed a status');
      const exp = await start(slug, 'production');
      expireDeployment(server, exp.expiresAt);
      const shown = await admin.get(`/api/v1/projects/${slug}/deployments/${exp.id}`);
      assert.equal(shown.body.deployment.status, 'expired');
      assert.deepEqual(await snapshot(slug), before, 'an expired deployment changed a status');
      // A failure after a success does not undo "deployed" either.
      await deploy(slug, 'production');
      const good = await snapshot(slug);
      assert.equal(good['production/A'], 'deployed');
      await deploy(slug, 'production', undefined, 'failed');
      assert.deepEqual(await snapshot(slug), good);
    });

    test('a deleted secret is pending_removal until the next succeeded deployment, then gone from the list', async () => {
      const slug = await project([
        { name: 'KEEP', scope: 'production', value: 'k' },
        { name: 'GONE', scope: 'production', value: 'g1' },
        { name: 'OLD_BUILD', scope: 'build', value: 'ob' },
      ]);
      await deploy(slug, 'production');
      // Never deployed, then deleted: nothing to remove, so gone at once.
      await put(slug, 'production', 'NEVER', 'n');
      assert.equal(await del(slug, 'production', 'NEVER'), null);
      assert.equal(await meta(slug, 'production', 'NEVER'), undefined);

      const running = await start(slug, 'production'); // pins GONE
      const deleted = await del(slug, 'production', 'GONE');
      assert.equal(deleted?.status, 'pending_removal');
      assert.equal(deleted?.deleted, true);
      await del(slug, 'build', 'OLD_BUILD');
      const m = await meta(slug, 'production', 'GONE');
      assert.equal(m?.status, 'pending_removal');
      assert.equal(m?.deleted, true);
      assert.equal(await status(slug, 'build', 'OLD_BUILD'), 'pending_removal');
      // The deployment that pinned it before the delete still receives it.
      assert.deepEqual(await release(running), { runtime: { GONE: 'g1', KEEP: 'k' }, build: { OLD_BUILD: Buffer.from('ob').toString('base64') } });
      // It succeeded with the secret: still pending removal.
      await complete(running, 'succeeded');
      assert.equal(await status(slug, 'production', 'GONE'), 'pending_removal');
      // A failed deployment does not apply the deletion.
      await deploy(slug, 'production', undefined, 'failed');
      assert.equal(await status(slug, 'production', 'GONE'), 'pending_removal');
      // The next deployment does not pin it; once it succeeds, the secret is gone from the list.
      const next = await start(slug, 'production');
      // …and names it as removed since the last succeeded deployment, so the pipeline unsets it on the platform.
      assert.deepEqual(next.pinned, { runtime: [{ name: 'KEEP', version: 1 }], build: [], removed: ['GONE'] });
      assert.deepEqual(await release(next), { runtime: { KEEP: 'k' }, build: {} });
      assert.equal(await status(slug, 'production', 'GONE'), 'pending_removal');
      await complete(next, 'succeeded');
      assert.deepEqual(await snapshot(slug), { 'production/KEEP': 'deployed' });
      // Its history is still there, ending in the tombstone.
      const h = await viewer.get(`/api/v1/projects/${slug}/secrets/production/GONE/versions`);
      assert.equal(h.status, 200, h.text);
      assert.equal(h.body.versions.length, 2);
      // Setting it again brings it back as a new, pending version.
      const back = await put(slug, 'production', 'GONE', 'g2');
      assert.equal(back.status, 'pending');
      assert.equal(back.version, 3);
      assert.equal(back.deleted, false);
    });

    test('preview status is reckoned per open pull request; DELETE /previews/{pr} closes one', async () => {
      const slug = await project([
        { name: 'P', scope: 'preview', value: 'p1' },
        { name: 'Q', scope: 'preview', value: 'q1' },
        { name: 'A', scope: 'production', value: 'a1' },
      ]);
      await deploy(slug, 'preview', 1);
      await deploy(slug, 'preview', 2);
      await deploy(slug, 'preview', 3);
      assert.deepEqual(await snapshot(slug), { 'preview/P': 'deployed 3/3', 'preview/Q': 'deployed 3/3', 'production/A': 'pending' });
      await put(slug, 'preview', 'P', 'p2');
      assert.deepEqual((await meta(slug, 'preview', 'P'))?.applied, { count: 0, of: 3 });
      assert.equal(await status(slug, 'preview', 'P'), 'pending');
      assert.equal(await status(slug, 'preview', 'Q'), 'deployed');
      await deploy(slug, 'preview', 1);
      assert.equal((await snapshot(slug))['preview/P'], 'pending 1/3');
      await deploy(slug, 'preview', 2, 'failed');
      assert.equal((await snapshot(slug))['preview/P'], 'pending 1/3', 'a failed preview deployment applies nothing');
      // A new PR's preview app counts once it has been deployed to (a running one counts as not applied).
      const pr4 = await start(slug, 'preview', 4);
      assert.equal((await snapshot(slug))['preview/P'], 'pending 1/4');
      await complete(pr4, 'succeeded');
      assert.equal((await snapshot(slug))['preview/P'], 'pending 2/4');

      // Closing PR 2 (the one that failed) takes it out of the reckoning.
      const closed = await admin.delete(`/api/v1/projects/${slug}/previews/2`);
      assert.equal(closed.status, 204, closed.text);
      assert.equal((await snapshot(slug))['preview/P'], 'pending 2/3');
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/2`)).status, 404, 'already closed');
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/99`)).status, 404, 'never opened');
      const bad = await admin.delete(`/api/v1/projects/${slug}/previews/abc`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'pr');
      assert.equal((await viewer.delete(`/api/v1/projects/${slug}/previews/3`)).status, 403, 'a viewer cannot close a preview');
      await deploy(slug, 'preview', 3);
      assert.deepEqual(await snapshot(slug), { 'preview/P': 'deployed 3/3', 'preview/Q': 'deployed 3/3', 'production/A': 'pending' });

      // Deleting a preview secret: pending removal on each open PR until each has a succeeded deployment without it.
      await del(slug, 'preview', 'Q');
      assert.equal((await snapshot(slug))['preview/Q'], 'pending_removal 0/3');
      await deploy(slug, 'preview', 1);
      assert.equal((await snapshot(slug))['preview/Q'], 'pending_removal 1/3');
      // Closing the others leaves only PR 1, which no longer has it: gone from the list.
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/3`)).status, 204);
      assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/4`)).status, 204);
      assert.deepEqual(await snapshot(slug), { 'preview/P': 'deployed 1/1', 'production/A': 'pending' });
      // Deploying to a closed PR reopens its preview app.
      await deploy(slug, 'preview', 4);
      assert.equal((await snapshot(slug))['preview/P'], 'deployed 2/2');
      // Closing every preview app: nothing to apply to.
      for (const pr of [1, 4]) assert.equal((await admin.delete(`/api/v1/projects/${slug}/previews/${pr}`)).status, 204);
      assert.deepEqual((await meta(slug, 'preview', 'P'))?.applied, { count: 0, of: 0 });
      // Closing is audited.
      const audit = await viewer.get(`/api/v1/projects/${slug}/audit?action=preview.closed`);
      assert.equal(audit.status, 200, audit.text);
      assert.deepEqual(
        (audit.body.events as Array<{ detail: { pr: number } }>).map((e) => e.detail.pr),
        [4, 1, 4, 3, 2],
      );
    });

    test('build secrets are reckoned against the last succeeded deployment of either environment', async () => {
      const slug = await project([
        { name: 'B', scope: 'build', value: 'b1' },
        { name: 'A', scope: 'production', value: 'a1' },
        { name: 'P', scope: 'preview', value: 'p1' },
      ]);
      await deploy(slug, 'preview', 1);
      assert.equal(await status(slug, 'build', 'B'), 'deployed', 'a preview deployment applies build secrets');
      assert.equal(await status(slug, 'production', 'A'), 'pending', '… but not production ones');
      await put(slug, 'build', 'B', 'b2');
      assert.equal(await status(slug, 'build', 'B'), 'pending');
      await deploy(slug, 'production');
      assert.equal(await status(slug, 'build', 'B'), 'deployed', 'a production deployment applies build secrets');
      assert.equal((await snapshot(slug))['preview/P'], 'deployed 1/1', 'a production deployment changes no preview status');
      await put(slug, 'build', 'B', 'b3');
      await deploy(slug, 'preview', 2, 'failed');
      assert.equal(await status(slug, 'build', 'B'), 'pending', 'a failed deployment applies nothing');
      // The latest succeeded deployment counts, whichever environment: an older pin makes it pending again.
      const slow = await start(slug, 'production'); // pins b3
      await put(slug, 'build', 'B', 'b4');
      await deploy(slug, 'preview', 1); // pins b4, succeeds first
      assert.equal(await status(slug, 'build', 'B'), 'deployed');
      await complete(slow, 'succeeded'); // finishes last with b3
      assert.equal(await status(slug, 'build', 'B'), 'pending');
    });
  });
}
