/**
 * CI identity federation against a real server (SQLite and PostgreSQL) and a real OpenID issuer
 * on 127.0.0.1: trust policies over the API, then "policy → exchange → release → complete".
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Api, bootstrap, createUser } from '../helpers/client.js';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const hex = () => randomBytes(8).toString('hex');
const VALUES = { prod: `prod-${hex()}`, preview: `preview-${hex()}`, build: `build-${hex()}`, other: `other-${hex()}` };

for (const d of await dialects()) {
  describe(`${d.name}: CI identity federation (OIDC)`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let issuer: TestIssuer;
    let admin: Api;
    let member: Api;
    let viewer: Api;
    let outsider: Api;
    let anon: Api;
    const tokens: string[] = [];
    const mint = async (o: Parameters<TestIssuer['mint']>[0] = {}) => {
      const t = await issuer.mint(o);
      tokens.push(t);
      return t;
    };
    const exchange = (body: Record<string, unknown>) => anon.post('/api/v1/oidc/deployments', { project: 'shop', environment: 'production', ...body });

    before(async () => {
      issuer = await startTestIssuer({ alg: 'ES256' });
      store = await createStore(d.name);
      server = await startServer(store, { env: { KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true' } });
      admin = await bootstrap(server);
      anon = new Api(server.url);
      for (const [slug, secrets] of Object.entries({
        shop: [
          { name: 'DB_URL', scope: 'production', value: VALUES.prod },
          { name: 'DB_URL', scope: 'preview', value: VALUES.preview },
          { name: 'NPM_TOKEN', scope: 'build', value: VALUES.build },
        ],
        other: [{ name: 'DB_URL', scope: 'production', value: VALUES.other }],
      })) {
        assert.equal((await admin.post('/api/v1/projects', { slug, name: slug, secrets })).status, 201);
      }
      member = await createUser(server, admin, 'member@example.com');
      viewer = await createUser(server, admin, 'viewer@example.com');
      outsider = await createUser(server, admin, 'outsider@example.com');
      assert.equal((await admin.post('/api/v1/projects/shop/members', { email: 'member@example.com', role: 'member' })).status, 201);
      assert.equal((await admin.post('/api/v1/projects/shop/members', { email: 'viewer@example.com', role: 'viewer' })).status, 201);
    });
    after(async () => {
      await server?.stop();
      await store?.cleanup();
      await issuer?.close();
    });

    test('admins create, list and delete trust policies; members, viewers and outsiders cannot; every rule names its field', async () => {
      const body = { name: 'main', issuer: issuer.url, audience: 'keyloft', subject: 'repo:acme/shop:ref:refs/heads/main', environment: 'production' };
      const created = await admin.post('/api/v1/projects/shop/trust-policies', body);
      assert.equal(created.status, 201, created.text);
      assert.match(created.body.id, /^tp_/);
      assert.deepEqual(
        { ...created.body, id: undefined, createdAt: undefined, createdBy: undefined },
        { ...body, claims: {}, id: undefined, createdAt: undefined, createdBy: undefined, lastUsedAt: null },
      );
      assert.equal(
        (await admin.post('/api/v1/projects/shop/trust-policies', { ...body, name: 'pulls', subject: 'repo:acme/shop:pull_request', environment: 'preview' }))
          .status,
        201,
      );
      assert.equal(
        (await admin.post('/api/v1/projects/other/trust-policies', { ...body, name: 'other-main', subject: 'repo:acme/other:ref:refs/heads/main' })).status,
        201,
      );
      const dup = await admin.post('/api/v1/projects/shop/trust-policies', body);
      assert.equal(dup.status, 409, dup.text);
      assert.equal(dup.body.error.field, 'name');
      for (const [patch, field] of [
        [{ issuer: 'http://issuer.example.com' }, 'issuer'],
        [{ issuer: 'not a url' }, 'issuer'],
        [{ subject: '*' }, 'subject'],
        [{ environment: 'staging' }, 'environment'],
        [{ claims: { aud: 'x' } }, 'claims.aud'],
        [{ name: '' }, 'name'],
        [{ audience: 'x'.repeat(501) }, 'audience'],
      ] as const) {
        const r = await admin.post('/api/v1/projects/shop/trust-policies', { ...body, name: `bad-${field}`, ...patch });
        assert.equal(r.status, 400, `${field}: ${r.text}`);
        assert.equal(r.body.error.field, field, r.text);
      }
      for (const [who, api, status] of [
        ['member', member, 403],
        ['viewer', viewer, 403],
        ['outsider', outsider, 404],
        ['anonymous', anon, 401],
      ] as const) {
        assert.equal((await api.post('/api/v1/projects/shop/trust-policies', { ...body, name: `by-${who}` })).status, status, who);
        assert.equal((await api.get('/api/v1/projects/shop/trust-policies')).status, status, who);
        assert.equal((await api.delete(`/api/v1/projects/shop/trust-policies/${created.body.id}`)).status, status, who);
      }
      const listed = await admin.get('/api/v1/projects/shop/trust-policies');
      assert.deepEqual(
        listed.body.trustPolicies.map((p: { name: string }) => p.name),
        ['main', 'pulls'],
      );
      // A policy of shop cannot be deleted through other.
      assert.equal((await admin.delete(`/api/v1/projects/other/trust-policies/${created.body.id}`)).status, 404);
      const temp = await admin.post('/api/v1/projects/shop/trust-policies', { ...body, name: 'temp' });
      assert.equal((await admin.delete(`/api/v1/projects/shop/trust-policies/${temp.body.id}`)).status, 204);
      assert.equal((await admin.delete(`/api/v1/projects/shop/trust-policies/${temp.body.id}`)).status, 404);
      const audit = await admin.get('/api/v1/projects/shop/audit?action=trust_policy.created');
      assert.ok(audit.body.events.some((e: { detail: { name: string } }) => e.detail.name === 'main'));
      assert.ok(
        (await admin.get('/api/v1/projects/shop/audit?action=trust_policy.deleted')).body.events.some(
          (e: { detail: { id: string } }) => e.detail.id === temp.body.id,
        ),
      );
    });

    test('policy → exchange → release → complete: a CI ID token deploys production with no stored credential', async () => {
      const started = await exchange({ idToken: await mint() });
      assert.equal(started.status, 201, started.text);
      assert.deepEqual(started.body.deployment.startedBy, { kind: 'trust_policy', name: 'main' });
      assert.equal(started.body.project.app, 'shop');
      assert.deepEqual(
        started.body.pinned.runtime.map((p: { name: string }) => p.name),
        ['DB_URL'],
      );
      const token = started.body.token as string;
      const released = await anon.with(token).get(`/api/v1/deployments/${started.body.id}/secrets`);
      assert.equal(released.status, 200, released.text);
      assert.deepEqual(released.body, { runtime: { DB_URL: VALUES.prod }, build: { NPM_TOKEN: Buffer.from(VALUES.build).toString('base64') } });
      const done = await anon.with(token).post(`/api/v1/deployments/${started.body.id}/complete`, { status: 'succeeded' });
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.deployment.status, 'succeeded');
      assert.equal((await anon.with(token).get(`/api/v1/deployments/${started.body.id}/secrets`)).status, 401, 'completion revoked the token');
      const listed = await admin.get('/api/v1/projects/shop/deployments?limit=1');
      assert.deepEqual(listed.body.deployments[0].startedBy, { kind: 'trust_policy', name: 'main' });
      assert.deepEqual(started.body.startedBy, { kind: 'trust_policy', name: 'main' });
      const policies = (await admin.get('/api/v1/projects/shop/trust-policies')).body.trustPolicies;
      assert.ok(policies.find((p: { name: string }) => p.name === 'main').lastUsedAt);
    });

    test('a pull-request token deploys its own preview (preview values only) and no other PR', async () => {
      const t = await mint({ ref: 'refs/pull/7/merge' });
      const started = await exchange({ environment: 'preview', idToken: t });
      assert.equal(started.status, 201, started.text);
      assert.equal(started.body.deployment.pr, 7);
      assert.equal(started.body.project.app, 'shop-pr-7');
      const released = await anon.with(started.body.token).get(`/api/v1/deployments/${started.body.id}/secrets`);
      assert.equal(released.body.runtime.DB_URL, VALUES.preview);
      const eight = await exchange({ environment: 'preview', pr: 8, idToken: t });
      assert.equal(eight.status, 403);
      assert.equal(eight.body.error.code, 'oidc_pr_mismatch');
      const prod = await exchange({ idToken: t });
      assert.equal(prod.status, 403);
      assert.equal(prod.body.error.code, 'oidc_policy_mismatch');
    });

    test('refusals over HTTP: 401/403 with a reason code, the same answer for a missing project, 503 for a JWKS that is down, size limits', async () => {
      const s = Math.floor(Date.now() / 1000);
      const cases: Array<[string, Record<string, unknown>, number, string, string?]> = [
        ['expired', { idToken: await mint({ iat: s - 900, nbf: s - 900, exp: s - 120 }) }, 401, 'oidc_token_invalid', 'expired'],
        ['wrong signature', { idToken: await mint({ foreignKey: true }) }, 401, 'oidc_token_invalid', 'bad_signature'],
        ['unknown kid', { idToken: await mint({ kid: 'nope' }) }, 401, 'oidc_token_invalid', 'unknown_key'],
        ['a 20 KB token', { idToken: `${'a'.repeat(20_000)}.b.c` }, 401, 'oidc_token_invalid', 'too_large'],
        ['another repository', { idToken: await mint({ repo: 'acme/evil' }) }, 403, 'oidc_policy_mismatch'],
        ["another project's policy", { idToken: await mint({ repo: 'acme/other' }) }, 403, 'oidc_policy_mismatch'],
        ['a project that does not exist', { project: 'missing', idToken: await mint() }, 403, 'oidc_policy_mismatch'],
        ['wrong audience', { idToken: await mint({ aud: 'https://elsewhere.example.com' }) }, 403, 'oidc_policy_mismatch'],
      ];
      for (const [what, body, status, code, reason] of cases) {
        const r = await exchange(body);
        assert.equal(r.status, status, `${what}: ${r.text}`);
        assert.equal(r.body.error.code, code, what);
        assert.equal(r.body.error.details?.reason, reason, what);
        assert.ok(!r.text.includes('repo:acme/shop'), `${what}: the answer hints at a policy`);
      }
      const huge = await exchange({ idToken: 'a'.repeat(2 * 1024 * 1024) });
      assert.equal(huge.status, 413, huge.text);
      const missingField = await anon.post('/api/v1/oidc/deployments', { project: 'shop', environment: 'production' });
      assert.equal(missingField.status, 400);
      assert.equal(missingField.body.error.field, 'idToken');
      // A JWKS endpoint that is down: a fresh issuer the server has never fetched.
      const down = await startTestIssuer();
      try {
        down.setMode('down');
        const p = await admin.post('/api/v1/projects/shop/trust-policies', {
          name: 'down',
          issuer: down.url,
          audience: 'keyloft',
          subject: 'repo:acme/shop:ref:refs/heads/main',
          environment: 'production',
        });
        assert.equal(p.status, 201, p.text);
        const r = await exchange({ idToken: await down.mint() });
        assert.equal(r.status, 503, r.text);
        assert.equal(r.body.error.code, 'oidc_issuer_unavailable');
        assert.match(r.body.error.message, /signing keys of issuer .* could not be fetched/);
        assert.equal((await anon.get('/healthz')).status, 200, 'the server still answers');
        assert.equal((await admin.delete(`/api/v1/projects/shop/trust-policies/${p.body.id}`)).status, 204);
      } finally {
        await down.close();
      }
      // Every refusal is in the project's audit log, with issuer and subject and never a token.
      const audit = await admin.get('/api/v1/projects/shop/audit?action=oidc.refused&limit=200');
      assert.ok(audit.body.events.length >= 8, audit.text);
      const evil = audit.body.events.find((e: { detail: { subject: string } }) => e.detail.subject === 'repo:acme/evil:ref:refs/heads/main');
      assert.equal(evil.detail.issuer, issuer.url);
      assert.equal(evil.detail.code, 'oidc_policy_mismatch');
      for (const t of tokens) assert.ok(!audit.text.includes(t.split('.')[2]!), 'a token is in the audit log');
    });

    test('the OpenAPI document lists the routes; no ID token reaches the server log', async () => {
      const doc = (await anon.get('/api/openapi.json')).body;
      assert.ok(doc.paths['/api/v1/oidc/deployments'].post);
      assert.ok(doc.paths['/api/v1/projects/{slug}/trust-policies'].post);
      assert.ok(doc.paths['/api/v1/projects/{slug}/trust-policies/{id}'].delete);
      assert.equal((doc.paths['/api/v1/oidc/deployments'].post.security ?? []).length, 0);
      const out = server.output();
      for (const t of tokens) {
        for (const part of t.split('.')) assert.ok(!out.includes(part), 'a part of an ID token is in the server output');
      }
      for (const v of Object.values(VALUES)) assert.ok(!out.includes(v));
    });
  });
}

describe('roles: the exchange runs where the keys are', () => {
  let store: TestStore;
  let all: TestServer;
  let api: TestServer;
  let release: TestServer;
  let issuer: TestIssuer;
  before(async () => {
    issuer = await startTestIssuer();
    store = await createStore('sqlite');
    all = await startServer(store, { env: { KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true' } });
    const admin = await bootstrap(all);
    assert.equal(
      (await admin.post('/api/v1/projects', { slug: 'shop', name: 'shop', secrets: [{ name: 'A', scope: 'production', value: 'a-value' }] })).status,
      201,
    );
    assert.equal(
      (
        await admin.post('/api/v1/projects/shop/trust-policies', {
          name: 'main',
          issuer: issuer.url,
          audience: 'keyloft',
          subject: 'repo:acme/shop:ref:refs/heads/main',
          environment: 'production',
        })
      ).status,
      201,
    );
    await all.stop();
    release = await startServer(store, { role: 'release', env: { KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true', KEYLOFT_OIDC_RATE_LIMIT: '5' } });
    api = await startServer(store, { role: 'api', env: { KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true', KEYLOFT_RELEASE_URL: release.url } });
  });
  after(async () => {
    await api?.stop();
    await release?.stop();
    await all?.stop();
    await store?.cleanup();
    await issuer?.close();
  });

  test('the api role answers 421 wrong_role naming the release URL; the release role exchanges', async () => {
    const body = { project: 'shop', environment: 'production', idToken: await issuer.mint() };
    const r = await new Api(api.url).post('/api/v1/oidc/deployments', body);
    assert.equal(r.status, 421, r.text);
    assert.equal(r.body.error.code, 'wrong_role');
    assert.equal(r.body.error.details.releaseUrl, release.url);
    const ok = await new Api(release.url).post('/api/v1/oidc/deployments', body);
    assert.equal(ok.status, 201, ok.text);
    const values = await new Api(release.url, ok.body.token).get(`/api/v1/deployments/${ok.body.id}/secrets`);
    assert.deepEqual(values.body.runtime, { A: 'a-value' });
  });

  test('the exchange is rate-limited per address (KEYLOFT_OIDC_RATE_LIMIT): 429 rate_limited, never a 500', async () => {
    let limited: { status: number; body: any } | undefined;
    for (let i = 0; i < 8 && !limited; i++) {
      const r = await new Api(release.url).post('/api/v1/oidc/deployments', { project: 'shop', environment: 'production', idToken: 'a.b.c' });
      if (r.status !== 401) limited = r;
    }
    assert.ok(limited, 'never limited');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.match(limited.body.error.message, /try again in \d+ s/);
  });
});
