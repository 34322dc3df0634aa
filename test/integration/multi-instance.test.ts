// Several keyloft instances on one PostgreSQL database: an `all` instance initialises the keys
// and stops; then two `api` instances (no key at all) and one `release` instance serve a client
// that alternates instances for sign-in, writes, deployments and releases, while one api
// instance is killed (SIGKILL) and restarted mid-run. Every acknowledged write must be visible
// on every instance afterwards, and every deployment started on either api instance must be
// released by the release instance with exactly the values it pinned.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { bootstrap } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const pgDialect = (await dialects()).find((d) => d.name === 'postgres');
const skip: string | false = pgDialect ? pgDialect.skip : 'SKIPPED: KEYLOFT_TEST_DIALECTS excludes postgres';
if (skip) process.stdout.write(`multi-instance: ${skip}\n`);

const WORKERS = 4;
const ITERATIONS = 60;
const KILL_AT = 20; // iteration of worker 0 at which api instance A is killed
const NAMES = 8; // secret names per project

interface Instance {
  name: string;
  server: TestServer;
  up: boolean;
}

interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
  instance: string;
}

const stats = { requests: 0, networkErrors: 0, retries: 0, restarts: 0, writes: 0, deployments: 0, releases: 0, logins: 0, crossInstanceSessions: 0 };

