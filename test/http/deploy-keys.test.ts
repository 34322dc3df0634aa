import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Api, type ApiResponse, ADMIN_EMAIL, bootstrap, createUser, grantRelease } from '../helpers/client.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const v = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;
const VALUES = { alphaProd: v('alpha-prod'), alphaPrev: v('alpha-prev'), alphaBuild: v('alpha-build'), betaProd: v('beta-prod'), betaBuild: v('beta-build') };
const ALL_VALUES = Object.values(VALUES);
const b64 = (s: string) => Buffer.from(s).toString('base64');

function assertNoValue(res: ApiResponse, what: string): void {
  for (const x of ALL_VALUES) {
    assert.ok(!res.text.includes(x) && !res.text.includes(b64(x)), `${what}: the response contains a value`);
  }
}

type Schema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  op: {
    security?: unknown[];
    parameters?: Array<{ in: string; name: string; required?: boolean }>;
    requestBody?: { content: Record<string, { schema: Schema }> };
  };
}

/** Every operation of the served OpenAPI document. */
async function operations(anon: Api): Promise<Operation[]> {
  const r = await anon.get('/api/openapi.json');
  assert.equal(r.status, 200);
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(r.body.paths as Record<string, Record<string, Operation['op']>>)) {
    for (const [method, op] of Object.entries(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) out.push({ method: method.toUpperCase(), path, op });
    }
  }
  assert.ok(out.length >= 25, `only ${out.length} operations in the OpenAPI document`);
  return out;
}

/** Plausible, schema-valid values by property name, so a refusal is an authorization answer and not a 400. */
const KNOWN: Record<string, unknown> = {
  environment: 'production',
  status: 'succeeded',
  role: 'admin',
  email: 'member@example.com',
  password: 'a long enough password 123',
  setupToken: 'klsetup_not-the-real-one',
  name: 'made-by-a-key',
  slug: 'key-made-project',
  value: 'written-by-a-key',
  flyApp: 'hijacked-app',
  flyPreviewPattern: 'hijacked-<pr>',
  secrets: { WRITTEN_BY_KEY: 'x' },
};

/** Whether a known value has the schema's JSON type. */
function fits(schema: Schema, value: unknown): boolean {
  const types = [schema.type, ...((schema.anyOf ?? []) as Schema[]).map((a) => a.type)].filter(Boolean);
  if (types.length === 0) return true;
  const t = Array.isArray(value) ? 'array' : typeof value === 'number' ? 'integer' : typeof value;
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}

/** A minimal valid instance of a JSON schema (as OpenAPI shows it). */
function sample(schema: Schema, key?: string): unknown {
  if (key !== undefined && key in KNOWN && fits(schema, KNOWN[key])) return KNOWN[key];
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const alts = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alts) return sample(alts.find((a) => a.type === 'object') ?? alts[0]!, key);
  if (Array.isArray(schema.allOf)) return Object.assign({}, ...schema.allOf.map((s: Schema) => sample(s, key)));
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const k of (schema.required as string[] | undefined) ?? []) out[k] = sample(schema.properties?.[k] ?? {}, k);
      // Optional properties we know a good value for (e.g. `value`, which the service requires).
      for (const [k, sub] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
        if (!(k in out) && k in KNOWN && fits(sub, KNOWN[k])) out[k] = KNOWN[k];
      return out;
    }
    case 'array':
      return [];
    case 'string':
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1);
    case 'boolean':
      return false;
    default:
      return {};
  }
}

interface Target {
  slug: string;
  /** A running deployment of the project (for /deployments/{id}/… and …/deployments/{id}). */
  deploymentId: string;
  /** A deploy key id of the project. */
  keyId: string;
  /** An existing secret name and open preview PR of the project. */
  secretName: string;
  pr: number;
}

