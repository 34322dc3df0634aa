/**
 * Why a deployment failed, and cancelling one: `complete` takes a reason (at most 500
 * characters, masked of the deployment's values by keyed digest before it is stored);
 * `deploy fly` sends flyctl's exit code and last masked line; the dashboard and
 * `keyloft deploy show` display it. A member cancels a running deployment from the dashboard
 * or `keyloft deployments cancel`: it completes as failed, its token stops working, and the
 * audit log says who did it.
 *
 * In process: the API and the dashboard. `deploy fly`, `deploy show` and `deployments cancel`
 * (CLI subprocesses): integration/deployment-reason.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type Api, bootstrap, createUser, webSession } from '../helpers/client.js';
import { seedProject } from '../helpers/fixtures.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const VALUE = `db-password-${randomBytes(8).toString('hex')}`;
const BUILD = `npm_${randomBytes(8).toString('hex')}`;

for (const d of await dialects()) {
  describe(`${d.name}: failure reasons and cancelling deployments`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    let viewer: Api;
    let outsider: Api;
    let key: string;
    const slug = 'why';
    const P = `/api/v1/projects/${slug}`;

    const start = async () => {
      const r = await admin.with(key).post(`${P}/deployments`, { environment: 'production', ref: 'abc' });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; token: string };
    };

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Why', flyApp: 'why-app' }, [
        { name: 'DB_PASSWORD', scope: 'production', value: VALUE },
        { name: 'NPM_TOKEN', scope: 'build', value: BUILD },
      ]);
      key = (await admin.post(`${P}/deploy-keys`, { name: 'ci' })).body.token;
      viewer = await createUser(server, admin, 'viewer@example.com');
      outsider = await createUser(server, admin, 'outsider@example.com');
      await admin.post(`${P}/members`, { email: 'viewer@example.com', role: 'viewer' });
    });
    after(async () => {
      await server?.stop();
    });

    test('a failed completion keeps its reason, with every pinned value masked before it is stored', async () => {
      const dep = await start();
      const r = await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, {
        status: 'failed',
        reason: `migration failed: password ${VALUE} rejected\nbuild token ${BUILD}`,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.deployment.reason, 'migration failed: password *** rejected build token ***');
      const shown = await admin.get(`${P}/deployments/${dep.id}`);
      assert.equal(shown.body.deployment.reason, 'migration failed: password *** rejected build token ***');
      for (const text of [r.text, shown.text, (await admin.get(`${P}/audit`)).text]) {
        assert.ok(!text.includes(VALUE) && !text.includes(BUILD), 'no value in any answer');
      }
    });

    test('a reason over 500 characters, or with succeeded, is refused naming the field; nothing is completed', async () => {
      const dep = await start();
      const long = await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, { status: 'failed', reason: 'x'.repeat(501) });
      assert.equal(long.status, 400, long.text);
      assert.equal(long.body.error.field, 'reason');
      const ok = await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, { status: 'succeeded', reason: 'fine' });
      assert.equal(ok.status, 400, ok.text);
      assert.equal(ok.body.error.field, 'reason');
      assert.equal((await admin.get(`${P}/deployments/${dep.id}`)).body.deployment.status, 'running');
      assert.equal((await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, { status: 'succeeded' })).status, 200);
    });

    test('a viewer cannot cancel (403), an outsider sees nothing (404)', async () => {
      const dep = await start();
      assert.equal((await viewer.post(`${P}/deployments/${dep.id}/cancel`)).status, 403);
      assert.equal((await outsider.post(`${P}/deployments/${dep.id}/cancel`)).status, 404);
      assert.equal((await admin.get(`${P}/deployments/${dep.id}`)).body.deployment.status, 'running');
      assert.equal((await admin.with(dep.token).get(`/api/v1/deployments/${dep.id}/secrets`)).status, 200);
      await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, { status: 'succeeded' });
    });

    test('the dashboard cancels a running deployment from its page', async () => {
      const dep = await start();
      const page = await webGet(`/projects/${slug}/deployments/${dep.id}`);
      assert.match(page, /Cancel deployment/);
      const s = await session();
      const post = await server.fetch(`${server.url}/projects/${slug}/deployments/${dep.id}/cancel`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: s.cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: s.csrf }).toString(),
      });
      assert.equal(post.status, 303);
      assert.equal((await admin.get(`${P}/deployments/${dep.id}`)).body.deployment.status, 'failed');
      assert.equal((await admin.with(dep.token).get(`/api/v1/deployments/${dep.id}/secrets`)).status, 401);
      const after = await webGet(`/projects/${slug}/deployments/${dep.id}`);
      assert.doesNotMatch(after, /Cancel deployment/);
      assert.match(after, /cancelled by admin@example\.com/);
    });

    const session = () => webSession(server);
    async function webGet(path: string): Promise<string> {
      const s = await session();
      const text = await (await server.fetch(`${server.url}${path}`, { headers: { cookie: s.cookie } })).text();
      assert.ok(!text.includes(VALUE) && !text.includes(BUILD));
      return text;
    }
  });
}
