import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Keyring, masterKeyFromPrivate } from '../../src/crypto/keyring.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Api, bootstrap, createUser, grantRelease, seenBodies } from '../helpers/client.js';
import { startTestIssuer } from '../helpers/oidc-issuer.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

/**
 * Writes known values through every write route, exercises reads and errors, then looks for
 * the values (and their encoded forms) in the database, the server's output and every response.
 */

const rnd = () => randomBytes(12).toString('hex');

/** The encoded forms of `bytes` a leak could take: raw, hex, base64 / base64url at all three byte offsets. */
function encodedForms(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [bytes, Buffer.from(bytes.toString('hex')), Buffer.from(bytes.toString('hex').toUpperCase())];
  for (let off = 0; off < 3; off++) {
    const enc = Buffer.concat([Buffer.alloc(off, 0x20), bytes]).toString('base64');
    // Drop the characters that depend on the prefix or on the end padding.
    const core = enc.slice(off === 0 ? 0 : 4, enc.length - 4);
    out.push(Buffer.from(core), Buffer.from(core.replace(/\+/g, '-').replace(/\//g, '_')));
  }
  return out;
}

/** A value whose every form we look for. */
interface Marker {
  label: string;
  forms: Buffer[];
}

function textMarker(label: string, value: string): Marker {
  const forms = encodedForms(Buffer.from(value, 'utf8'));
  forms.push(Buffer.from(JSON.stringify(value).slice(1, -1)));
  forms.push(
    Buffer.from(
      JSON.stringify(value)
        .slice(1, -1)
        .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    ),
  );
  forms.push(Buffer.from(encodeURIComponent(value)));
  forms.push(Buffer.from(value, 'utf16le'));
  // each line of a multi-line value on its own (every line here carries random text)
  if (value.includes('\n')) for (const line of value.split('\n')) if (line.length >= 16) forms.push(...encodedForms(Buffer.from(line, 'utf8')));
  return { label, forms };
}

function bytesMarker(label: string, value: Buffer): Marker {
  return { label, forms: encodedForms(value) };
}

/** Returns the labels of markers found in `hay` (which names where it looked). */
function findIn(hay: Buffer, markers: readonly Marker[]): string[] {
  const hits: string[] = [];
  for (const m of markers) {
    const i = m.forms.findIndex((f) => hay.includes(f));
    if (i !== -1) hits.push(`${m.label} (form ${i})`);
  }
  return hits;
}

/** Every cell of every table, as bytes (strings as UTF-8). */
async function allCells(store: TestStore): Promise<{
  cells: Buffer;
  wrapped: Array<{ id: string; project_id: string; scope: string; wrapped_private_key: Buffer; wrapped_data_key: Buffer | null; master_key_id: string }>;
  fast: Buffer[];
}> {
  const parts: Buffer[] = [];
  const push = (v: unknown) => {
    if (v === null || v === undefined) return;
    if (Buffer.isBuffer(v)) parts.push(v);
    else if (v instanceof Uint8Array) parts.push(Buffer.from(v));
    else parts.push(Buffer.from(String(v), 'utf8'));
    parts.push(Buffer.from([0]));
  };
  let wrapped: Array<{ id: string; project_id: string; scope: string; wrapped_private_key: Buffer; wrapped_data_key: Buffer | null; master_key_id: string }> =
    [];
  let fast: Buffer[] = [];
  if (store.dialect === 'sqlite') {
    const db = new SQLite(join(store.dataDir, 'keyloft.db'), { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>;
      assert.ok(tables.some((t) => t.name === 'secret_versions'));
      for (const { name } of tables)
        for (const row of db.prepare(`select * from "${name}"`).all() as Array<Record<string, unknown>>) for (const v of Object.values(row)) push(v);
      wrapped = db.prepare('select id, project_id, scope, wrapped_private_key, wrapped_data_key, master_key_id from project_keys').all() as typeof wrapped;
      fast = (db.prepare('select fast_ciphertext from secret_versions where fast_ciphertext is not null').all() as Array<{ fast_ciphertext: Buffer }>).map(
        (r) => r.fast_ciphertext,
      );
    } finally {
      db.close();
    }
  } else {
    const c = new pg.Client({ connectionString: store.databaseUrl });
    await c.connect();
    try {
      const tables = (await c.query("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'"))
        .rows as Array<{ table_name: string }>;
      assert.ok(tables.some((t) => t.table_name === 'secret_versions'));
      for (const { table_name } of tables)
        for (const row of (await c.query(`select * from "${table_name}"`)).rows as Array<Record<string, unknown>>) for (const v of Object.values(row)) push(v);
      wrapped = (await c.query('select id, project_id, scope, wrapped_private_key, wrapped_data_key, master_key_id from project_keys')).rows;
      fast = ((await c.query('select fast_ciphertext from secret_versions where fast_ciphertext is not null')).rows as Array<{ fast_ciphertext: Buffer }>).map(
        (r) => r.fast_ciphertext,
      );
    } finally {
      await c.end();
    }
  }
  return { cells: Buffer.concat(parts), wrapped, fast };
}

/** Every file in the data directory except the master key file. */
function dataFiles(dir: string): Array<{ name: string; bytes: Buffer }> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isFile() && name !== 'master.key') out.push({ name, bytes: readFileSync(p) });
  }
  return out;
}

describe('the leak scanner', () => {
  it('finds a planted value in each encoded form, embedded at any offset', () => {
    const v = `PLANT_${rnd()}\nline2_${rnd()}\u00e9`;
    const m = [textMarker('PLANT', v)];
    const b = Buffer.from(v, 'utf8');
    const plants = [
      v,
      b.toString('hex'),
      JSON.stringify(v),
      encodeURIComponent(v),
      ...[0, 1, 2].flatMap((off) => {
        const enc = Buffer.concat([randomBytes(off), b, randomBytes(2)]).toString('base64');
        return [enc, enc.replace(/\+/g, '-').replace(/\//g, '_')];
      }),
      `line2_${v.split('\n')[1]!.slice(6)}`,
    ];
    for (const p of plants) assert.deepEqual(findIn(Buffer.from(`xx${p}yy`), m).length, 1, `missed ${p.slice(0, 30)}`);
    assert.deepEqual(findIn(Buffer.from(`PLANT_${rnd()}`), m), []);
  });
});

// One dialect after the other: fewer servers at once on small CI machines.
const DIALECTS = await dialects();
describe('no value leaks: every dialect', { concurrency: 1 }, () => {
  for (const d of DIALECTS) {
    describe(`no value leaks on ${d.name}`, { skip: d.skip, concurrency: 1 }, () => {
      let store: TestStore;
      let server: TestServer;
      let api: Api;
      const markers: Marker[] = [];
      const slug = `leak-${rnd().slice(0, 8)}`;
      const P = `/api/v1/projects/${slug}`;

      function text(label: string, value = `${label}_${rnd()}`): string {
        markers.push(textMarker(label, value));
        return value;
      }

      before(async () => {
        store = await createStore(d.name);
        server = await startServer(store, { env: { KEYLOFT_LOG_LEVEL: 'trace', KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true' } });
        api = await bootstrap(server);
      });
      after(async () => {
        await server?.stop();
        await store?.cleanup();
      });

      it('writes known values through every write route', async () => {
        const multiline = text('MULTILINE', `-----BEGIN PRIVATE KEY-----\nMLa_${rnd()}\nMLb_${rnd()}\n\nMLc_${rnd()}==\n-----END PRIVATE KEY-----\n`);
        const unicode = text('UNICODE', `\u00fcn\u00efc\u00f6d\u00e9-\u20ac-\u{1F511}-\u0416\u4f60\u597d-${rnd()}-\u05e9\u05dc\u05d5\u05dd`);
        const create = await api.post('/api/v1/projects', {
          slug,
          name: 'Leak test',
          secrets: [
            { name: 'CREATE_PROD', scope: 'production', value: text('CREATE_PROD') },
            { name: 'CREATE_MULTI', scope: 'preview', value: multiline },
            { name: 'CREATE_UNICODE', scope: 'production', value: unicode },
            { name: 'CREATE_BUILD', scope: 'build', valueBase64: Buffer.from(text('CREATE_BUILD_B64')).toString('base64') },
          ],
        });
        assert.equal(create.status, 201, create.text);

        for (const [scope, name] of [
          ['production', 'PUT_PROD'],
          ['preview', 'PUT_PREVIEW'],
          ['build', 'PUT_BUILD'],
        ] as const) {
          assert.equal((await api.put(`${P}/secrets/${scope}/${name}`, { value: text(`PUT_${scope}`) })).status, 201);
          // overwrite: both versions stay in history
          assert.equal((await api.put(`${P}/secrets/${scope}/${name}`, { value: text(`PUT2_${scope}`) })).status, 200);
        }
        assert.equal((await api.put(`${P}/secrets/production/PUT_MULTI`, { value: text('PUT_MULTI', `PMa_${rnd()}\r\nPMb_${rnd()}\n`) })).status, 201);
        assert.equal((await api.put(`${P}/secrets/preview/PUT_UNICODE`, { value: text('PUT_UNICODE', `\u{1F510}${rnd()}\u00e9\u00e8`) })).status, 201);
        assert.equal(
          (await api.put(`${P}/secrets/production/PUT_B64_TEXT`, { valueBase64: Buffer.from(text('PUT_B64_TEXT')).toString('base64') })).status,
          201,
        );

        // a form-encoded body (what the web pages send) is a write route too
        const form = await api.call('PUT', `${P}/secrets/production/FORM_ENCODED`, `value=${encodeURIComponent(text('FORM_ENCODED', `form ${rnd()} & = %`))}`, {
          contentType: 'application/x-www-form-urlencoded',
        });
        assert.equal(form.status, 201, form.text);

        // binary build secret: random bytes around a marker
        const bin = Buffer.concat([randomBytes(5), Buffer.from(`BIN_${rnd()}`), Buffer.from([0, 255, 0]), randomBytes(40)]);
        markers.push(bytesMarker('BUILD_BINARY', bin));
        assert.equal((await api.put(`${P}/secrets/build/BINARY`, { valueBase64: bin.toString('base64') })).status, 201);

        const dotenv = [
          '# imported',
          `export DOTENV_PLAIN=${text('DOTENV_PLAIN')}`,
          `DOTENV_SINGLE='${text('DOTENV_SINGLE')}'`,
          `DOTENV_DOUBLE="${text('DOTENV_DQ1')}\\n${text('DOTENV_DQ2')}"`,
          `DOTENV_MULTI="${text('DOTENV_ML1')}`,
          `${text('DOTENV_ML2')}"`,
          '',
        ].join('\n');
        const imp = await api.post(`${P}/secrets/production:import`, dotenv, { contentType: 'text/plain' });
        assert.equal(imp.status, 200, imp.text);
        assert.equal(imp.body.written, 4);
        const dry = await api.post(`${P}/secrets/preview:import?dryRun=true`, `DRY=${text('DOTENV_DRY')}\n`, { contentType: 'text/plain' });
        assert.equal(dry.status, 200, dry.text);

        const json = await api.post(`${P}/secrets/preview:import`, {
          secrets: {
            JSON_A: text('JSON_A'),
            JSON_UNICODE: text('JSON_UNICODE', `\u2603${rnd()}\u2603`),
            JSON_B64: { valueBase64: Buffer.from(text('JSON_B64')).toString('base64') },
          },
        });
        assert.equal(json.status, 200, json.text);
        const jsonBuild = await api.post(`${P}/secrets/build:import`, {
          secrets: { JSON_BUILD: { valueBase64: Buffer.from(text('JSON_BUILD')).toString('base64') } },
        });
        assert.equal(jsonBuild.status, 200, jsonBuild.text);

        // the dashboard's import review (issue 12 §5): the pasted text waits on the server, sealed — never in the page or a table in plaintext
        const login = await fetch(`${server.url}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
        });
        assert.equal(login.status, 200);
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
        const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
        const webDotenv = `WEB_PENDING=${text('WEB_PENDING')}\nWEB_PENDING_ML="${text('WEB_PML1')}\n${text('WEB_PML2')}"\n`;
        const review = await fetch(`${server.url}${P.replace('/api/v1', '')}/settings/secrets/import`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf, scope: 'production', dotenv: webDotenv }).toString(),
          redirect: 'manual',
        });
        const reviewHtml = await review.text();
        seenBodies.push(reviewHtml);
        assert.equal(review.status, 200, reviewHtml.slice(0, 300));
        assert.match(reviewHtml, /name="pending" value="pi_/);

        // a deleted secret: the tombstone must not bring the value back anywhere
        assert.equal((await api.put(`${P}/secrets/production/DELETED`, { value: text('DELETED') })).status, 201);
        assert.equal((await api.delete(`${P}/secrets/production/DELETED`)).status, 200);
      });

      it('releases every environment twice (the first release writes the fast forms, the second opens them)', async () => {
        await grantRelease(api, slug);
        for (const round of [1, 2]) {
          for (const environment of ['production', 'preview']) {
            const started = await api.post(`${P}/deployments`, environment === 'preview' ? { environment, pr: 7 } : { environment });
            assert.equal(started.status, 201, started.text);
            // Fetched outside the recording client: this response holds values by design.
            const r = await fetch(`${server.url}/api/v1/deployments/${started.body.id}/secrets`, {
              headers: { authorization: `Bearer ${started.body.token}` },
            });
            const body = (await r.json()) as { runtime: Record<string, string> };
            assert.equal(r.status, 200, `round ${round} ${environment}`);
            assert.ok(Object.keys(body.runtime).length > 3, `round ${round} ${environment}: ${Object.keys(body.runtime).join(',')}`);
            assert.equal((await api.with(started.body.token).post(`/api/v1/deployments/${started.body.id}/complete`, { status: 'succeeded' })).status, 200);
          }
        }
      });

      it('refuses bad writes without echoing the value', async () => {
        const bad: Array<[string, Promise<{ status: number; text: string }>]> = [
          ['bad name', api.put(`${P}/secrets/production/1BAD`, { value: text('ERR_NAME') })],
          ['NUL', api.put(`${P}/secrets/production/NUL`, { value: `${text('ERR_NUL')}\u0000` })],
          ['too big', api.put(`${P}/secrets/production/BIG`, { value: text('ERR_BIG') + 'x'.repeat(70000) })],
          ['too big bytes', api.put(`${P}/secrets/production/BIG`, { value: text('ERR_BIG2') + '\u00e9'.repeat(33000) })],
          ['both forms', api.put(`${P}/secrets/production/BOTH`, { value: text('ERR_BOTH'), valueBase64: 'YQ==' })],
          ['bad base64', api.put(`${P}/secrets/production/B64`, { valueBase64: `${text('ERR_B64')}!!` })],
          [
            'not utf-8',
            api.put(`${P}/secrets/production/B64`, { valueBase64: Buffer.concat([Buffer.from(text('ERR_UTF8')), Buffer.from([0xff])]).toString('base64') }),
          ],
          ['bad scope', api.put(`${P}/secrets/staging/X`, { value: text('ERR_SCOPE') })],
          ['bad JSON', api.call('PUT', `${P}/secrets/production/X`, `{"value": "${text('ERR_JSON')}`, { contentType: 'application/json' })],
          ['bad JSON 2', api.call('PUT', `${P}/secrets/production/X`, `{"value": ${text('ERR_JSON2')}}`, { contentType: 'application/json' })],
          ['text body on PUT', api.call('PUT', `${P}/secrets/production/X`, text('ERR_TEXT'), { contentType: 'text/plain' })],
          ['odd content type', api.call('PUT', `${P}/secrets/production/X`, text('ERR_CT'), { contentType: 'application/x-keyloft' })],
          ['dotenv bad line', api.post(`${P}/secrets/production:import`, `OK=${text('ERR_DOT1')}\n1BAD=${text('ERR_DOT2')}\n`, { contentType: 'text/plain' })],
          ['dotenv unterminated', api.post(`${P}/secrets/production:import`, `A="${text('ERR_DOT3')}\nB=${text('ERR_DOT4')}\n`, { contentType: 'text/plain' })],
          [
            'dotenv garbage after quote',
            api.post(`${P}/secrets/production:import`, `A="${text('ERR_DOT5')}"${text('ERR_DOT6')}\n`, { contentType: 'text/plain' }),
          ],
          ['dotenv no equals', api.post(`${P}/secrets/production:import`, `${text('ERR_DOT7')}\n`, { contentType: 'text/plain' })],
          ['json bad name', api.post(`${P}/secrets/production:import`, { secrets: { 'BAD-NAME': text('ERR_IMP1'), GOOD: text('ERR_IMP2') } })],
          ['json bad value', api.post(`${P}/secrets/production:import`, { secrets: { GOOD: { value: text('ERR_IMP3') } } })],
          ['json NUL', api.post(`${P}/secrets/production:import`, { secrets: { GOOD: `${text('ERR_IMP4')}\u0000` } })],
          [
            'create bad',
            api.post('/api/v1/projects', {
              slug: `x-${rnd().slice(0, 6)}`,
              name: 'x',
              secrets: [{ name: '9X', scope: 'production', value: text('ERR_CREATE') }],
            }),
          ],
          ['not a member', api.with(undefined).put(`${P}/secrets/production/ANON`, { value: text('ERR_ANON') })],
        ];
        for (const [what, p] of bad) {
          const r = await p;
          assert.ok(r.status >= 400 && r.status < 500, `${what}: expected a 4xx, got ${r.status}: ${r.text.slice(0, 200)}`);
        }
      });

      it('reads lists, history and audit', async () => {
        for (const path of [
          `${P}/secrets`,
          `${P}/secrets?scope=build`,
          `${P}/secrets/production/PUT_PROD/versions`,
          `${P}/secrets/production/DELETED/versions`,
          `${P}/audit`,
          `${P}/audit?limit=200`,
          '/api/v1/projects',
          P,
          '/api/v1/tokens',
          '/api/openapi.json',
        ]) {
          const r = await api.get(path);
          assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 200)}`);
        }
      });

      it('finds no value in any HTTP response', () => {
        assert.ok(markers.length > 40, `only ${markers.length} markers`);
        const hits = findIn(Buffer.from(seenBodies.join('\n'), 'utf8'), markers);
        assert.deepEqual(hits, [], 'values found in HTTP responses');
      });

      it('finds no value in the server output', () => {
        const out = server.output();
        assert.ok(out.length > 1000, 'the server printed almost nothing; is logging on?');
        assert.deepEqual(findIn(Buffer.from(out, 'utf8'), markers), [], 'values found in the server output');
      });

      it('finds no value, and no private key, in the database', async () => {
        const keyFile = join(store.dataDir, 'master.key');
        const masterPrivate = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
        assert.equal(masterPrivate.length, 32);
        const master = masterKeyFromPrivate(new Uint8Array(masterPrivate));
        const { cells, wrapped, fast } = await allCells(store);
        assert.ok(cells.length > 1000);
        assert.equal(wrapped.length, 3, 'one key pair per scope');

        // the scope private keys, unwrapped with the master key, appear nowhere either
        const ring = await Keyring.create([master]);
        const keyMarkers: Marker[] = [bytesMarker('MASTER_PRIVATE_KEY', masterPrivate)];
        for (const w of wrapped) {
          const raw = await ring.unwrapRaw({
            id: w.id,
            projectId: w.project_id,
            scope: w.scope,
            wrappedPrivateKey: new Uint8Array(w.wrapped_private_key),
            masterKeyId: w.master_key_id,
          });
          assert.equal(raw.length, 32);
          keyMarkers.push(bytesMarker(`SCOPE_PRIVATE_KEY_${w.scope}`, Buffer.from(raw)));
          // and the data keys of the fast forms (issue 18 §3), which the releases above created
          if (w.wrapped_data_key !== null) {
            const dk = await ring.unwrapDataKeyRaw({
              id: w.id,
              projectId: w.project_id,
              scope: w.scope,
              wrappedDataKey: new Uint8Array(w.wrapped_data_key),
              masterKeyId: w.master_key_id,
            });
            keyMarkers.push(bytesMarker(`SCOPE_DATA_KEY_${w.scope}`, Buffer.from(dk)));
          }
        }
        assert.ok(wrapped.filter((w) => w.wrapped_data_key !== null).length >= 2, 'the releases created data keys (production, preview, build)');
        // The fast forms are stored, so the scan below reads them: each a 0x02 blob, never a value.
        assert.ok(fast.length >= 10, `only ${fast.length} fast forms stored`);
        for (const f of fast) assert.equal(f[0], 0x02, 'a fast form starts with its format byte');
        // the master public key is stored (by design), so the test is not looking at the wrong place
        assert.ok(cells.includes(Buffer.from(master.publicKey)), 'the master public key is not in the database');

        assert.deepEqual(findIn(cells, [...markers, ...keyMarkers]), [], 'values or private keys found in database rows');

        if (store.dialect === 'sqlite') {
          const files = dataFiles(store.dataDir);
          const names = files.map((f) => f.name);
          assert.ok(names.includes('keyloft.db'), names.join(', '));
          assert.ok(names.includes('keyloft.db-wal'), `the WAL is expected while the server runs: ${names.join(', ')}`);
          for (const f of files) assert.deepEqual(findIn(f.bytes, [...markers, ...keyMarkers]), [], `values or private keys found in ${f.name}`);
        }
        assert.deepEqual(findIn(Buffer.from(server.output()), keyMarkers), [], 'a private key in the server output');
        assert.deepEqual(findIn(Buffer.from(seenBodies.join('\n')), keyMarkers), [], 'a private key in a response');
      });

      it('stores passwords and tokens only as hashes, and never echoes a password', async () => {
        const password = `pw-${rnd()}-\u00e9\u{1F511}`;
        const user = await createUser(server, api, `hashes-${rnd().slice(0, 6)}@example.com`, password);
        const login = await fetch(`${server.url}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
        });
        assert.equal(login.status, 200);
        const session = /keyloft_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
        const extra = await api.post('/api/v1/tokens', { name: 'leak-check' });
        assert.equal(extra.status, 201);
        // a failed sign-in with a password-like string
        const wrong = `wrong-${rnd()}`;
        const failed = await fetch(`${server.url}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: ADMIN_EMAIL, password: wrong }),
        });
        assert.equal(failed.status, 401);
        seenBodies.push(await failed.text());
        // an invitation (issue 15): its token is in the URL of the accept call, the invitee's password in its body
        const invite = await api.post(`/api/v1/projects/${slug}/invitations`, { email: `invitee-${rnd().slice(0, 6)}@example.com`, role: 'viewer' });
        assert.equal(invite.status, 201, invite.text);
        const inviteToken = /(klinv_[A-Za-z0-9_-]+)$/.exec(invite.body.url)![1]!;
        const inviteePassword = `invitee-pw-${rnd()}`;
        const accepted = await fetch(`${server.url}/api/v1/invitations/${inviteToken}/accept`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: inviteePassword }),
        });
        assert.equal(accepted.status, 200);
        seenBodies.push(await accepted.text());
        await new Promise((r) => setTimeout(r, 100)); // the access log line is written after the response

        const { cells } = await allCells(store);
        const credentials = [
          textMarker('PASSWORD', password),
          textMarker('ADMIN_PASSWORD', ADMIN_PASSWORD),
          textMarker('WRONG_PASSWORD', wrong),
          textMarker('API_TOKEN', api.token!),
          textMarker('API_TOKEN_2', user.token!),
          textMarker('API_TOKEN_3', extra.body.token),
          textMarker('SESSION', decodeURIComponent(session)),
          textMarker('INVITATION_TOKEN', inviteToken),
          textMarker('INVITEE_PASSWORD', inviteePassword),
        ];
        if (server.setupToken) credentials.push(textMarker('SETUP_TOKEN', server.setupToken));
        assert.deepEqual(findIn(cells, credentials), [], 'a password or token stored in clear');
        assert.ok(cells.includes(Buffer.from('$argon2id$')), 'passwords are not Argon2id hashes');
        const passwords = credentials.filter((m) => m.label.includes('PASSWORD'));
        assert.deepEqual(findIn(Buffer.from(server.output()), passwords), [], 'a password in the server output');
        assert.deepEqual(findIn(Buffer.from(seenBodies.join('\n')), passwords), [], 'a password in a response');
        // tokens are shown once, at creation: never in a list
        const list = await api.get('/api/v1/tokens');
        assert.deepEqual(findIn(Buffer.from(list.text), credentials), []);
        // nor in the log (the Authorization header and cookie are redacted)
        assert.deepEqual(
          findIn(
            Buffer.from(server.output()),
            credentials.filter((m) => m.label.startsWith('API_TOKEN') || m.label === 'SESSION' || m.label === 'INVITATION_TOKEN'),
          ),
          [],
          'a token in the server output',
        );
      });

      it('stores and logs no CI ID token, accepted or refused', async () => {
        const issuer = await startTestIssuer();
        try {
          const policy = await api.post(`${P}/trust-policies`, {
            name: 'ci',
            issuer: issuer.url,
            audience: 'keyloft',
            subject: 'repo:acme/leak:ref:refs/heads/main',
            environment: 'production',
          });
          assert.equal(policy.status, 201, policy.text);
          const accepted = await issuer.mint({ repo: 'acme/leak' });
          const refusedToken = await issuer.mint({ repo: 'acme/intruder' });
          const forged = await issuer.mint({ repo: 'acme/leak', foreignKey: true });
          const anon = api.with(undefined);
          const ok = await anon.post('/api/v1/oidc/deployments', { project: slug, environment: 'production', idToken: accepted });
          assert.equal(ok.status, 201, ok.text);
          assert.equal((await anon.post('/api/v1/oidc/deployments', { project: slug, environment: 'production', idToken: refusedToken })).status, 403);
          assert.equal((await anon.post('/api/v1/oidc/deployments', { project: slug, environment: 'production', idToken: forged })).status, 401);
          assert.equal((await api.get(`${P}/audit?limit=200`)).status, 200);
          assert.equal((await api.with(ok.body.token).post(`/api/v1/deployments/${ok.body.id}/complete`, { status: 'failed' })).status, 200);
          const idTokens = [accepted, refusedToken, forged].flatMap((t, i) => [
            textMarker(`ID_TOKEN_${i}`, t),
            textMarker(`ID_TOKEN_SIGNATURE_${i}`, t.split('.')[2]!),
          ]);
          const deployToken = [textMarker('DEPLOY_TOKEN', ok.body.token)];
          const { cells } = await allCells(store);
          assert.deepEqual(findIn(cells, [...idTokens, ...deployToken]), [], 'an ID token or deploy token stored in clear');
          assert.deepEqual(findIn(Buffer.from(server.output()), [...idTokens, ...deployToken]), [], 'an ID token or deploy token in the server output');
          assert.deepEqual(findIn(Buffer.from(seenBodies.join('\n')), idTokens), [], 'an ID token in a response');
        } finally {
          await issuer.close();
        }
      });

      it('keeps the master key file private (mode 0600)', () => {
        const mode = statSync(join(store.dataDir, 'master.key')).mode & 0o777;
        assert.equal(mode, 0o600, `master.key has mode ${mode.toString(8)}`);
      });

      it('leaves nothing in the database files after a clean stop', { skip: d.name !== 'sqlite' && 'SQLite files only' }, async () => {
        assert.equal(await server.stop(), 0);
        const masterPrivate = Buffer.from(readFileSync(join(store.dataDir, 'master.key'), 'utf8').trim(), 'base64');
        for (const f of dataFiles(store.dataDir)) {
          assert.deepEqual(findIn(f.bytes, [...markers, bytesMarker('MASTER_PRIVATE_KEY', masterPrivate)]), [], `values found in ${f.name} after stop`);
        }
        assert.deepEqual(findIn(Buffer.from(server.output()), markers), [], 'values in the shutdown output');
      });
    });
  }
});