/** Fills an OpenAPI path with real ids; an unknown parameter fails the test so a new route cannot slip through. */
function fill(path: string, t: Target, tokenId: string): string {
  return path.replace(/\{(\w+)\}/g, (_, p: string) => {
    switch (p) {
      case 'slug':
        return t.slug;
      case 'scope':
        return 'production';
      case 'name':
        return t.secretName;
      case 'scopeImport':
        return 'production:import';
      case 'email':
        return encodeURIComponent('member@example.com');
      case 'pr':
        return String(t.pr);
      case 'version':
        return '1';
      case 'token':
        return 'klinv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      case 'id':
        if (/\/tokens\/\{id\}/.test(path)) return tokenId;
        if (/\/deploy-keys\/\{id\}/.test(path)) return t.keyId;
        if (/\/trust-policies\/\{id\}/.test(path)) return 'tp_unknown';
        if (/\/invitations\/\{id\}/.test(path)) return 'inv_unknown';
        if (/\/deployments\/\{id\}/.test(path)) return t.deploymentId;
        // People (issue 15): a user and an invitation id the key must not reach whether or not they exist.
        if (/\/users\/\{id\}/.test(path)) return 'usr_unknown';
        if (/\/me\/sessions\/\{id\}/.test(path)) return 'ses_unknown';
        if (/\/invitations\/\{id\}/.test(path)) return 'inv_unknown';
        // Sign-in (issue 12 §2): a session id of someone else's; the key must be refused either way.
        if (/\/me\/sessions\/\{id\}/.test(path)) return 'ses_unknown';
        throw new Error(`the deploy-key sweep does not know which id to use in ${path}; teach fill() about it`);
      default:
        throw new Error(`the deploy-key sweep has no value for path parameter {${p}} of ${path}; teach fill() about it`);
    }
  });
}

function requestOf(o: Operation, t: Target, tokenId: string): { url: string; body: unknown } {
  let url = fill(o.path, t, tokenId);
  const query = (o.op.parameters ?? []).filter((p) => p.in === 'query' && p.required);
  if (query.length > 0) {
    url += `?${query.map((p) => `${p.name}=${encodeURIComponent(p.name === 'confirm' ? t.slug : 'x')}`).join('&')}`;
  }
  const schema = o.op.requestBody?.content['application/json']?.schema;
  return { url, body: schema ? sample(schema) : undefined };
}

// The invitation accept route is authenticated by its one-time token in the path, not a bearer (people, issue 15).
const PUBLIC_ROUTES = [
  'DELETE /api/v1/session',
  'POST /api/v1/invitations/{token}/accept',
  'POST /api/v1/oidc/deployments',
  'POST /api/v1/session',
  'POST /api/v1/setup',
];

