/**
 * Why a deployment failed, and cancelling one: `complete` takes a reason (at most 500
 * characters, masked of the deployment's values by keyed digest before it is stored);
 * `deploy fly` sends flyctl's exit code and last masked line; the dashboard and
 * `keyloft deploy show` display it. A member cancels a running deployment from the dashboard
 * or `keyloft deployments cancel`: it completes as failed, its token stops working, and the
 * audit log says who did it.
 *
 * Here what the CLI does (subprocesses, SQLite: the server side is tested in process on both
 * engines in test/http/deployment-reason.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Api, bootstrap, webSession } from '../helpers/client.js';
import { runKeyloft, seedProject } from '../helpers/fixtures.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const VALUE = `db-password-${randomBytes(8).toString('hex')}`;
const BUILD = `npm_${randomBytes(8).toString('hex')}`;

for (const d of (await dialects()).filter((x) => x.name === 'sqlite')) {
  describe(`${d.name}: failure reasons and cancelling deployments`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let key: string;
    let dir: string;
    const slug = 'why';
    const P = `/api/v1/projects/${slug}`;
    const printed: string[] = [];

    const cli = (args: string[], env: Record<string, string> = {}) => runKeyloft({ url: server.url, token: admin.token!, dir }, args, { env, printed });

    const start = async () => {
      const r = await admin.with(key).post(`${P}/deployments`, { environment: 'production', ref: 'abc' });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; token: string };
    };

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      await seedProject(admin, { slug, name: 'Why', flyApp: 'why-app' }, [
        { name: 'DB_PASSWORD', scope: 'production', value: VALUE },
        { name: 'NPM_TOKEN', scope: 'build', value: BUILD },
      ]);
      key = (await admin.post(`${P}/deploy-keys`, { name: 'ci' })).body.token;
      dir = mkdtempSync(join(tmpdir(), 'keyloft-reason-'));
    });
    after(async () => {
      await server?.stop();
      await store?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('deploy fly sends flyctl exit code and last line (masked); deploy show and the dashboard display it', async () => {
      const fake = join(dir, 'flyctl');
      // The fake flyctl prints its arguments (the --build-secret value among them) and fails on deploy.
      writeFileSync(
        fake,
        `#!/bin/sh\nif [ "$1" = deploy ]; then echo "building..."; echo "Error: build failed: $*" >&2; exit 3; fi\ncat >/dev/null\nexit 0\n`,
        { mode: 0o755 },
      );
      const run = await cli(['deploy', 'fly', '--project', slug, '--env', 'production', '--ref', 'abc'], { KEYLOFT_FLYCTL: fake, KEYLOFT_TOKEN: key });
      assert.equal(run.code, 3, run.err);
      const list = await admin.get(`${P}/deployments?limit=1`);
      const dep = list.body.deployments[0];
      assert.equal(dep.status, 'failed');
      assert.match(dep.reason, /^flyctl deploy exited with code 3: Error: build failed: deploy --app why-app --build-secret NPM_TOKEN=\*\*\*/);
      const show = await cli(['deploy', 'show', dep.id, '--project', slug]);
      assert.equal(show.code, 0, show.err);
      assert.match(show.out, /reason +flyctl deploy exited with code 3/);
      const listed = await cli(['deployments', 'list', '--project', slug, '--limit', '1']);
      assert.equal(listed.code, 0, listed.err);
      assert.match(listed.out, /flyctl deploy exited with code 3/);
      const page = await webGet(`/projects/${slug}/deployments/${dep.id}`);
      assert.match(page, /Failed:/);
      assert.match(page, /flyctl deploy exited with code 3/);
    });

    test('keyloft deployments cancel ends it as failed, revokes its token and is audited; twice is a conflict', async () => {
      const dep = await start();
      const r = await cli(['deployments', 'cancel', dep.id, '--project', slug]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Cancelled deployment/);
      const shown = (await admin.get(`${P}/deployments/${dep.id}`)).body.deployment;
      assert.equal(shown.status, 'failed');
      assert.match(shown.reason, /^cancelled by admin@example\.com/);
      assert.equal((await admin.with(dep.token).get(`/api/v1/deployments/${dep.id}/secrets`)).status, 401, 'the deploy token no longer works');
      const audit = (await admin.get(`${P}/audit`)).body.events as Array<{ action: string; detail?: { deployment?: string } }>;
      assert.ok(audit.some((e) => e.action === 'deployment.cancelled' && e.detail?.deployment === dep.id));
      const again = await admin.post(`${P}/deployments/${dep.id}/cancel`);
      assert.equal(again.status, 409, again.text);
      const cli2 = await cli(['deployments', 'cancel', dep.id, '--project', slug]);
      assert.notEqual(cli2.code, 0);
    });

    test('no value in anything the CLI printed', () => {
      for (const p of printed) assert.ok(!p.includes(VALUE) && !p.includes(BUILD));
    });

    const session = () => webSession(server);
    async function webGet(path: string): Promise<string> {
      const s = await session();
      const text = await (await fetch(`${server.url}${path}`, { headers: { cookie: s.cookie } })).text();
      assert.ok(!text.includes(VALUE) && !text.includes(BUILD));
      return text;
    }
  });
}
