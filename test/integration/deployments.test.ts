import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Api, type ApiResponse, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const v = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

// What only separate processes show (the api role naming the release instance); the rest of the
// deployment and release path is tested in process (test/http/deployments.test.ts).
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const allForms = (vals: readonly string[]) => vals.flatMap((x) => [x, b64(x)]);

/** A refusal: 401, 403 or 404, with an error body and none of the values (nor their base64). */
function assertRefused(res: ApiResponse, what: string, values: readonly string[]): void {
  assert.ok([401, 403, 404].includes(res.status), `${what}: expected 401/403/404, got ${res.status} ${res.text}`);
  assert.ok(res.body?.error?.code, `${what}: expected an error body, got ${res.text}`);
  assert.equal(res.body.runtime, undefined, what);
  assert.equal(res.body.build, undefined, what);
  for (const x of allForms(values)) assert.ok(!res.text.includes(x), `${what}: the refusal contains a value`);
}

for (const d of await dialects()) {
  describe(`${d.name}: deployments with the api and release roles on separate processes`, { skip: d.skip }, () => {
    let store: TestStore;
    const servers: TestServer[] = [];
    let admin: Api;
    let apiRole: TestServer;
    let releaseRole: TestServer;
    const PROD = v('split-prod');
    const BUILD = v('split-build');

    before(async () => {
      store = await createStore(d.name);
      const all = await startServer(store);
      servers.push(all);
      admin = await bootstrap(all);
      const r = await admin.post('/api/v1/projects', {
        slug: 'split',
        name: 'Split',
        secrets: [
          { name: 'DB_URL', scope: 'production', value: PROD },
          { name: 'NPM_TOKEN', scope: 'build', value: BUILD },
        ],
      });
      assert.equal(r.status, 201, r.text);
      await grantRelease(admin, 'split');
      releaseRole = await startServer(store, { role: 'release' });
      servers.push(releaseRole);
      // The api role holds no key (on PostgreSQL the helper would otherwise name the key file).
      apiRole = await startServer(store, {
        role: 'api',
        env: {
          KEYLOFT_DEPLOY_TOKEN_TTL_MINUTES: '5',
          KEYLOFT_RELEASE_URL: releaseRole.url,
          ...(d.name === 'postgres' ? { KEYLOFT_MASTER_KEY_FILE: undefined } : {}),
        },
      });
      servers.push(apiRole);
    });
    after(async () => {
      for (const s of servers) await s.stop();
      await store?.cleanup();
    });

    test('the api role starts (with the configured lifetime), only the release role releases, either completes', async () => {
      const api = new Api(apiRole.url, admin.token);
      const s = await api.post('/api/v1/projects/split/deployments', { environment: 'production' });
      assert.equal(s.status, 201, s.text);
      const ttl = Date.parse(s.body.expiresAt) - Date.now();
      assert.ok(ttl > 4 * 60_000 && ttl <= 5 * 60_000 + 5_000, `KEYLOFT_DEPLOY_TOKEN_TTL_MINUTES=5 gives ${ttl} ms`);
      const token = s.body.token as string;
      const id = s.body.id as string;

      // The api role cannot open values: it names the release instance instead.
      const wrong = await api.with(token).get(`/api/v1/deployments/${id}/secrets`);
      assert.equal(wrong.status, 421, wrong.text);
      assert.equal(wrong.body.error.code, 'wrong_role');
      assert.ok(wrong.text.includes(releaseRole.url), wrong.text);
      for (const x of allForms([PROD, BUILD])) assert.ok(!wrong.text.includes(x));

      // The release role serves only the deploy token's routes.
      const rel = new Api(releaseRole.url);
      const got = await rel.with(token).get(`/api/v1/deployments/${id}/secrets`);
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(got.body, { runtime: { DB_URL: PROD }, build: { NPM_TOKEN: b64(BUILD) } });
      for (const [method, path] of [
        ['POST', '/api/v1/projects/split/deployments'],
        ['GET', '/api/v1/projects/split/secrets'],
        ['GET', '/api/v1/projects'],
      ] as const) {
        const r = await rel.with(admin.token).call(method, path, method === 'POST' ? { environment: 'production' } : undefined);
        assert.equal(r.status, 404, `${method} ${path} on the release role: ${r.text}`);
      }
      // A person's token reads no values on the release role either.
      assertRefused(await rel.with(admin.token).get(`/api/v1/deployments/${id}/secrets`), 'a personal token on the release role', [PROD, BUILD]);

      // Completed on the api role; the release role then refuses the token.
      const c = await api.with(token).post(`/api/v1/deployments/${id}/complete`, { status: 'succeeded' });
      assert.equal(c.status, 200, c.text);
      assertRefused(await rel.with(token).get(`/api/v1/deployments/${id}/secrets`), 'release after completion on another process', [PROD, BUILD]);
      const list = await api.get('/api/v1/projects/split/secrets');
      assert.deepEqual(list.body.secrets.map((m: { name: string; status: string }) => `${m.name} ${m.status}`).sort(), [
        'DB_URL deployed',
        'NPM_TOKEN deployed',
      ]);
    });

    // Measured over a real socket (a time in process says nothing); the same values are checked.
    test('release path with 1,000 secrets on the all role (measured, not asserted)', async () => {
      assert.equal((await admin.post('/api/v1/projects', { slug: 'bulk', name: 'Bulk' })).status, 201);
      await grantRelease(admin, 'bulk');
      const map: Record<string, string> = {};
      for (let i = 0; i < 1000; i++) map[`SECRET_${String(i).padStart(4, '0')}`] = `value-${i}-${randomBytes(16).toString('hex')}`;
      const imp = await admin.post('/api/v1/projects/bulk/secrets/production:import', { secrets: map });
      assert.equal(imp.status, 200, imp.text.slice(0, 500));
      assert.equal(imp.body.written, 1000);
      const started = await admin.post('/api/v1/projects/bulk/deployments', { environment: 'production' });
      assert.equal(started.status, 201, started.text);
      const s = started.body as { id: string; token: string; pinned: { runtime: unknown[] } };
      assert.equal(s.pinned.runtime.length, 1000);
      const times: number[] = [];
      let last: ApiResponse | undefined;
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        last = await admin.with(s.token).get(`/api/v1/deployments/${s.id}/secrets`);
        times.push(performance.now() - t0);
        assert.equal(last.status, 200);
      }
      assert.deepEqual(last!.body.runtime, map);
      const first = times[0]!;
      times.sort((a, b) => a - b);
      const median = (times[9]! + times[10]!) / 2;
      console.log(
        `release 1000 values: median ${median.toFixed(1)} ms (${d.name}; first ${first.toFixed(1)}, min ${times[0]!.toFixed(1)}, max ${times[19]!.toFixed(1)})`,
      );
      assert.equal((await admin.with(s.token).post(`/api/v1/deployments/${s.id}/complete`, { status: 'succeeded' })).status, 200);
    });
  });
}
