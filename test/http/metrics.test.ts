// /metrics: counts per route pattern, releases, 401/403, pool use on PostgreSQL; request ids.
// In process (buildApp + inject) on each engine; KEYLOFT_METRICS=false and a bad value stopping
// `serve` stay in integration/operations.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Api, bootstrap, createUser } from '../helpers/client.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { seedProject } from '../helpers/fixtures.js';
import { dialects } from '../helpers/server.js';

const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

/** Sum of a metric's samples whose label text contains every given fragment. */
function sample(text: string, name: string, ...fragments: string[]): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (fragments.every((f) => line.includes(f))) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

for (const d of await dialects()) {
  describe(`${d.name}: /metrics`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    const slug = `met-${randomBytes(4).toString('hex')}`;
    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
    });
    after(async () => {
      await server?.stop();
    });

    test('counts requests per route pattern, releases, 401/403, and pool use on PostgreSQL', async () => {
      const values = { A: val('a'), B: val('b'), C: val('c') };
      await seedProject(
        admin,
        { slug, name: 'Metrics' },
        Object.entries(values).map(([name, value]) => ({ name, value, scope: 'production' })),
      );
      assert.equal((await admin.put(`/api/v1/projects/${slug}/secrets/build/NPM`, { valueBase64: 'AAEC' })).status, 201);
      // 401: an unknown token; 403: a viewer writing
      assert.equal((await admin.with('klt_unknown').get('/api/v1/projects')).status, 401);
      const viewer = await createUser(server, admin, `viewer-${slug}@example.com`);
      assert.ok([200, 201].includes((await admin.post(`/api/v1/projects/${slug}/members`, { email: `viewer-${slug}@example.com`, role: 'viewer' })).status));
      assert.equal((await viewer.put(`/api/v1/projects/${slug}/secrets/production/A`, { value: 'nope' })).status, 403);
      // one release of 3 runtime values and 1 build value
      const dep = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
      assert.equal(dep.status, 201, dep.text);
      const rel = await admin.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
      assert.equal(rel.status, 200, rel.text);

      const anon = new Api(server.url, undefined, server.fetch);
      const m = await anon.get('/metrics');
      assert.equal(m.status, 200, 'no authentication needed');
      assert.match(m.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      const text = m.text;
      assert.equal(sample(text, 'keyloft_http_requests_total', 'route="/api/v1/projects/:slug/secrets/:scope/:name"', 'method="PUT"', 'status="201"'), 1);
      assert.equal(sample(text, 'keyloft_http_requests_total', 'route="/api/v1/projects/:slug/secrets/:scope/:name"', 'status="403"'), 1);
      assert.ok(sample(text, 'keyloft_http_request_duration_seconds_count', 'route="/api/v1/projects"') >= 2);
      assert.match(text, /^keyloft_http_request_duration_seconds_bucket\{method="POST",route="\/api\/v1\/projects",le="\+Inf"\} \d+$/m);
      assert.equal(sample(text, 'keyloft_auth_failures_total', 'status="401"'), 1);
      assert.equal(sample(text, 'keyloft_auth_failures_total', 'status="403"'), 1);
      assert.equal(
        sample(text, 'keyloft_releases_total'),
        1,
        text
          .split('\n')
          .filter((l) => l.includes('releas'))
          .join('\n'),
      );
      assert.equal(sample(text, 'keyloft_released_values_total', 'kind="runtime"'), 3);
      assert.equal(sample(text, 'keyloft_released_values_total', 'kind="build"'), 1);
      assert.match(text, /^keyloft_info\{role="all",version="[^"]+"\} 1$/m);
      // route patterns only: no slug, deployment id, token or value in any label
      for (const s of [slug, dep.body.id, dep.body.token, admin.token!, ...Object.values(values)])
        assert.ok(!text.includes(s), `metrics mention ${s.slice(0, 12)}…`);
      if (d.name === 'postgres') {
        assert.ok(sample(text, 'keyloft_db_pool_connections', 'state="total"') >= 1, text);
        assert.match(text, /^keyloft_db_pool_waiting \d+$/m);
        assert.match(text, /^keyloft_db_pool_max 10$/m);
      } else {
        assert.ok(!text.includes('keyloft_db_pool'), 'SQLite has no pool');
      }
      // request ids: a valid x-request-id is echoed
      const echoed = await anon.call('GET', '/healthz', undefined, { headers: { 'x-request-id': 'ops-test-123' } });
      assert.equal(echoed.headers.get('x-request-id'), 'ops-test-123');
    });
  });
}