for (const d of await dialects()) {
  describe(`${d.name}: project deploy keys`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    let member: Api;
    let viewer: Api;
    let outsider: Api;
    let adminTokenId: string;

    const createKey = async (slug: string, name: string) => {
      const r = await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; name: string; token: string; lastUsedAt: string | null };
    };
    const startAs = async (api: Api, slug: string, body: Record<string, unknown>) => {
      const r = await api.post(`/api/v1/projects/${slug}/deployments`, body);
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; token: string; deployment: { startedBy: { kind: string; name: string }; status: string } };
    };
    /** What an admin sees of a project (names, versions, members, keys, settings, deployments), to show nothing changed. */
    const snapshot = async (slug: string) => {
      const parts = await Promise.all([
        admin.get(`/api/v1/projects/${slug}`),
        admin.get(`/api/v1/projects/${slug}/secrets`),
        admin.get(`/api/v1/projects/${slug}/members`),
        admin.get(`/api/v1/projects/${slug}/deploy-keys`),
        admin.get(`/api/v1/projects/${slug}/deployments?limit=200`),
      ]);
      for (const p of parts) assert.equal(p.status, 200, p.text);
      const [project, secrets, members, keys, deployments] = parts.map((p) => p.body);
      return {
        project: project.project,
        secrets: secrets.secrets
          .map((s: { name: string; scope: string; version: number; deleted: boolean }) => `${s.scope}/${s.name}@${s.version}${s.deleted ? ' deleted' : ''}`)
          .sort(),
        members: members.members,
        keys: keys.deployKeys.map((k: { id: string; name: string }) => `${k.id} ${k.name}`).sort(),
        deployments: deployments.deployments.map((x: { id: string; status: string }) => `${x.id} ${x.status}`).sort(),
      };
    };

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      const projects = {
        alpha: [
          { name: 'DB_URL', scope: 'production', value: VALUES.alphaProd },
          { name: 'DB_URL', scope: 'preview', value: VALUES.alphaPrev },
          { name: 'NPM_TOKEN', scope: 'build', value: VALUES.alphaBuild },
        ],
        beta: [
          { name: 'DB_URL', scope: 'production', value: VALUES.betaProd },
          { name: 'NPM_TOKEN', scope: 'build', value: VALUES.betaBuild },
        ],
      };
      for (const [slug, secrets] of Object.entries(projects)) {
        assert.equal((await admin.post('/api/v1/projects', { slug, name: slug, secrets })).status, 201);
        await grantRelease(admin, slug);
      }
      member = await createUser(server, admin, 'member@example.com');
      viewer = await createUser(server, admin, 'viewer@example.com');
      outsider = await createUser(server, admin, 'outsider@example.com');
      for (const slug of ['alpha', 'beta']) {
        assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'member@example.com', role: 'member', release: true })).status, 201);
      }
      assert.equal((await admin.post('/api/v1/projects/alpha/members', { email: 'viewer@example.com', role: 'viewer' })).status, 201);
      const tokens = await admin.get('/api/v1/tokens');
      adminTokenId = tokens.body.tokens[0].id;
    });
    after(async () => {
      await server?.stop();
    });

    test('an admin creates a deploy key (shown once), lists it with last use, and revokes it; others cannot', async () => {
      const k = await createKey('alpha', 'github-actions');
      assert.match(k.token, /^kldk_/);
      assert.equal(k.lastUsedAt, null);
      const listed = await admin.get('/api/v1/projects/alpha/deploy-keys');
      assert.equal(listed.status, 200);
      const row = listed.body.deployKeys.find((x: { id: string }) => x.id === k.id);
      assert.equal(row.name, 'github-actions');
      assert.ok(row.createdBy.startsWith(ADMIN_EMAIL), row.createdBy);
      assert.ok(!listed.text.includes(k.token), 'the key list shows the key');
      // Using the key records its last use.
      await startAs(admin.with(k.token), 'alpha', { environment: 'production' });
      const used = (await admin.get('/api/v1/projects/alpha/deploy-keys')).body.deployKeys.find((x: { id: string }) => x.id === k.id);
      assert.ok(used.lastUsedAt, 'lastUsedAt is set after use');
      // Members and viewers cannot manage keys; outsiders do not see the project.
      for (const [who, api, status] of [
        ['member', member, 403],
        ['viewer', viewer, 403],
        ['outsider', outsider, 404],
      ] as const) {
        assert.equal((await api.post('/api/v1/projects/alpha/deploy-keys', { name: 'x' })).status, status, who);
        assert.equal((await api.get('/api/v1/projects/alpha/deploy-keys')).status, status, who);
        assert.equal((await api.delete(`/api/v1/projects/alpha/deploy-keys/${k.id}`)).status, status, who);
      }
      const bad = await admin.post('/api/v1/projects/alpha/deploy-keys', { name: '' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'name');
      // A key of alpha cannot be revoked through beta.
      assert.equal((await admin.delete(`/api/v1/projects/beta/deploy-keys/${k.id}`)).status, 404);
      // Revoked: every use is 401, and a second revoke is 404.
      assert.equal((await admin.delete(`/api/v1/projects/alpha/deploy-keys/${k.id}`)).status, 204);
      const after = await admin.with(k.token).post('/api/v1/projects/alpha/deployments', { environment: 'production' });
      assert.equal(after.status, 401, after.text);
      assert.equal((await admin.delete(`/api/v1/projects/alpha/deploy-keys/${k.id}`)).status, 404);
      const audit = await admin.get('/api/v1/projects/alpha/audit?limit=200');
      const actions = (audit.body.events as Array<{ action: string; detail: { id?: string } | null }>)
        .filter((e) => e.detail?.id === k.id)
        .map((e) => e.action);
      assert.deepEqual(actions, ['deploy_key.revoked', 'deploy_key.created']);
      assert.ok(!audit.text.includes(k.token));
    });

    test('a deploy key starts and completes deployments of its project, but never reads values itself', async () => {
      const k = await createKey('alpha', 'ci');
      const key = admin.with(k.token);
      const prod = await startAs(key, 'alpha', { environment: 'production', ref: 'deadbeef' });
      assert.deepEqual(prod.deployment.startedBy, { kind: 'deploy_key', name: 'ci' });
      const prev = await startAs(key, 'alpha', { environment: 'preview', pr: 12 });
      // The key itself gets no values; the deployment's own token does.
      const own = await key.get(`/api/v1/deployments/${prod.id}/secrets`);
      assert.ok([403, 404].includes(own.status), own.text);
      assertNoValue(own, 'deploy key reading values');
      const rel = await admin.with(prod.token).get(`/api/v1/deployments/${prod.id}/secrets`);
      assert.deepEqual(rel.body, { runtime: { DB_URL: VALUES.alphaProd }, build: { NPM_TOKEN: b64(VALUES.alphaBuild) } });
      // It completes the deployments it started, and one a person started.
      const c = await key.post(`/api/v1/deployments/${prod.id}/complete`, { status: 'succeeded' });
      assert.equal(c.status, 200, c.text);
      assert.equal(c.body.deployment.status, 'succeeded');
      assert.equal((await key.post(`/api/v1/deployments/${prev.id}/complete`, { status: 'failed' })).status, 200);
      const byPerson = await startAs(member, 'alpha', { environment: 'production' });
      assert.equal((await key.post(`/api/v1/deployments/${byPerson.id}/complete`, { status: 'failed' })).status, 200);
      // Completing revoked the deployment's token.
      assert.equal((await admin.with(prod.token).get(`/api/v1/deployments/${prod.id}/secrets`)).status, 401);
      // Audited as the key.
      const audit = await admin.get('/api/v1/projects/alpha/audit?limit=200');
      const evs = (audit.body.events as Array<{ action: string; actor: string; detail: { deployment?: string } | null }>).filter(
        (e) => e.detail?.deployment === prod.id,
      );
      assert.deepEqual(
        evs.map((e) => `${e.action} by ${e.actor}`),
        ['deployment.succeeded by deploy key ci', `deployment.released by deployment ${prod.id}`, 'deployment.started by deploy key ci'],
      );
    });

    test("a deploy key cannot start or complete another project's deployments", async () => {
      const k = await createKey('alpha', 'alpha-ci');
      const key = admin.with(k.token);
      const beta = await startAs(admin, 'beta', { environment: 'production' });
      for (const [what, res] of [
        ['start in beta', await key.post('/api/v1/projects/beta/deployments', { environment: 'production' })],
        ['start preview in beta', await key.post('/api/v1/projects/beta/deployments', { environment: 'preview', pr: 1 })],
        ['complete a beta deployment', await key.post(`/api/v1/deployments/${beta.id}/complete`, { status: 'failed' })],
        ['start in a missing project', await key.post('/api/v1/projects/nope/deployments', { environment: 'production' })],
        ['complete a missing deployment', await key.post('/api/v1/deployments/dep_missing/complete', { status: 'failed' })],
      ] as const) {
        assert.equal(res.status, 404, `${what}: ${res.text}`);
        assertNoValue(res, what);
      }
      assert.equal((await admin.get(`/api/v1/projects/beta/deployments/${beta.id}`)).body.deployment.status, 'running');
      assert.equal((await admin.with(beta.token).post(`/api/v1/deployments/${beta.id}/complete`, { status: 'succeeded' })).status, 200);
    });

    /**
     * Calls every route of the OpenAPI document with `api` against `own` and `other`, and checks
     * that only `allowed` ones answer 2xx; all others must be 403/404 without a value.
     */
    async function sweep(api: Api, own: Target, other: Target, allowed: (method: string, path: string, t: Target) => boolean): Promise<string[]> {
      const all = await operations(new Api(server.url, undefined, server.fetch));
      // The JSON API; other documented paths (web pages) are checked below, more loosely.
      const ops = all.filter((o) => o.path.startsWith('/api/'));
      const pages = all.filter((o) => !o.path.startsWith('/api/'));
      const secured = ops.filter((o) => (o.op.security ?? []).length > 0);
      const open = ops.filter((o) => (o.op.security ?? []).length === 0).map((o) => `${o.method} ${o.path}`);
      assert.deepEqual(open.sort(), PUBLIC_ROUTES, 'an API route without authentication appeared; check that it needs none and add it to PUBLIC_ROUTES');
      // Completion ends the deployment the other routes use: run it last.
      const isComplete = (o: Operation) => o.path.endsWith('/complete');
      secured.sort((a, b) => Number(isComplete(a)) - Number(isComplete(b)));
      const log: string[] = [];
      for (const t of [other, own]) {
        for (const o of secured) {
          const { url, body } = requestOf(o, t, adminTokenId);
          const res = await api.call(o.method, url, body);
          const line = `${o.method} ${url} → ${res.status}`;
          log.push(line);
          if (allowed(o.method, o.path, t)) {
            assert.ok(res.status >= 200 && res.status < 300, `${line} should be allowed: ${res.text}`);
            // The one response that may carry values: a deploy token's own release (production of alpha).
            if (res.body?.runtime) assert.deepEqual(res.body, { runtime: { DB_URL: VALUES.alphaProd }, build: { NPM_TOKEN: b64(VALUES.alphaBuild) } });
            else assertNoValue(res, line);
          } else {
            assertNoValue(res, line);
            assert.ok(res.status === 403 || res.status === 404, `${line} should be refused with 403/404: ${res.text}`);
          }
        }
      }
      // Routes that need no authentication answer the credential exactly as they answer nobody,
      // and so do web pages (unless they refuse it outright): the credential grants nothing there.
      for (const o of [...ops.filter((x) => (x.op.security ?? []).length === 0), ...pages]) {
        for (const t of pages.includes(o) ? [own, other] : [own]) {
          const { url } = requestOf(o, t, adminTokenId);
          const body =
            o.path.endsWith('/session') && o.method === 'POST'
              ? { email: 'nobody@example.com', password: 'not the password' }
              : requestOf(o, t, adminTokenId).body;
          const withKey = await manual(o.method, url, body, api.token);
          const anonymous = await manual(o.method, url, body, undefined);
          const line = `${o.method} ${url} → ${withKey.status} ${withKey.location} (anonymous: ${anonymous.status} ${anonymous.location})`;
          log.push(line);
          const same = withKey.status === anonymous.status && withKey.location === anonymous.location;
          assert.ok(same || [401, 403, 404].includes(withKey.status), `${line}: the credential changed the answer`);
          if (!pages.includes(o)) assert.ok(o.method === 'DELETE' || withKey.status >= 400, line);
          assertNoValue(withKey, line);
        }
      }
      return log;
    }

    /** One request without following redirects (a redirect target tells a refusal from a success). */
    async function manual(method: string, url: string, body: unknown, token: string | undefined) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await server.fetch(`${server.url}${url}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'manual',
      });
      const text = await res.text();
      return { status: res.status, location: res.headers.get('location') ?? '', text, body: undefined as any, headers: res.headers };
    }

    async function targets(alphaKeyId: string): Promise<{ own: Target; other: Target }> {
      const betaKey = await createKey('beta', 'beta-ci');
      const alphaDep = await startAs(admin, 'alpha', { environment: 'preview', pr: 5 });
      const betaDep = await startAs(admin, 'beta', { environment: 'preview', pr: 5 });
      return {
        own: { slug: 'alpha', deploymentId: alphaDep.id, keyId: alphaKeyId, secretName: 'DB_URL', pr: 5 },
        other: { slug: 'beta', deploymentId: betaDep.id, keyId: betaKey.id, secretName: 'DB_URL', pr: 5 },
      };
    }

    test('a deploy key is refused (403/404) on every other route of the OpenAPI document, in its project and any other', async () => {
      const k = await createKey('alpha', 'sweep');
      const { own, other } = await targets(k.id);
      const before = { alpha: await snapshot('alpha'), beta: await snapshot('beta') };
      const users = (await admin.get('/api/v1/users')).body;
      const tokens = (await admin.get('/api/v1/tokens')).body.tokens.map((t: { id: string }) => t.id);

      const log = await sweep(admin.with(k.token), own, other, (method, path, t) => {
        if (t.slug !== 'alpha' || method !== 'POST') return false;
        return path === '/api/v1/projects/{slug}/deployments' || path === '/api/v1/deployments/{id}/complete';
      });
      assert.ok(log.length >= 2 * 28, `swept only ${log.length} requests`);

      // Nothing changed but the one deployment the key started and the one it completed.
      const afterAlpha = await snapshot('alpha');
      const started = afterAlpha.deployments.filter((x: string) => !before.alpha.deployments.some((y: string) => y.split(' ')[0] === x.split(' ')[0]));
      assert.equal(started.length, 1, `the key started ${started.length} deployments`);
      assert.ok(afterAlpha.deployments.includes(`${own.deploymentId} succeeded`), 'the key completed its project deployment');
      assert.deepEqual({ ...afterAlpha, deployments: [] }, { ...before.alpha, deployments: [] });
      assert.deepEqual(await snapshot('beta'), before.beta);
      assert.deepEqual((await admin.get('/api/v1/users')).body, users);
      assert.deepEqual(
        (await admin.get('/api/v1/tokens')).body.tokens.map((t: { id: string }) => t.id),
        tokens,
      );
      // Nor was anything written by the key to the secrets' history.
      const h = await admin.get('/api/v1/projects/alpha/secrets/production/DB_URL/versions');
      assert.equal(h.body.versions.length, 1);
    });

    test('a deploy token is refused (403/404) on every route but its own release and completion', async () => {
      const k = await createKey('alpha', 'sweep-token');
      const { own, other } = await targets(k.id);
      const dep = await startAs(admin, 'alpha', { environment: 'production' });
      const ownDep = { ...own, deploymentId: dep.id };
      const before = { alpha: await snapshot('alpha'), beta: await snapshot('beta') };
      await sweep(admin.with(dep.token), ownDep, other, (method, path, t) => {
        if (t.slug !== 'alpha') return false;
        return (method === 'GET' && path === '/api/v1/deployments/{id}/secrets') || (method === 'POST' && path === '/api/v1/deployments/{id}/complete');
      });
      const afterAlpha = await snapshot('alpha');
      assert.ok(afterAlpha.deployments.includes(`${dep.id} succeeded`));
      assert.deepEqual(afterAlpha.deployments.length, before.alpha.deployments.length, 'a deploy token started a deployment');
      assert.deepEqual({ ...afterAlpha, deployments: [] }, { ...before.alpha, deployments: [] });
      assert.deepEqual(await snapshot('beta'), before.beta);
    });
  });
}
