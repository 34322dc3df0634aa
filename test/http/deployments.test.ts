import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Api, type ApiResponse, bootstrap, createUser, grantRelease, seenBodies } from '../helpers/client.js';
import { expireDeployment, type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const v = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

/** Values of the fixture projects; none of them may appear in any refusal or in any response to a person. */
const VALUES = {
  alphaProdDb: v('alpha-prod-db'),
  alphaProdKey: v('alpha-prod-key'),
  alphaPrevDb: v('alpha-prev-db'),
  alphaPrevOnly: v('alpha-prev-only'),
  alphaBuild: v('alpha-build-npm'),
  betaProdDb: v('beta-prod-db'),
  betaBuild: v('beta-build-npm'),
};
const ALL_VALUES = Object.values(VALUES);
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const allForms = (vals: readonly string[]) => vals.flatMap((x) => [x, b64(x)]);

/** A refusal: 401, 403 or 404, with an error body and none of the values (nor their base64). */
function assertRefused(res: ApiResponse, what: string, values: readonly string[] = ALL_VALUES): void {
  assert.ok([401, 403, 404].includes(res.status), `${what}: expected 401/403/404, got ${res.status} ${res.text}`);
  assert.ok(res.body?.error?.code, `${what}: expected an error body, got ${res.text}`);
  assert.equal(res.body.runtime, undefined, what);
  assert.equal(res.body.build, undefined, what);
  for (const x of allForms(values)) assert.ok(!res.text.includes(x), `${what}: the refusal contains a value`);
}

interface Started {
  id: string;
  token: string;
  expiresAt: string;
  pinned: { runtime: Array<{ name: string; version: number }>; build: Array<{ name: string; version: number }> };
  deployment: { status: string; environment: string; pr: number | null };
  project: { app: string };
}

for (const d of await dialects()) {
  describe(`${d.name}: deployments and the release path`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    let member: Api;
    let viewer: Api;
    let outsider: Api;

    const start = async (api: Api, slug: string, body: Record<string, unknown>): Promise<Started> => {
      const r = await api.post(`/api/v1/projects/${slug}/deployments`, body);
      assert.equal(r.status, 201, r.text);
      return r.body as Started;
    };
    const release = (token: string | undefined, id: string) => admin.with(token).get(`/api/v1/deployments/${id}/secrets`);
    const complete = (token: string | undefined, id: string, status: 'succeeded' | 'failed') =>
      admin.with(token).post(`/api/v1/deployments/${id}/complete`, { status });

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      for (const [slug, secrets] of [
        [
          'alpha',
          [
            { name: 'DB_URL', scope: 'production', value: VALUES.alphaProdDb },
            { name: 'API_KEY', scope: 'production', value: VALUES.alphaProdKey },
            { name: 'DB_URL', scope: 'preview', value: VALUES.alphaPrevDb },
            { name: 'PREVIEW_ONLY', scope: 'preview', value: VALUES.alphaPrevOnly },
            { name: 'NPM_TOKEN', scope: 'build', value: VALUES.alphaBuild },
          ],
        ],
        [
          'beta',
          [
            { name: 'DB_URL', scope: 'production', value: VALUES.betaProdDb },
            { name: 'NPM_TOKEN', scope: 'build', value: VALUES.betaBuild },
          ],
        ],
      ] as const) {
        const r = await admin.post('/api/v1/projects', { slug, name: slug, secrets });
        assert.equal(r.status, 201, r.text);
        await grantRelease(admin, slug);
      }
      member = await createUser(server, admin, 'member@example.com');
      viewer = await createUser(server, admin, 'viewer@example.com');
      outsider = await createUser(server, admin, 'outsider@example.com');
      for (const [email, role, release] of [
        ['member@example.com', 'member', true],
        ['viewer@example.com', 'viewer', false],
      ] as const) {
        const r = await admin.post('/api/v1/projects/alpha/members', { email, role, release });
        assert.equal(r.status, 201, r.text);
      }
    });
    after(async () => {
      await server?.stop();
    });

    test('start returns the id, a token, the expiry and the pinned names and versions (no values)', async () => {
      const s = await start(member, 'alpha', { environment: 'production', ref: 'abc123' });
      assert.match(s.id, /\S/);
      assert.match(s.token, /^kldt_/);
      const ttl = Date.parse(s.expiresAt) - server.clock();
      assert.ok(ttl > 29 * 60_000 && ttl <= 30 * 60_000 + 5_000, `default lifetime is 30 minutes, got ${ttl} ms`);
      assert.equal(s.deployment.status, 'running');
      assert.equal(s.deployment.environment, 'production');
      assert.equal(s.deployment.pr, null);
      assert.deepEqual(s.pinned, {
        runtime: [
          { name: 'API_KEY', version: 1 },
          { name: 'DB_URL', version: 1 },
        ],
        build: [{ name: 'NPM_TOKEN', version: 1 }],
      });
      const text = JSON.stringify(s);
      for (const x of allForms(ALL_VALUES)) assert.ok(!text.includes(x), 'the start response contains a value');
      // The deployment is listed (metadata only) and shows its pins.
      const shown = await viewer.get(`/api/v1/projects/alpha/deployments/${s.id}`);
      assert.equal(shown.status, 200, shown.text);
      assert.equal(shown.body.deployment.status, 'running');
      assert.deepEqual(shown.body.pinned, s.pinned);
      assert.equal((await complete(s.token, s.id, 'succeeded')).status, 200);
    });

    test('a production token receives exactly the production and build values, never preview ones', async () => {
      const s = await start(member, 'alpha', { environment: 'production' });
      const r = await release(s.token, s.id);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { runtime: { API_KEY: VALUES.alphaProdKey, DB_URL: VALUES.alphaProdDb }, build: { NPM_TOKEN: b64(VALUES.alphaBuild) } });
      for (const x of allForms([VALUES.alphaPrevDb, VALUES.alphaPrevOnly, VALUES.betaProdDb, VALUES.betaBuild])) assert.ok(!r.text.includes(x));
      assert.equal((await complete(s.token, s.id, 'succeeded')).status, 200);
    });

    test('a preview token receives exactly the preview and build values and cannot read a production deployment', async () => {
      const prod = await start(member, 'alpha', { environment: 'production' });
      const prev = await start(member, 'alpha', { environment: 'preview', pr: 7 });
      assert.equal(prev.deployment.pr, 7);
      assert.equal(prev.project.app, 'alpha-pr-7');
      const r = await release(prev.token, prev.id);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { runtime: { DB_URL: VALUES.alphaPrevDb, PREVIEW_ONLY: VALUES.alphaPrevOnly }, build: { NPM_TOKEN: b64(VALUES.alphaBuild) } });
      for (const x of allForms([VALUES.alphaProdDb, VALUES.alphaProdKey])) assert.ok(!r.text.includes(x));

      // The preview token against the production deployment (same project): refused, no values.
      assertRefused(await release(prev.token, prod.id), 'preview token on a production deployment');
      assertRefused(await complete(prev.token, prod.id, 'failed'), 'preview token completing a production deployment');
      // … and the other way round.
      assertRefused(await release(prod.token, prev.id), 'production token on a preview deployment');
      // Both still work for their own deployment: the refusals changed nothing.
      assert.equal((await release(prod.token, prod.id)).status, 200);
      assert.equal((await complete(prev.token, prev.id, 'succeeded')).status, 200);
      assert.equal((await complete(prod.token, prod.id, 'succeeded')).status, 200);
    });

    test("a token cannot read, complete or start another project's deployment", async () => {
      const alpha = await start(member, 'alpha', { environment: 'preview', pr: 8 });
      const beta = await start(admin, 'beta', { environment: 'production' });
      assertRefused(await release(alpha.token, beta.id), 'alpha token on a beta deployment');
      assertRefused(await complete(alpha.token, beta.id, 'succeeded'), 'alpha token completing a beta deployment');
      assertRefused(await admin.with(alpha.token).post('/api/v1/projects/beta/deployments', { environment: 'production' }), 'alpha token starting in beta');
      assertRefused(
        await admin.with(alpha.token).post('/api/v1/projects/alpha/deployments', { environment: 'production' }),
        'a deploy token starting another deployment',
      );
      assertRefused(await admin.with(alpha.token).get('/api/v1/projects/beta/secrets'), 'alpha token listing beta secrets');
      assertRefused(await admin.with(alpha.token).get('/api/v1/projects/alpha/secrets'), 'a deploy token listing secrets');
      assertRefused(await admin.with(beta.token).get(`/api/v1/projects/alpha/deployments/${alpha.id}`), 'beta token showing an alpha deployment');
      // The beta deployment is untouched by the attempts.
      const still = await admin.get(`/api/v1/projects/beta/deployments/${beta.id}`);
      assert.equal(still.body.deployment.status, 'running');
      const r = await release(beta.token, beta.id);
      assert.deepEqual(r.body, { runtime: { DB_URL: VALUES.betaProdDb }, build: { NPM_TOKEN: b64(VALUES.betaBuild) } });
      await complete(alpha.token, alpha.id, 'succeeded');
      await complete(beta.token, beta.id, 'succeeded');
    });

    test('a token is refused after complete (succeeded or failed)', async () => {
      for (const status of ['succeeded', 'failed'] as const) {
        const s = await start(member, 'alpha', { environment: 'production' });
        assert.equal((await release(s.token, s.id)).status, 200);
        const c = await complete(s.token, s.id, status);
        assert.equal(c.status, 200, c.text);
        assert.equal(c.body.deployment.status, status);
        assert.ok(c.body.deployment.completedAt);
        const r = await release(s.token, s.id);
        assertRefused(r, `release after ${status}`);
        assert.equal(r.status, 401);
        assertRefused(await complete(s.token, s.id, 'succeeded'), `completing again after ${status}`);
        const shown = await admin.get(`/api/v1/projects/alpha/deployments/${s.id}`);
        assert.equal(shown.body.deployment.status, status);
      }
    });

    test('a token is refused after expiry, and the deployment becomes expired', async () => {
      const s = await start(member, 'alpha', { environment: 'production' });
      assert.equal((await release(s.token, s.id)).status, 200);
      expireDeployment(server, s.expiresAt);
      const r = await release(s.token, s.id);
      assertRefused(r, 'release after expiry');
      assert.equal(r.status, 401);
      assertRefused(await complete(s.token, s.id, 'succeeded'), 'complete after expiry');
      const shown = await admin.get(`/api/v1/projects/alpha/deployments/${s.id}`);
      assert.equal(shown.body.deployment.status, 'expired');
      const listed = await viewer.get('/api/v1/projects/alpha/deployments?environment=production');
      assert.equal(listed.body.deployments.find((x: { id: string }) => x.id === s.id)?.status, 'expired');
      // A person cannot complete an expired deployment either.
      const late = await member.post(`/api/v1/deployments/${s.id}/complete`, { status: 'succeeded' });
      assert.equal(late.status, 409, late.text);
    });

    test('a token is refused for any other deployment id', async () => {
      const s = await start(member, 'alpha', { environment: 'production' });
      const other = await start(member, 'alpha', { environment: 'production' });
      for (const id of [other.id, 'dep_doesnotexist', `${s.id}x`, s.id.toUpperCase(), 'x']) {
        if (id === s.id) continue;
        assertRefused(await release(s.token, id), `release of ${id}`);
        assertRefused(await complete(s.token, id, 'failed'), `complete of ${id}`);
      }
      // The other deployment is still running and its own token still works.
      assert.equal((await release(other.token, other.id)).status, 200);
      await complete(s.token, s.id, 'succeeded');
      await complete(other.token, other.id, 'succeeded');
    });

    test('no person and no deploy key receives values: personal tokens, no token, a wrong token', async () => {
      const s = await start(member, 'alpha', { environment: 'production' });
      const key = await admin.post('/api/v1/projects/alpha/deploy-keys', { name: 'ci' });
      assert.equal(key.status, 201, key.text);
      for (const [who, api] of [
        ['admin', admin],
        ['member', member],
        ['viewer', viewer],
        ['outsider', outsider],
        ['deploy key', admin.with(key.body.token)],
        ['no token', admin.with(undefined)],
        ['unknown deploy token', admin.with(`kldt_${randomBytes(32).toString('base64url')}`)],
        ['malformed', admin.with('not-a-token')],
      ] as const) {
        assertRefused(await api.get(`/api/v1/deployments/${s.id}/secrets`), `${who} reading a deployment's values`);
      }
      assert.equal((await release(s.token, s.id)).status, 200);
      await complete(s.token, s.id, 'succeeded');
    });

    test('environment and pr are validated, naming the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ environment: 'preview' }, 'pr'],
        [{ environment: 'production', pr: 3 }, 'pr'],
        [{ environment: 'staging' }, 'environment'],
        [{ environment: 'Production' }, 'environment'],
        [{}, 'environment'],
        [{ environment: 'preview', pr: 0 }, 'pr'],
        [{ environment: 'preview', pr: -1 }, 'pr'],
        [{ environment: 'preview', pr: 'abc' }, 'pr'],
        [{ environment: 'production', ref: 'a b;rm -rf' }, 'ref'],
      ];
      const before = (await admin.get('/api/v1/projects/alpha/deployments?limit=200')).body.deployments.length;
      for (const [body, field] of cases) {
        const r = await member.post('/api/v1/projects/alpha/deployments', body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.body.error.field, field, `${JSON.stringify(body)}: ${r.text}`);
        assert.match(r.body.error.message, new RegExp(field), r.text);
      }
      const afterCount = (await admin.get('/api/v1/projects/alpha/deployments?limit=200')).body.deployments.length;
      assert.equal(afterCount, before, 'no deployment was created by a refused start');
      const bad = await member.post('/api/v1/deployments/whatever/complete', { status: 'done' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'status');
    });

    test('a viewer cannot start a deployment (403); a non-member gets 404', async () => {
      const r = await viewer.post('/api/v1/projects/alpha/deployments', { environment: 'production' });
      assert.equal(r.status, 403, r.text);
      for (const [what, res] of [
        ['start', await outsider.post('/api/v1/projects/alpha/deployments', { environment: 'production' })],
        ['list', await outsider.get('/api/v1/projects/alpha/deployments')],
        ['close preview', await outsider.delete('/api/v1/projects/alpha/previews/7')],
        ['start in a missing project', await member.post('/api/v1/projects/nope/deployments', { environment: 'production' })],
      ] as const) {
        assert.equal(res.status, 404, `${what}: ${res.text}`);
      }
      // A non-member cannot complete (or learn about) a running deployment either; a viewer cannot complete it.
      const s = await start(member, 'alpha', { environment: 'production' });
      assert.equal((await outsider.post(`/api/v1/deployments/${s.id}/complete`, { status: 'failed' })).status, 404);
      assert.equal((await outsider.get(`/api/v1/projects/alpha/deployments/${s.id}`)).status, 404);
      assert.equal((await viewer.post(`/api/v1/deployments/${s.id}/complete`, { status: 'failed' })).status, 403);
      assert.equal((await admin.get(`/api/v1/projects/alpha/deployments/${s.id}`)).body.deployment.status, 'running');
      // A member may complete it (e.g. cleaning up after a crashed pipeline).
      const c = await member.post(`/api/v1/deployments/${s.id}/complete`, { status: 'failed' });
      assert.equal(c.status, 200, c.text);
      assertRefused(await release(s.token, s.id), 'release after a person completed it');
    });

    test('audit events for start, release (count and names) and completion, never a value', async () => {
      const s = await start(member, 'alpha', { environment: 'preview', pr: 9, ref: 'feature/x' });
      assert.equal((await release(s.token, s.id)).status, 200);
      assert.equal((await complete(s.token, s.id, 'failed')).status, 200);
      const audit = await viewer.get('/api/v1/projects/alpha/audit?limit=200');
      assert.equal(audit.status, 200, audit.text);
      const mine = (audit.body.events as Array<{ action: string; actor: string; detail: Record<string, unknown> | null }>).filter(
        (e) => e.detail?.deployment === s.id,
      );
      const byAction = new Map(mine.map((e) => [e.action, e]));
      const started = byAction.get('deployment.started');
      assert.ok(started, `no deployment.started event: ${JSON.stringify(mine)}`);
      assert.equal(started.actor.startsWith('member@example.com'), true, started.actor);
      assert.equal(started.detail!.environment, 'preview');
      assert.equal(started.detail!.pr, 9);
      const released = byAction.get('deployment.released');
      assert.ok(released, 'no deployment.released event');
      assert.equal(released.detail!.count, 3);
      assert.deepEqual(released.detail!.runtime, ['DB_URL', 'PREVIEW_ONLY']);
      assert.deepEqual(released.detail!.build, ['NPM_TOKEN']);
      assert.ok(byAction.get('deployment.failed'), 'no completion event');
      // Newest first: completion, release, start.
      assert.deepEqual(
        mine.map((e) => e.action),
        ['deployment.failed', 'deployment.released', 'deployment.started'],
      );
      for (const x of allForms(ALL_VALUES)) assert.ok(!audit.text.includes(x), 'the audit response contains a value');
    });

    test('release shapes: exact text values (PEM with trailing newline, unicode) and base64 of exact build bytes', async () => {
      const pem = `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`;
      const unicode = 'héllo wörld — 日本語 🚀 \u00a0 tab\there "quotes" \\ back\r\nCRLF\n\n';
      const binary = Buffer.from([0x00, 0xff, 0x00, 0x01, 0xfe, 0x80, 0x7f, 0x0a, 0x0d, 0xff, 0x00]);
      const spaced = '  leading and trailing spaces  ';
      const put = async (scope: string, name: string, body: Record<string, string>) => {
        const r = await admin.put(`/api/v1/projects/shapes/secrets/${scope}/${name}`, body);
        assert.ok(r.status === 201 || r.status === 200, r.text);
      };
      assert.equal((await admin.post('/api/v1/projects', { slug: 'shapes', name: 'Shapes' })).status, 201);
      await grantRelease(admin, 'shapes');
      await put('production', 'TLS_KEY', { value: pem });
      await put('production', 'GREETING', { value: unicode });
      await put('production', 'SPACED', { value: spaced });
      await put('production', 'EMPTY_NEWLINE', { value: '\n' });
      await put('build', 'BINARY_BLOB', { valueBase64: binary.toString('base64') });
      await put('build', 'TEXT_BUILD', { value: pem });
      const s = await start(admin, 'shapes', { environment: 'production' });
      const r = await release(s.token, s.id);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('content-type')?.startsWith('application/json'), true);
      assert.match(r.headers.get('cache-control') ?? '', /no-store/, 'a release must not be cached');
      assert.deepEqual(Object.keys(r.body).sort(), ['build', 'runtime']);
      assert.strictEqual(r.body.runtime.TLS_KEY, pem);
      assert.ok(r.body.runtime.TLS_KEY.endsWith('-----\n'));
      assert.strictEqual(r.body.runtime.GREETING, unicode);
      assert.strictEqual(r.body.runtime.SPACED, spaced);
      assert.strictEqual(r.body.runtime.EMPTY_NEWLINE, '\n');
      assert.deepEqual(Object.keys(r.body.runtime).sort(), ['EMPTY_NEWLINE', 'GREETING', 'SPACED', 'TLS_KEY']);
      assert.strictEqual(r.body.build.BINARY_BLOB, binary.toString('base64'));
      assert.deepEqual(Buffer.from(r.body.build.BINARY_BLOB, 'base64'), binary);
      assert.deepEqual(Buffer.from(r.body.build.TEXT_BUILD, 'base64'), Buffer.from(pem, 'utf8'));
      await complete(s.token, s.id, 'succeeded');
    });

    test('concurrent starts, releases and completions: each deployment ends once, with one completion event', async () => {
      const started = await Promise.all(
        Array.from({ length: 8 }, (_, i) => start(member, 'alpha', i % 2 ? { environment: 'preview', pr: 100 + i } : { environment: 'production' })),
      );
      assert.equal(new Set(started.map((s) => s.id)).size, 8);
      assert.equal(new Set(started.map((s) => s.token)).size, 8);
      const released = await Promise.all(started.map((s) => release(s.token, s.id)));
      for (const r of released) assert.equal(r.status, 200, r.text);
      // Race a success and a failure (and the key of another deployment) for each deployment.
      const outcomes = await Promise.all(
        started.map(async (s, i) => {
          const [a, b, c] = await Promise.all([
            complete(s.token, s.id, 'succeeded'),
            complete(s.token, s.id, 'failed'),
            complete(started[(i + 1) % 8]!.token, s.id, 'failed'),
          ]);
          return { s, a, b, c };
        }),
      );
      for (const { s, a, b, c } of outcomes) {
        const wins = [a, b].filter((r) => r.status === 200);
        assert.equal(wins.length, 1, `exactly one completion wins: ${a.status} ${b.status}`);
        for (const r of [a, b]) if (r.status !== 200) assert.ok([401, 409].includes(r.status), r.text);
        assert.ok([401, 404].includes(c.status), `another deployment's token: ${c.status} ${c.text}`);
        const shown = await admin.get(`/api/v1/projects/alpha/deployments/${s.id}`);
        assert.equal(shown.body.deployment.status, wins[0]!.body.deployment.status);
      }
      const audit = await admin.get('/api/v1/projects/alpha/audit?limit=200');
      for (const { s } of outcomes) {
        const done = (audit.body.events as Array<{ action: string; detail: { deployment?: string } | null }>).filter(
          (e) => e.detail?.deployment === s.id && (e.action === 'deployment.succeeded' || e.action === 'deployment.failed'),
        );
        assert.equal(done.length, 1, `completion events for ${s.id}: ${done.length}`);
      }
      for (const pr of [101, 103, 105, 107]) assert.equal((await admin.delete(`/api/v1/projects/alpha/previews/${pr}`)).status, 204);
    });

    test("deleting a project ends its deployments' tokens and its deploy keys", async () => {
      const secrets = [{ name: 'DOOMED', scope: 'production', value: VALUES.alphaProdDb }];
      assert.equal((await admin.post('/api/v1/projects', { slug: 'doomed', name: 'Doomed', secrets })).status, 201);
      await grantRelease(admin, 'doomed');
      const key = await admin.post('/api/v1/projects/doomed/deploy-keys', { name: 'ci' });
      const s = await start(admin.with(key.body.token), 'doomed', { environment: 'production' });
      assert.equal((await release(s.token, s.id)).status, 200);
      assert.equal((await admin.delete('/api/v1/projects/doomed?confirm=doomed')).status, 204);
      assertRefused(await release(s.token, s.id), 'release after the project was deleted');
      assertRefused(await complete(s.token, s.id, 'succeeded'), 'complete after the project was deleted');
      // A new project with the same slug is not reachable with the old key or token.
      assert.equal((await admin.post('/api/v1/projects', { slug: 'doomed', name: 'Reborn', secrets })).status, 201);
      assertRefused(
        await admin.with(key.body.token).post('/api/v1/projects/doomed/deployments', { environment: 'production' }),
        'the old deploy key on a new project with the same slug',
      );
      assertRefused(await release(s.token, s.id), 'the old token after the slug was reused');
    });

    test('pinned lists, released maps and the release audit list names in code point order', async () => {
      const names = ['alpha', 'Beta', '_x', 'ZED', 'a_b', 'aB', 'Z9', 'a'];
      const sorted = [...names].sort(); // code unit order: Beta, Z9, ZED, _x, a, aB, a_b, alpha
      const secrets = names.map((name) => ({ name, scope: 'production', value: `order-${name}` }));
      assert.equal((await admin.post('/api/v1/projects', { slug: 'order', name: 'Order', secrets })).status, 201);
      await grantRelease(admin, 'order');
      const s = await start(admin, 'order', { environment: 'production' });
      assert.deepEqual(
        s.pinned.runtime.map((p) => p.name),
        sorted,
      );
      const shown = await admin.get(`/api/v1/projects/order/deployments/${s.id}`);
      assert.deepEqual(
        shown.body.pinned.runtime.map((p: { name: string }) => p.name),
        sorted,
      );
      const r = await release(s.token, s.id);
      assert.deepEqual(Object.keys(r.body.runtime), sorted);
      const audit = await admin.get('/api/v1/projects/order/audit?action=deployment.released');
      assert.deepEqual(audit.body.events[0].detail.runtime, sorted);
      await complete(s.token, s.id, 'succeeded');
    });

    test('no response other than a release ever carried a value', () => {
      const isRelease = (t: string) => {
        try {
          const o = JSON.parse(t) as Record<string, unknown>;
          return Object.keys(o).sort().join(',') === 'build,runtime';
        } catch {
          return false;
        }
      };
      let checked = 0;
      for (const text of seenBodies) {
        if (isRelease(text)) continue;
        checked++;
        for (const x of allForms(ALL_VALUES)) assert.ok(!text.includes(x), `a non-release response contains a value: ${text.slice(0, 200)}`);
      }
      assert.ok(checked > 20);
    });
  });
}