describe('multi-instance: two api instances and one release instance on one PostgreSQL', { skip, timeout: 120_000 }, () => {
  let store: TestStore;
  const api: Instance[] = [];
  let release: Instance;
  let rr = 0;
  let adminTokenShared = '';

  const apiEnv = (releaseUrl: string) => ({
    KEYLOFT_MASTER_KEY_FILE: undefined,
    KEYLOFT_MASTER_KEY: undefined,
    KEYLOFT_RELEASE_URL: releaseUrl,
    KEYLOFT_LOG_LEVEL: 'warn',
  });

  /** One HTTP call to one instance; network errors are thrown (the caller decides to retry). */
  async function raw(inst: Instance, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    stats.requests++;
    let res: Response;
    try {
      res = await fetch(`${inst.server.url}${path}`, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      stats.networkErrors++;
      throw err;
    }
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers, instance: inst.name };
  }

  /**
   * What a load balancer does: round-robin over the api instances that are up; a request that
   * fails on the network (the instance died under it) is not acknowledged and goes to another.
   */
  async function viaLb(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, prefer?: number): Promise<Reply> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      const candidates = api.filter((i) => i.up);
      if (candidates.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const inst = prefer !== undefined && attempt === 0 && api[prefer]!.up ? api[prefer]! : candidates[rr++ % candidates.length]!;
      try {
        return await raw(inst, method, path, body, headers);
      } catch (err) {
        lastErr = err;
        stats.retries++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw new Error(`no api instance answered ${method} ${path}: ${String(lastErr)}`);
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    store = await createStore('postgres');
    // 1. an `all` instance initialises the database and the master public key, then stops
    const all = await startServer(store);
    let adminToken: string;
    try {
      adminToken = (await bootstrap(all)).token!;
    } finally {
      assert.equal(await all.stop(), 0);
    }
    // 2. the release instance holds the key (KEYLOFT_MASTER_KEY_FILE from the helper); both api
    //    instances start at once (migrations under the lock) and hold no key at all
    const rel = await startServer(store, { role: 'release', env: { KEYLOFT_LOG_LEVEL: 'warn' } });
    release = { name: 'release', server: rel, up: true };
    const [a, b] = await Promise.all([startServer(store, { role: 'api', env: apiEnv(rel.url) }), startServer(store, { role: 'api', env: apiEnv(rel.url) })]);
    api.push({ name: 'api-A', server: a, up: true }, { name: 'api-B', server: b, up: true });
    adminTokenShared = adminToken;
  });

  after(async () => {
    for (const i of [...api, release]) if (i?.server) await i.server.stop('SIGKILL').catch(() => {});
    await store?.cleanup();
  });

  test('alternating client, one api instance killed and restarted: nothing acknowledged is lost', async () => {
    const admin = bearer(adminTokenShared);
    const runId = randomBytes(3).toString('hex');

    // users and projects, created through alternating instances
    const workers: Array<{ email: string; password: string; slug: string; token: string }> = [];
    for (let w = 0; w < WORKERS; w++) {
      const email = `worker${w}-${runId}@example.com`;
      const password = `multi instance password ${w}`;
      const u = await raw(api[w % 2]!, 'POST', '/api/v1/users', { email, password }, admin);
      assert.equal(u.status, 201, u.text);
      const slug = `mi-${runId}-${w}`;
      const p = await raw(api[(w + 1) % 2]!, 'POST', '/api/v1/projects', { slug, name: `Multi ${w}` }, admin);
      assert.equal(p.status, 201, p.text);
      const m = await raw(api[w % 2]!, 'POST', `/api/v1/projects/${slug}/members`, { email, role: 'member', release: true }, admin);
      assert.ok([200, 201].includes(m.status), m.text);
      workers.push({ email, password, slug, token: '' });
    }

    /** Sign in on one instance; use the session (cookie + CSRF) on the other: sessions live in the database. */
    async function signIn(w: number, it: number): Promise<{ cookie: string; csrf: string }> {
      const at = api[it % 2]!.up ? it % 2 : (it + 1) % 2;
      const r = await viaLb('POST', '/api/v1/session', { email: workers[w]!.email, password: workers[w]!.password }, {}, at);
      assert.equal(r.status, 200, r.text);
      stats.logins++;
      return { cookie: r.headers.get('set-cookie')!.split(';')[0]!, csrf: r.body.csrfToken };
    }

    // every worker: sign in on one instance, create its API token on the other
    for (let w = 0; w < WORKERS; w++) {
      const s = await signIn(w, w);
      const t = await viaLb('POST', '/api/v1/tokens', { name: `mi-${w}` }, { cookie: s.cookie, 'x-csrf-token': s.csrf }, (w + 1) % 2);
      assert.equal(t.status, 201, t.text);
      stats.crossInstanceSessions++;
      workers[w]!.token = t.body.token;
    }

    // an api instance names the release instance for the secrets route
    {
      const w = workers[0]!;
      const d = await viaLb('POST', `/api/v1/projects/${w.slug}/deployments`, { environment: 'production' }, bearer(w.token));
      assert.equal(d.status, 201, d.text);
      const wrong = await viaLb('GET', `/api/v1/deployments/${d.body.id}/secrets`, undefined, bearer(d.body.token));
      assert.equal(wrong.status, 421, wrong.text);
      assert.equal(wrong.body.error.details.releaseUrl, release.server.url);
      const ok = await raw(release, 'GET', `/api/v1/deployments/${d.body.id}/secrets`, undefined, bearer(d.body.token));
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body.runtime, {});
      assert.equal((await raw(release, 'POST', `/api/v1/deployments/${d.body.id}/complete`, { status: 'succeeded' }, bearer(d.body.token))).status, 200);
    }

    // acknowledged state per worker: name -> { value, version, digest }
    const acked: Array<Map<string, { value: string; version: number; digest: string }>> = workers.map(() => new Map());
    const lost: string[] = [];
    let releasedValues = 0;
    let killed: Promise<void> | undefined;

    async function releaseAndCheck(w: number, dep: { id: string; token: string; expected: Record<string, string>; startedOn: string }): Promise<void> {
      const r = await raw(release, 'GET', `/api/v1/deployments/${dep.id}/secrets`, undefined, bearer(dep.token));
      stats.releases++;
      if (r.status !== 200) {
        lost.push(`deployment ${dep.id} (started on ${dep.startedOn}) was not released: ${r.status} ${r.text}`);
        return;
      }
      releasedValues += Object.keys(r.body.runtime).length + Object.keys(r.body.build).length;
      try {
        assert.deepEqual(r.body.runtime, dep.expected);
      } catch {
        lost.push(`deployment ${dep.id} of worker ${w} (started on ${dep.startedOn}) released other values than it pinned`);
      }
      // complete through the load balancer (completion is served by api instances too)
      const c = await viaLb('POST', `/api/v1/deployments/${dep.id}/complete`, { status: 'succeeded' }, bearer(dep.token));
      if (c.status !== 200) {
        // A completion cut by the kill may have committed before the connection died; its retry then
        // finds the token already revoked (401). Acceptable only if the deployment did end as succeeded.
        const d = await viaLb('GET', `/api/v1/projects/${workers[w]!.slug}/deployments/${dep.id}`, undefined, bearer(workers[w]!.token));
        assert.equal(d.status, 200, d.text);
        assert.equal(d.body.deployment.status, 'succeeded', `completion answered ${c.status} ${c.text} and the deployment is ${d.body.deployment.status}`);
      }
    }

    async function worker(w: number): Promise<void> {
      const me = workers[w]!;
      const pending: Array<{ id: string; token: string; expected: Record<string, string>; startedOn: string }> = [];
      for (let it = 0; it < ITERATIONS; it++) {
        if (w === 0 && it === KILL_AT) killed = killAndRestart();
        const name = `KEY_${(it * 3 + w) % NAMES}`;
        const value = `w${w}-i${it}-${randomBytes(6).toString('hex')}`;
        let put: Reply;
        if (it % 10 === 5) {
          // a fresh sign-in on one instance, the write with that session on another
          const s = await signIn(w, it + w);
          put = await viaLb(
            'PUT',
            `/api/v1/projects/${me.slug}/secrets/production/${name}`,
            { value },
            { cookie: s.cookie, 'x-csrf-token': s.csrf },
            (it + w + 1) % 2,
          );
          stats.crossInstanceSessions++;
        } else {
          put = await viaLb('PUT', `/api/v1/projects/${me.slug}/secrets/production/${name}`, { value }, bearer(me.token));
        }
        assert.ok(put.status === 200 || put.status === 201, put.text);
        stats.writes++;
        acked[w]!.set(name, { value, version: put.body.secret.version, digest: put.body.secret.digest });

        if (it % 4 === 3) {
          const d = await viaLb('POST', `/api/v1/projects/${me.slug}/deployments`, { environment: 'production' }, bearer(me.token));
          assert.equal(d.status, 201, d.text);
          stats.deployments++;
          pending.push({
            id: d.body.id,
            token: d.body.token,
            expected: Object.fromEntries([...acked[w]!].map(([n, a]) => [n, a.value])),
            startedOn: d.instance,
          });
        }
        // release the older deployments a little later, so some span the kill
        while (pending.length > 1) await releaseAndCheck(w, pending.shift()!);
      }
      while (pending.length > 0) await releaseAndCheck(w, pending.shift()!);
    }

    async function killAndRestart(): Promise<void> {
      const victim = api[0]!;
      victim.server.process.kill('SIGKILL');
      await new Promise<void>((r) =>
        victim.server.process.exitCode !== null || victim.server.process.signalCode !== null ? r() : victim.server.process.once('exit', () => r()),
      );
      victim.up = false;
      await new Promise((r) => setTimeout(r, 300));
      const again = await startServer(store, { role: 'api', env: apiEnv(release.server.url) });
      api[0] = { name: 'api-A (restarted)', server: again, up: true };
      stats.restarts++;
    }

    const t0 = Date.now();
    await Promise.all(workers.map((_, w) => worker(w)));
    await killed;
    assert.equal(stats.restarts, 1);

    // every acknowledged write is visible, by version and digest, on each api instance
    for (let w = 0; w < WORKERS; w++) {
      for (const inst of api) {
        const list = await raw(inst, 'GET', `/api/v1/projects/${workers[w]!.slug}/secrets?scope=production`, undefined, bearer(workers[w]!.token));
        assert.equal(list.status, 200, list.text);
        const byName = new Map<string, { version: number; digest: string }>(
          list.body.secrets.map((s: { name: string; version: number; digest: string }) => [s.name, s]),
        );
        for (const [name, a] of acked[w]!) {
          const s = byName.get(name);
          if (!s || s.version !== a.version || s.digest !== a.digest)
            lost.push(`${workers[w]!.slug}/${name}: acknowledged v${a.version} ${a.digest}, ${inst.name} shows ${s ? `v${s.version} ${s.digest}` : 'nothing'}`);
        }
      }
      // and by value: a deployment started on each api instance releases the last acknowledged values
      for (let i = 0; i < api.length; i++) {
        const d = await raw(api[i]!, 'POST', `/api/v1/projects/${workers[w]!.slug}/deployments`, { environment: 'production' }, bearer(workers[w]!.token));
        assert.equal(d.status, 201, d.text);
        stats.deployments++;
        await releaseAndCheck(w, {
          id: d.body.id,
          token: d.body.token,
          expected: Object.fromEntries([...acked[w]!].map(([n, a]) => [n, a.value])),
          startedOn: api[i]!.name,
        });
      }
    }

    // the database agrees: one master key, migrations applied once, no deployment left running
    const c = new pg.Client({ connectionString: store.databaseUrl });
    await c.connect();
    try {
      assert.equal((await c.query('select count(*)::int as n from master_keys')).rows[0].n, 1);
      const running = (await c.query("select count(*)::int as n from deployments where status = 'running'")).rows[0].n;
      assert.equal(running, 0, 'every deployment was released and completed');
    } finally {
      await c.end();
    }

    // the release instance's metrics saw every release and every value
    const metrics = await raw(release, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    const releasedMetric = [...metrics.text.matchAll(/^keyloft_released_values_total\{kind="(runtime|build)"\} (\d+)$/gm)].reduce(
      (n, m) => n + Number(m[2]),
      0,
    );
    assert.equal(releasedMetric, releasedValues, 'keyloft_released_values_total matches the values released');
    assert.match(metrics.text, /^keyloft_db_pool_connections\{state="total"\} \d+$/m);
    assert.match(metrics.text, /^keyloft_info\{role="release",/m);

    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    assert.deepEqual(lost, [], `lost writes:\n${lost.join('\n')}`);
    process.stdout.write(
      `multi-instance: ${stats.requests} requests, ${stats.restarts} restarts, ${lost.length} lost writes ` +
        `(${stats.writes} acknowledged writes, ${stats.deployments} deployments, ${stats.releases} releases of ${releasedValues} values, ` +
        `${stats.logins} sign-ins, ${stats.crossInstanceSessions} cross-instance session uses, ${stats.networkErrors} requests cut by the kill and retried, ${seconds} s)\n`,
    );
  });
});
