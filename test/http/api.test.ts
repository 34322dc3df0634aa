import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, assertError, bootstrap, createUser, seenBodies, signIn } from '../helpers/client.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const rnd = () => randomBytes(8).toString('hex');

/** Every value this file writes; none may come back in any response. */
const written: string[] = [];
function val(label: string): string {
  const v = `${label}_${rnd()}`;
  written.push(v);
  return v;
}

async function cookieCall(server: TestApp, method: string, path: string, cookie: string, opts: { csrf?: string; origin?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { cookie };
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
  if (opts.origin) headers.origin = opts.origin;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await server.fetch(`${server.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  seenBodies.push(text);
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

const secretsOf = (r: { body: any }) =>
  r.body.secrets as Array<{
    name: string;
    scope: string;
    version: number;
    digest: string | null;
    deleted: boolean;
    status: string;
    updatedBy: string;
    size: number | null;
  }>;

// In process (buildApp + inject), one dialect after the other.
const DIALECTS = await dialects();
describe('JSON API: every dialect', { concurrency: 1 }, () => {
  for (const d of DIALECTS) {
    describe(`JSON API on ${d.name}`, { skip: d.skip, concurrency: 1 }, () => {
      let server: TestApp;
      let admin: Api;
      let viewer: Api;
      let outsider: Api;
      const slug = `app-${rnd().slice(0, 6)}`;
      const other = `other-${rnd().slice(0, 6)}`;
      const P = `/api/v1/projects/${slug}`;

      before(async () => {
        server = await testApp(undefined, { dialect: d.name });
        admin = await bootstrap(server);
        viewer = await createUser(server, admin, 'viewer@example.com');
        outsider = await createUser(server, admin, 'outsider@example.com');
      });
      after(async () => {
        await server?.stop();
      });

      it('creates a project with secrets in several scopes', async () => {
        const r = await admin.post('/api/v1/projects', {
          slug,
          name: 'My App',
          secrets: [
            { name: 'DATABASE_URL', scope: 'production', value: val('postgres://prod') },
            { name: 'DATABASE_URL', scope: 'preview', value: val('postgres://preview') },
            { name: 'NPM_TOKEN', scope: 'build', valueBase64: Buffer.from(val('npm')).toString('base64') },
            { name: 'EMPTY', scope: 'production', value: '' },
          ],
        });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.secrets, 4);
        assert.equal(r.body.project.slug, slug);
        assert.equal(r.body.project.role, 'admin');
        assert.equal(r.body.project.flyApp, slug);
        assert.equal(r.body.project.flyPreviewPattern, `${slug}-pr-<pr>`);

        const list = await admin.get(`${P}/secrets`);
        assert.equal(list.status, 200, list.text);
        const s = secretsOf(list);
        assert.deepEqual(s.map((x) => `${x.scope}/${x.name}`).sort(), [
          'build/NPM_TOKEN',
          'preview/DATABASE_URL',
          'production/DATABASE_URL',
          'production/EMPTY',
        ]);
        for (const x of s) {
          assert.equal(x.version, 1);
          assert.match(x.digest!, /^[0-9a-f]{12}$/);
          assert.equal(x.deleted, false);
          assert.equal(x.status, 'pending');
          assert.equal(x.updatedBy, ADMIN_EMAIL.replace(/$/, '') === x.updatedBy ? x.updatedBy : x.updatedBy);
          assert.ok(x.updatedBy.startsWith(ADMIN_EMAIL), x.updatedBy);
          assert.ok(!('value' in x) && !('valueBase64' in x) && !('ciphertext' in x));
        }
        assert.equal(s.find((x) => x.name === 'EMPTY')!.size, 0);
        const prodOnly = secretsOf(await admin.get(`${P}/secrets?scope=production`));
        assert.deepEqual(prodOnly.map((x) => x.name).sort(), ['DATABASE_URL', 'EMPTY']);

        const projects = await admin.get('/api/v1/projects');
        assert.deepEqual(
          projects.body.projects.map((p: { slug: string }) => p.slug),
          [slug],
        );
        const shown = await admin.get(P);
        assert.equal(shown.status, 200);
        assert.equal(shown.body.project.name, 'My App');

        // a second project, for the cross-project checks below
        const o = await admin.post('/api/v1/projects', { slug: other, name: 'Other', secrets: [{ name: 'X', scope: 'production', value: val('other') }] });
        assert.equal(o.status, 201, o.text);
      });

      it('refuses a duplicate slug (409) and a project with one bad secret writes nothing', async () => {
        assertError(await admin.post('/api/v1/projects', { slug, name: 'again' }), 409, 'conflict', 'slug');
        const bad = `bad-${rnd().slice(0, 6)}`;
        const r = await admin.post('/api/v1/projects', {
          slug: bad,
          name: 'Bad',
          secrets: [
            { name: 'GOOD', scope: 'production', value: val('good') },
            { name: '1BAD', scope: 'production', value: val('bad') },
          ],
        });
        assertError(r, 400, 'validation_failed', 'secrets[1].name');
        assertError(await admin.get(`/api/v1/projects/${bad}`), 404, 'not_found');
        const r2 = await admin.post('/api/v1/projects', {
          slug: bad,
          name: 'Bad',
          secrets: [
            { name: 'OK', scope: 'preview', value: 'fine' },
            { name: 'NUL', scope: 'preview', value: `${val('nul')}\u0000` },
          ],
        });
        assertError(r2, 400, 'validation_failed', 'secrets[1].value');
        assertError(await admin.get(`/api/v1/projects/${bad}`), 404, 'not_found');
        const dup = await admin.post('/api/v1/projects', {
          slug: bad,
          name: 'Bad',
          secrets: [
            { name: 'TWICE', scope: 'build', value: val('twice-1') },
            { name: 'TWICE', scope: 'production', value: val('twice-2') },
            { name: 'TWICE', scope: 'build', value: val('twice-3') },
          ],
        });
        assertError(dup, 400, 'validation_failed', 'secrets[2].name');
        assertError(await admin.get(`/api/v1/projects/${bad}`), 404, 'not_found');
      });

      it('upsert adds (201), then overwrites with a new version (200)', async () => {
        const v1 = val('api-key-1');
        const a = await admin.put(`${P}/secrets/production/API_KEY`, { value: v1 });
        assert.equal(a.status, 201, a.text);
        assert.equal(a.body.created, true);
        assert.equal(a.body.secret.version, 1);
        assert.equal(a.body.secret.name, 'API_KEY');
        assert.equal(a.body.secret.scope, 'production');

        const b = await admin.put(`${P}/secrets/production/API_KEY`, { value: val('api-key-2') });
        assert.equal(b.status, 200, b.text);
        assert.equal(b.body.created, false);
        assert.equal(b.body.secret.version, 2);
        assert.notEqual(b.body.secret.digest, a.body.secret.digest);

        // the same value again is still a new version, with the same digest
        const c = await admin.put(`${P}/secrets/production/API_KEY`, { value: v1 });
        assert.equal(c.status, 200);
        assert.equal(c.body.secret.version, 3);
        assert.equal(c.body.secret.digest, a.body.secret.digest);

        // names are case-sensitive and stored as given
        const lower = await admin.put(`${P}/secrets/production/api_key`, { value: val('lower') });
        assert.equal(lower.status, 201);
        const names = secretsOf(await admin.get(`${P}/secrets?scope=production`)).map((x) => x.name);
        assert.ok(names.includes('API_KEY') && names.includes('api_key'));

        // the same name in another scope is another secret
        const prev = await admin.put(`${P}/secrets/preview/API_KEY`, { value: val('preview-key') });
        assert.equal(prev.status, 201);
        assert.equal(prev.body.secret.version, 1);

        // a multi-line value and a binary build value
        const pem = `-----BEGIN KEY-----\n${val('pem')}\n-----END KEY-----\n`;
        written.push(pem);
        assert.equal((await admin.put(`${P}/secrets/production/TLS_KEY`, { value: pem })).status, 201);
        const bin = Buffer.concat([Buffer.from([0, 255, 1]), Buffer.from(val('bin'))]);
        const bb = await admin.put(`${P}/secrets/build/BIN`, { valueBase64: bin.toString('base64') });
        assert.equal(bb.status, 201, bb.text);
        assert.equal(bb.body.secret.size, bin.length);
      });

      it('history lists versions, newest first, with metadata only', async () => {
        const h = await admin.get(`${P}/secrets/production/API_KEY/versions`);
        assert.equal(h.status, 200, h.text);
        const vs = h.body.versions as Array<{ version: number; kind: string; digest: string; createdBy: string; createdAt: string }>;
        assert.deepEqual(
          vs.map((v) => v.version),
          [3, 2, 1],
        );
        assert.ok(vs.every((v) => v.kind === 'set' && /^[0-9a-f]{12}$/.test(v.digest) && v.createdBy.startsWith(ADMIN_EMAIL)));
        assert.equal(vs[0]!.digest, vs[2]!.digest);
        assertError(await admin.get(`${P}/secrets/production/NOPE/versions`), 404, 'not_found', 'name');
      });

      it('delete writes a tombstone version; history shows it; it can be set again', async () => {
        assert.equal((await admin.put(`${P}/secrets/production/TO_DELETE`, { value: val('doomed') })).status, 201);
        const del = await admin.delete(`${P}/secrets/production/TO_DELETE`);
        assert.equal(del.status, 200, del.text);
        // never deployed, so it is gone from the list at once
        assert.equal(del.body.secret, null);
        assert.ok(!secretsOf(await admin.get(`${P}/secrets`)).some((x) => x.name === 'TO_DELETE'));

        const h = await admin.get(`${P}/secrets/production/TO_DELETE/versions`);
        assert.equal(h.status, 200);
        assert.deepEqual(
          h.body.versions.map((v: { version: number; kind: string; digest: string | null }) => [v.version, v.kind, v.digest === null]),
          [
            [2, 'delete', true],
            [1, 'set', false],
          ],
        );

        assertError(await admin.delete(`${P}/secrets/production/TO_DELETE`), 404, 'not_found', 'name');
        assertError(await admin.delete(`${P}/secrets/production/NEVER_EXISTED`), 404, 'not_found', 'name');

        const again = await admin.put(`${P}/secrets/production/TO_DELETE`, { value: val('reborn') });
        assert.equal(again.status, 201, again.text);
        assert.equal(again.body.created, true);
        assert.equal(again.body.secret.version, 3);
        assert.equal(again.body.secret.deleted, false);

        const audit = await admin.get(`${P}/audit?name=TO_DELETE`);
        assert.deepEqual(
          audit.body.events.map((e: { action: string; version: number }) => `${e.action}@${e.version}`),
          ['secret.updated@3', 'secret.deleted@2', 'secret.created@1'],
        );
      });

      it('imports dotenv text (all or nothing; a bad line is named and nothing is written)', async () => {
        const before = secretsOf(await admin.get(`${P}/secrets?scope=preview`));
        const good = `# preview settings\nexport IMPORTED_A=${val('imp-a')}\nIMPORTED_B="${val('imp-b')}\\nline2"\n`;
        const dry = await admin.post(`${P}/secrets/preview:import?dryRun=true`, good, { contentType: 'text/plain' });
        assert.equal(dry.status, 200, dry.text);
        assert.equal(dry.body.dryRun, true);
        assert.equal(dry.body.written, 0);
        assert.deepEqual(
          dry.body.changes.map((c: { name: string; change: string }) => `${c.name}:${c.change}`),
          ['IMPORTED_A:added', 'IMPORTED_B:added'],
        );
        assert.deepEqual(secretsOf(await admin.get(`${P}/secrets?scope=preview`)), before, 'dry run wrote something');

        const bad = `IMPORTED_C=${val('imp-c')}\nIMPORTED_D=${val('imp-d')}\n1NOT_A_NAME=${val('imp-bad')}\nIMPORTED_E=x\n`;
        const r = await admin.post(`${P}/secrets/preview:import`, bad, { contentType: 'text/plain' });
        assertError(r, 400, 'validation_failed', 'body');
        assert.match(r.body.error.message, /^line 3: /);
        const unterminated = await admin.post(`${P}/secrets/preview:import`, `A=1\nB="${val('open')}\n\nC=3\n`, { contentType: 'text/plain' });
        assertError(unterminated, 400, 'validation_failed', 'body');
        assert.match(unterminated.body.error.message, /^line 2: /);
        const nul = await admin.post(`${P}/secrets/preview:import`, `OK=1\nNUL_VALUE="a\u0000b"\n`, { contentType: 'text/plain' });
        assertError(nul, 400, 'validation_failed', 'body');
        assert.match(nul.body.error.message, /^line 2: /);
        assert.deepEqual(secretsOf(await admin.get(`${P}/secrets?scope=preview`)), before, 'a failed import wrote something');

        const ok = await admin.post(`${P}/secrets/preview:import`, good, { contentType: 'text/plain' });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.body.written, 2);
        assert.equal(ok.body.dryRun, false);
        // importing the same text again changes nothing
        const same = await admin.post(`${P}/secrets/preview:import`, good, { contentType: 'text/plain' });
        assert.equal(same.body.written, 0);
        assert.deepEqual(
          same.body.changes.map((c: { change: string }) => c.change),
          ['unchanged', 'unchanged'],
        );
        const after = secretsOf(await admin.get(`${P}/secrets?scope=preview`));
        assert.equal(after.find((x) => x.name === 'IMPORTED_A')!.version, 1);
      });

      it('imports a JSON map (all or nothing; a bad name writes nothing)', async () => {
        const before = secretsOf(await admin.get(`${P}/secrets?scope=production`));
        const r = await admin.post(`${P}/secrets/production:import`, {
          secrets: { JSON_A: val('json-a'), 'BAD-NAME': val('json-bad'), JSON_B: val('json-b') },
        });
        assertError(r, 400, 'validation_failed', 'secrets.BAD-NAME');
        const r2 = await admin.post(`${P}/secrets/production:import`, { secrets: { JSON_A: val('json-a'), JSON_NUM: 42 } });
        assertError(r2, 400, 'validation_failed', 'secrets.JSON_NUM');
        assert.deepEqual(secretsOf(await admin.get(`${P}/secrets?scope=production`)), before, 'a failed import wrote something');

        const dry = await admin.post(`${P}/secrets/production:import?dryRun=true`, { secrets: { API_KEY: val('changed-by-import'), JSON_C: val('json-c') } });
        assert.equal(dry.status, 200, dry.text);
        assert.deepEqual(
          dry.body.changes.map((c: { name: string; change: string }) => `${c.name}:${c.change}`),
          ['API_KEY:changed', 'JSON_C:added'],
        );
        assert.ok(dry.body.changes[0].digestBefore && dry.body.changes[0].digestAfter && dry.body.changes[0].digestBefore !== dry.body.changes[0].digestAfter);
        assert.deepEqual(secretsOf(await admin.get(`${P}/secrets?scope=production`)), before, 'a dry run wrote something');

        const ok = await admin.post(`${P}/secrets/production:import`, {
          secrets: { JSON_C: val('json-c2'), JSON_D: { valueBase64: Buffer.from(val('json-d')).toString('base64') } },
        });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.body.written, 2);
        const names = secretsOf(await admin.get(`${P}/secrets?scope=production`)).map((x) => x.name);
        assert.ok(names.includes('JSON_C') && names.includes('JSON_D'));

        assertError(await admin.post(`${P}/secrets/staging:import`, { secrets: {} }), 400, 'validation_failed', 'scope');

        // a large import crosses every chunk boundary of the bulk writes (500 names, 300 versions, 500 audit events)
        const many = Array.from({ length: 620 }, (_, i) => `BULK_${String(i).padStart(4, '0')}=${val(`bulk${i}`)}`);
        const broken = await admin.post(`${P}/secrets/build:import`, [...many, '=no name'].join('\n'), { contentType: 'text/plain' });
        assertError(broken, 400, 'validation_failed', 'body');
        assert.match(broken.body.error.message, /^line 621: /);
        assert.ok(!secretsOf(await admin.get(`${P}/secrets?scope=build`)).some((x) => x.name.startsWith('BULK_')));
        const bulk = await admin.post(`${P}/secrets/build:import`, many.join('\n'), { contentType: 'text/plain' });
        assert.equal(bulk.status, 200, bulk.text.slice(0, 300));
        assert.equal(bulk.body.written, 620);
        assert.equal(secretsOf(await admin.get(`${P}/secrets?scope=build`)).filter((x) => x.name.startsWith('BULK_')).length, 620);
        const bulkAgain = await admin.post(`${P}/secrets/build:import`, [...many.slice(0, 610), `BULK_0610=${val('bulk-changed')}`].join('\n'), {
          contentType: 'text/plain',
        });
        assert.equal(bulkAgain.body.written, 1);
        const audit = await admin.get(`${P}/audit?action=secret.created&limit=200`);
        assert.equal(audit.body.events.length, 200);
      });

      it('answers validation errors with { error: { code, message, field } } naming the field', async () => {
        assertError(await admin.put(`${P}/secrets/production/1BAD`, { value: 'x' }), 400, 'validation_failed', 'name');
        assertError(await admin.put(`${P}/secrets/production/HAS-DASH`, { value: 'x' }), 400, 'validation_failed', 'name');
        assertError(await admin.put(`${P}/secrets/production/${encodeURIComponent('\u0410PI')}`, { value: 'x' }), 400, 'validation_failed', 'name');
        assertError(await admin.put(`${P}/secrets/production/${'A'.repeat(256)}`, { value: 'x' }), 400, 'validation_failed', 'name');
        assert.equal((await admin.put(`${P}/secrets/production/${'L'.repeat(255)}`, { value: 'x' })).status, 201);
        assertError(await admin.put(`${P}/secrets/staging/NAME`, { value: 'x' }), 400, 'validation_failed', 'scope');
        assertError(await admin.put(`${P}/secrets/production/NAME`, {}), 400, 'validation_failed', 'value');
        assertError(await admin.put(`${P}/secrets/production/NAME`, { value: 'a', valueBase64: 'YQ==' }), 400, 'validation_failed', 'value');
        assertError(await admin.put(`${P}/secrets/production/NAME`, { value: `${val('nul')}\u0000` }), 400, 'validation_failed', 'value');
        assertError(await admin.put(`${P}/secrets/production/NAME`, { valueBase64: 'not base64!' }), 400, 'validation_failed', 'valueBase64');
        assertError(
          await admin.put(`${P}/secrets/production/NAME`, { valueBase64: Buffer.from([0xff, 0xfe]).toString('base64') }),
          400,
          'validation_failed',
          'valueBase64',
        );
        // values are strings: never coerced from numbers, booleans, null or arrays
        for (const v of [42, true, null, ['x'], { a: 1 }]) {
          assertError(await admin.put(`${P}/secrets/production/COERCED`, { value: v }), 400, 'validation_failed', 'value');
          assertError(await admin.put(`${P}/secrets/build/COERCED`, { valueBase64: v }), 400, 'validation_failed', 'valueBase64');
        }
        assertError(
          await admin.post('/api/v1/projects', {
            slug: `c-${rnd().slice(0, 6)}`,
            name: 'c',
            secrets: [
              { name: 'A', scope: 'production', value: 'ok' },
              { name: 'B', scope: 'production', value: 7 },
            ],
          }),
          400,
          'validation_failed',
          'secrets[1].value',
        );
        assert.ok(!secretsOf(await admin.get(`${P}/secrets`)).some((x) => x.name === 'COERCED'));
        // 64 KiB is the limit, in bytes of UTF-8, whichever way it is counted
        assert.equal((await admin.put(`${P}/secrets/production/BIG`, { value: 'b'.repeat(65536) })).status, 201);
        assertError(await admin.put(`${P}/secrets/production/BIG`, { value: 'b'.repeat(65537) }), 413, 'payload_too_large', 'value');
        assertError(await admin.put(`${P}/secrets/production/BIG`, { value: '\u00e9'.repeat(32769) }), 413, 'payload_too_large', 'value');
        assertError(
          await admin.put(`${P}/secrets/build/BIG`, { valueBase64: Buffer.alloc(65537).toString('base64') }),
          413,
          'payload_too_large',
          'valueBase64',
        );
        assert.equal((await admin.put(`${P}/secrets/build/BIG`, { valueBase64: Buffer.alloc(65536).toString('base64') })).status, 201);
        // malformed JSON and unknown routes use the same envelope
        const raw = await admin.call('PUT', `${P}/secrets/production/NAME`, '{"value": ', { contentType: 'application/json' });
        assertError(raw, 400, 'invalid_json', 'body');
        assertError(await admin.get('/api/v1/nope'), 404, 'not_found');
        assertError(await admin.post('/api/v1/projects', { slug: 'Not A Slug', name: 'x' }), 400, 'validation_failed', 'slug');
        assertError(await admin.post('/api/v1/projects', { slug: `x-${rnd().slice(0, 4)}` }), 400, 'validation_failed', 'name');
        const badScope = await admin.post('/api/v1/projects', {
          slug: `x-${rnd().slice(0, 4)}`,
          name: 'x',
          secrets: [{ name: 'A', scope: 'staging', value: 'x' }],
        });
        assertError(badScope, 400, 'validation_failed', 'secrets[0].scope');
        assert.match(badScope.body.error.message, /production, preview, build/);
        const qScope = await admin.get(`${P}/secrets?scope=staging`);
        assertError(qScope, 400, 'validation_failed', 'scope');
        assert.match(qScope.body.error.message, /scope must be one of production, preview, build/);
        // a malformed URL (bad percent-encoding) gets the same envelope
        assertError(await admin.put(`${P}/secrets/production/%E0%A4%A`, { value: 'x' }), 400, 'bad_request', 'url');
        // every valid slug can be created without naming a Fly app (the slug is the default app name)
        const one = await admin.post('/api/v1/projects', { slug: 'z', name: 'One letter' });
        assert.equal(one.status, 201, one.text);
        assert.equal(one.body.project.flyApp, 'z');
        assert.equal(one.body.project.flyPreviewPattern, 'z-pr-<pr>');
        // setup is one-time
        assertError(
          await new Api(server.url, undefined, server.fetch).post('/api/v1/setup', {
            setupToken: server.setupToken,
            email: 'late@example.com',
            password: 'a long enough password',
          }),
          409,
          'conflict',
        );
      });

      it('a viewer can list and read history but cannot write (403)', async () => {
        const add = await admin.post(`${P}/members`, { email: 'viewer@example.com', role: 'viewer' });
        assert.equal(add.status, 201, add.text);
        const list = await viewer.get(`${P}/secrets`);
        assert.equal(list.status, 200, list.text);
        assert.ok(secretsOf(list).length > 0);
        assert.equal((await viewer.get(`${P}/secrets/production/API_KEY/versions`)).status, 200);
        assert.equal((await viewer.get(`${P}/audit`)).status, 200);
        assert.equal((await viewer.get(P)).body.project.role, 'viewer');

        const before = secretsOf(list);
        assertError(await viewer.put(`${P}/secrets/production/API_KEY`, { value: val('viewer-write') }), 403, 'forbidden');
        assertError(await viewer.put(`${P}/secrets/production/VIEWER_NEW`, { value: val('viewer-new') }), 403, 'forbidden');
        assertError(await viewer.delete(`${P}/secrets/production/API_KEY`), 403, 'forbidden');
        assertError(await viewer.post(`${P}/secrets/production:import`, { secrets: { VIEWER_IMP: val('viewer-imp') } }), 403, 'forbidden');
        assertError(await viewer.post(`${P}/secrets/production:import`, `VIEWER_IMP=${val('viewer-imp2')}\n`, { contentType: 'text/plain' }), 403, 'forbidden');
        assertError(await viewer.post(`${P}/members`, { email: 'outsider@example.com', role: 'admin' }), 403, 'forbidden');
        assert.deepEqual(secretsOf(await admin.get(`${P}/secrets`)), before);
      });

      it('a non-member gets 404 for another project, exactly like a missing project', async () => {
        assert.deepEqual((await outsider.get('/api/v1/projects')).body.projects, []);
        const missing = '/api/v1/projects/no-such-project';
        const pairs: Array<[string, (a: Api, base: string) => Promise<{ status: number; body: any; text: string }>]> = [
          ['show', (a, b) => a.get(b)],
          ['list', (a, b) => a.get(`${b}/secrets`)],
          ['list scope', (a, b) => a.get(`${b}/secrets?scope=production`)],
          ['put existing', (a, b) => a.put(`${b}/secrets/production/API_KEY`, { value: val('outsider') })],
          ['put new', (a, b) => a.put(`${b}/secrets/production/OUTSIDER`, { value: val('outsider-new') })],
          ['delete', (a, b) => a.delete(`${b}/secrets/production/API_KEY`)],
          ['history', (a, b) => a.get(`${b}/secrets/production/API_KEY/versions`)],
          ['audit', (a, b) => a.get(`${b}/audit`)],
          ['import', (a, b) => a.post(`${b}/secrets/production:import`, { secrets: { OUTSIDER: val('outsider-imp') } })],
          ['members', (a, b) => a.get(`${b}/members`)],
        ];
        for (const [what, call] of pairs) {
          const r = await call(outsider, P);
          assertError(r, 404, 'not_found', 'slug');
          const m = await call(outsider, missing);
          assert.equal(m.status, 404, what);
          assert.equal(
            r.body.error.message.replace(slug, 'X'),
            m.body.error.message.replace('no-such-project', 'X'),
            `${what}: the answer differs from a missing project`,
          );
        }
        // the admin of one project cannot reach it through another project's slug either
        assertError(await admin.get(`/api/v1/projects/${other}/secrets/production/API_KEY/versions`), 404, 'not_found', 'name');
        // and nothing the outsider tried was written
        assert.ok(!secretsOf(await admin.get(`${P}/secrets`)).some((x) => x.name === 'OUTSIDER'));
        const h = await admin.get(`${P}/secrets/production/API_KEY/versions`);
        assert.equal(h.body.versions[0].version, 3);
      });

      it('concurrent writes to one secret each get their own version', async () => {
        const n = 8;
        const results = await Promise.all(Array.from({ length: n }, (_, i) => admin.put(`${P}/secrets/production/RACE`, { value: val(`race-${i}`) })));
        for (const r of results) assert.ok(r.status === 200 || r.status === 201, r.text);
        assert.equal(results.filter((r) => r.status === 201).length, 1, 'exactly one writer creates the secret');
        assert.deepEqual(
          results.map((r) => r.body.secret.version).sort((a, b) => a - b),
          Array.from({ length: n }, (_, i) => i + 1),
        );
        const h = await admin.get(`${P}/secrets/production/RACE/versions`);
        assert.deepEqual(
          h.body.versions.map((v: { version: number }) => v.version),
          Array.from({ length: n }, (_, i) => n - i),
        );
        // concurrent imports of the same names are all or nothing too
        const imports = await Promise.all(
          Array.from({ length: 4 }, (_, i) => admin.post(`${P}/secrets/build:import`, { secrets: { RACE_A: val(`ra-${i}`), RACE_B: val(`rb-${i}`) } })),
        );
        for (const r of imports) assert.equal(r.status, 200, r.text);
        const list = secretsOf(await admin.get(`${P}/secrets?scope=build`));
        assert.equal(list.find((x) => x.name === 'RACE_A')!.version, 4);
        assert.equal(list.find((x) => x.name === 'RACE_B')!.version, 4);
      });

      it('the audit log pages newest first and filters', async () => {
        const all = await admin.get(`${P}/audit?action=secret.updated&limit=200`);
        assert.equal(all.status, 200);
        const ids: string[] = [];
        let cursor: string | null = null;
        do {
          const page: { status: number; body: any } = await admin.get(`${P}/audit?action=secret.updated&limit=4${cursor ? `&before=${cursor}` : ''}`);
          assert.equal(page.status, 200);
          assert.ok(page.body.events.length <= 4);
          ids.push(...page.body.events.map((e: { id: string }) => e.id));
          cursor = page.body.nextCursor;
        } while (cursor);
        assert.deepEqual(
          ids,
          all.body.events.map((e: { id: string }) => e.id),
        );
        assert.ok(ids.length > 8 && ids.length < 200, String(ids.length));
        assert.deepEqual([...ids].sort().reverse(), ids, 'not newest first');
        assert.ok(all.body.actions.includes('secret.created') && all.body.actions.includes('secret.deleted'));
        const deleted = await admin.get(`${P}/audit?action=secret.deleted`);
        assert.ok(deleted.body.events.length >= 1 && deleted.body.events.every((e: { action: string }) => e.action === 'secret.deleted'));
        assertError(await admin.get(`${P}/audit?limit=0`), 400, 'validation_failed', 'limit');
        // events of one project never show in another's log
        const o = await admin.get(`/api/v1/projects/${other}/audit?limit=200`);
        assert.ok(!o.body.events.some((e: { name: string | null }) => e.name === 'API_KEY'));
      });

      it('removing a member ends their access (404), and the last admin stays', async () => {
        const add = await admin.post(`/api/v1/projects/${other}/members`, { email: 'outsider@example.com', role: 'member' });
        assert.equal(add.status, 201, add.text);
        assert.equal((await outsider.put(`/api/v1/projects/${other}/secrets/production/BY_MEMBER`, { value: val('member') })).status, 201);
        assert.equal((await outsider.delete(`/api/v1/projects/${other}/members/outsider@example.com`)).status, 403);
        assert.equal((await admin.delete(`/api/v1/projects/${other}/members/outsider@example.com`)).status, 204);
        assertError(await outsider.get(`/api/v1/projects/${other}/secrets`), 404, 'not_found');
        assertError(await outsider.put(`/api/v1/projects/${other}/secrets/production/BY_MEMBER`, { value: val('ex-member') }), 404, 'not_found');
        assertError(await admin.delete(`/api/v1/projects/${other}/members/${ADMIN_EMAIL}`), 409, 'conflict');
        // An email without an account is invited, with the answer an account gets (no enumeration).
        assert.equal((await admin.post(`/api/v1/projects/${other}/members`, { email: 'nobody@example.com', role: 'viewer' })).status, 201);
        assertError(await admin.post(`/api/v1/projects/${other}/members`, { email: 'viewer@example.com', role: 'owner' }), 400, 'validation_failed', 'role');
      });

      it('API tokens work, are listed without the token, and fail with 401 once revoked', async () => {
        const t = await admin.post('/api/v1/tokens', { name: 'ci' });
        assert.equal(t.status, 201, t.text);
        assert.match(t.body.token, /^klt_[A-Za-z0-9_-]{43}$/);
        const ci = admin.with(t.body.token);
        const me = await ci.get('/api/v1/me');
        assert.equal(me.status, 200);
        assert.equal(me.body.email, ADMIN_EMAIL);
        assert.equal((await ci.get(`${P}/secrets`)).status, 200);

        const listed = await admin.get('/api/v1/tokens');
        assert.ok(listed.body.tokens.some((x: { id: string }) => x.id === t.body.id));
        assert.ok(!listed.text.includes(t.body.token), 'the token list shows a token');

        // another user cannot revoke it
        assertError(await outsider.delete(`/api/v1/tokens/${t.body.id}`), 404, 'not_found');
        assert.equal((await ci.get('/api/v1/me')).status, 200);

        const rev = await admin.delete(`/api/v1/tokens/${t.body.id}`);
        assert.equal(rev.status, 204, rev.text);
        assertError(await ci.get('/api/v1/me'), 401, 'unauthenticated');
        assertError(await ci.get(`${P}/secrets`), 401, 'unauthenticated');
        assertError(await ci.put(`${P}/secrets/production/AFTER_REVOKE`, { value: val('after-revoke') }), 401, 'unauthenticated');
        assertError(await admin.delete(`/api/v1/tokens/${t.body.id}`), 404, 'not_found');

        // unknown, malformed and missing credentials
        assertError(await admin.with(`klt_${randomBytes(32).toString('base64url')}`).get('/api/v1/me'), 401, 'unauthenticated');
        assertError(await admin.with('garbage').get('/api/v1/me'), 401, 'unauthenticated');
        assertError(await admin.with(undefined).get(`${P}/secrets`), 401, 'unauthenticated');
        assertError(
          await new Api(server.url, undefined, server.fetch).call('GET', '/api/v1/me', undefined, { headers: { authorization: 'Basic abc' } }),
          401,
          'unauthenticated',
        );
      });

      it('session: a new cookie id at each login, HttpOnly and SameSite; the old session ends', async () => {
        const a = await signIn(server, ADMIN_EMAIL, ADMIN_PASSWORD);
        assert.equal(a.status, 200, a.text);
        assert.match(a.setCookie, /^keyloft_session=/);
        assert.match(a.setCookie, /HttpOnly/i);
        assert.match(a.setCookie, /SameSite=(Lax|Strict)/i);
        assert.ok(a.csrf);
        assert.equal((await cookieCall(server, 'GET', '/api/v1/me', a.cookie)).status, 200);

        const b = await signIn(server, ADMIN_EMAIL, ADMIN_PASSWORD, a.cookie);
        assert.equal(b.status, 200, b.text);
        assert.notEqual(b.cookie, a.cookie);
        assert.notEqual(b.csrf, a.csrf);
        assert.equal((await cookieCall(server, 'GET', '/api/v1/me', b.cookie)).status, 200);
        assertError(await cookieCall(server, 'GET', '/api/v1/me', a.cookie), 401, 'unauthenticated');

        // CSRF: a cookie-authenticated write needs the session's token
        const noCsrf = await cookieCall(server, 'POST', '/api/v1/tokens', b.cookie, { body: { name: 'no-csrf' } });
        assertError(noCsrf, 403, 'csrf_failed');
        assertError(await cookieCall(server, 'POST', '/api/v1/tokens', b.cookie, { body: { name: 'wrong' }, csrf: a.csrf! }), 403, 'csrf_failed');
        assertError(await cookieCall(server, 'PUT', `${P}/secrets/production/CSRF`, b.cookie, { body: { value: val('csrf') } }), 403, 'csrf_failed');
        assertError(await cookieCall(server, 'DELETE', `${P}/secrets/production/API_KEY`, b.cookie), 403, 'csrf_failed');
        assertError(
          await cookieCall(server, 'POST', '/api/v1/tokens', b.cookie, { body: { name: 'x' }, csrf: b.csrf!, origin: 'https://evil.example' }),
          403,
          'csrf_failed',
        );
        assert.ok(!secretsOf(await admin.get(`${P}/secrets`)).some((x) => x.name === 'CSRF'));
        const ok = await cookieCall(server, 'POST', '/api/v1/tokens', b.cookie, { body: { name: 'with-csrf' }, csrf: b.csrf!, origin: server.url });
        assert.equal(ok.status, 201, ok.text);
        // reads need no CSRF token
        assert.equal((await cookieCall(server, 'GET', `${P}/secrets`, b.cookie)).status, 200);
        // sign out ends the session
        const out = await cookieCall(server, 'DELETE', '/api/v1/session', b.cookie);
        assert.equal(out.status, 204);
        assertError(await cookieCall(server, 'GET', '/api/v1/me', b.cookie), 401, 'unauthenticated');
      });

      it('locks an account out after 5 failures, with the same answer for an unknown account', async () => {
        const email = 'lockme@example.com';
        await admin.post('/api/v1/users', { email, password: 'the right password' });
        const unknown = `nobody-${rnd()}@example.com`;
        const failures: Array<{ status: number; text: string; body: any }> = [];
        for (let i = 0; i < 5; i++) {
          const known = await signIn(server, email, `wrong password ${i}`);
          const unk = await signIn(server, unknown, `wrong password ${i}`);
          assertError(known, 401, 'unauthenticated');
          assertError(unk, 401, 'unauthenticated');
          assert.deepEqual(known.body.error, unk.body.error);
          failures.push(known);
        }
        const locked = await signIn(server, email, 'the right password');
        assertError(locked, 429, 'locked_out');
        assert.equal(locked.setCookie, '');
        const lockedUnknown = await signIn(server, unknown, 'the right password');
        assertError(lockedUnknown, 429, 'locked_out');
        assert.deepEqual(locked.body.error, lockedUnknown.body.error);
        // other accounts from the same address still sign in
        assert.equal((await signIn(server, ADMIN_EMAIL, ADMIN_PASSWORD)).status, 200);
      });

      it('serves an OpenAPI document listing every /api/v1 route', async () => {
        const r = await new Api(server.url, undefined, server.fetch).get('/api/openapi.json');
        assert.equal(r.status, 200);
        assert.match(r.body.openapi, /^3\./);
        const paths = r.body.paths as Record<string, Record<string, { responses?: object }>>;
        const want: Array<[string, string]> = [
          ['post', '/api/v1/session'],
          ['delete', '/api/v1/session'],
          ['post', '/api/v1/setup'],
          ['get', '/api/v1/me'],
          ['post', '/api/v1/tokens'],
          ['get', '/api/v1/tokens'],
          ['delete', '/api/v1/tokens/{id}'],
          ['post', '/api/v1/users'],
          ['get', '/api/v1/users'],
          ['post', '/api/v1/projects'],
          ['get', '/api/v1/projects'],
          ['get', '/api/v1/projects/{slug}'],
          ['get', '/api/v1/projects/{slug}/members'],
          ['post', '/api/v1/projects/{slug}/members'],
          ['delete', '/api/v1/projects/{slug}/members/{email}'],
          ['get', '/api/v1/projects/{slug}/secrets'],
          ['put', '/api/v1/projects/{slug}/secrets/{scope}/{name}'],
          ['delete', '/api/v1/projects/{slug}/secrets/{scope}/{name}'],
          ['get', '/api/v1/projects/{slug}/secrets/{scope}/{name}/versions'],
          ['get', '/api/v1/projects/{slug}/audit'],
        ];
        for (const [method, path] of want) {
          assert.ok(paths[path]?.[method], `OpenAPI lacks ${method.toUpperCase()} ${path}; has ${Object.keys(paths).join(', ')}`);
          assert.ok(paths[path]![method]!.responses, `${method} ${path} has no responses`);
        }
        // the import route (POST …/secrets/{scope}:import)
        assert.ok(
          Object.keys(paths).some((p) => p.startsWith('/api/v1/projects/{slug}/secrets/') && paths[p]!.post),
          'OpenAPI lacks the import route',
        );
        // every documented API path is under /api/v1
        for (const p of Object.keys(paths)) if (p.startsWith('/api')) assert.ok(p.startsWith('/api/v1/'), `unexpected path ${p}`);
      });

      it('health and readiness answer', async () => {
        const anon = new Api(server.url, undefined, server.fetch);
        assert.equal((await anon.get('/healthz')).status, 200);
        const ready = await anon.get('/readyz');
        assert.equal(ready.status, 200, ready.text);
        assert.equal(ready.body.status, 'ready');
      });

      it('no response contained any value written (nor its base64)', () => {
        assert.ok(seenBodies.length > 50);
        const all = seenBodies.join('\n');
        // Every value ends with 16 random hex digits: one pass collects every 16-hex window in the
        // responses, so the raw and JSON-escaped forms of ~1,300 values are checked at once.
        const windows = new Set<string>();
        for (const m of all.matchAll(/[0-9a-f]{16,}/g)) for (let i = 0; i + 16 <= m[0].length; i++) windows.add(m[0].slice(i, i + 16));
        for (const v of written) {
          const tail = /([0-9a-f]{16})(?![0-9a-f])/.exec(v)?.[1];
          assert.ok(tail, `value without a random part: ${v.slice(0, 20)}`);
          assert.ok(!windows.has(tail), `a response contains a written value (${v.slice(0, 24)}…)`);
        }
        // base64 forms (at every byte offset) of the values that are not bulk filler
        for (const v of written.filter((x) => !x.startsWith('bulk'))) {
          for (let off = 0; off < 3; off++) {
            const enc = Buffer.concat([Buffer.alloc(off, 0x20), Buffer.from(v)]).toString('base64');
            const core = enc.slice(off === 0 ? 0 : 4, enc.length - 4);
            assert.ok(!all.includes(core), `a response contains a written value in base64 (${v.slice(0, 24)}…)`);
          }
        }
      });
    });
  }
});
