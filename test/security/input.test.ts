import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, rawHttp, Tally, withWebRoutes } from './support.js';
import { LINGERING } from '../../src/http/plugins/linger.js';

/**
 * Hostile input: names, values, bodies, dotenv imports, metacharacters in echoed fields and
 * path traversal in every path parameter. Each case must be refused with a 4xx error naming the
 * field (never a 5xx, never a half-write), or — for free text that is allowed — stored and echoed
 * literally as JSON.
 */
const tally = new Tally();
const SLUG = 'inp';
const MARKER = 'inp-marker-value-7f3a9c';

describe('hostile input (sqlite)', () => {
  let store: TestStore;
  let server: TestServer;
  let api: Api;

  /** A request with a raw byte body (so invalid UTF-8 really reaches the server). */
  async function raw(method: string, path: string, body: Buffer | string | undefined, contentType = 'application/json') {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${api.token}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, body: json, headers: res.headers };
  }

  /** Sends a large body with node:http and reads the answer even if the server stops reading early. */
  function bigRequest(method: string, path: string, body: Buffer, contentType: string): Promise<{ status: number; body: any }> {
    return new Promise((resolve) => {
      const u = new URL(`${server.url}${path}`);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method,
          headers: { authorization: `Bearer ${api.token}`, 'content-type': contentType, 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            let json: any;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: json });
          });
        },
      );
      req.on('error', () => resolve({ status: 0, body: undefined }));
      req.end(body);
    });
  }

  const secretCount = async () => Number((await dbQuery<{ n: number }>(store, 'select count(*) as n from secret_versions'))[0]!.n);
  const errorShape = (b: any) => b && typeof b.error?.code === 'string' && typeof b.error?.message === 'string' && 'field' in b.error;

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    api = await bootstrap(server);
    const r = await api.post('/api/v1/projects', { slug: SLUG, name: 'Input', secrets: [{ name: 'EXISTING', scope: 'production', value: MARKER }] });
    assert.equal(r.status, 201, r.text);
    await grantRelease(api, SLUG);
  });
  after(async () => {
    await server?.stop();
    // No hostile case may make the server log a value.
    assert.ok(!server.output().includes(MARKER), 'a value reached the server log');
    tally.write('input');
    await store?.cleanup();
  });

  const BAD_NAMES: Array<[string, string]> = [
    ['256 characters', `A${'B'.repeat(255)}`],
    ['a leading digit', '1ABC'],
    ['a dash', 'API-KEY'],
    ['a dot', 'API.KEY'],
    ['a space', 'API KEY'],
    ['a Cyrillic look-alike А', '\u0410PI_KEY'],
    ['a Greek look-alike Ο', 'API_KEY_\u039f'],
    ['fullwidth letters', '\uff21\uff30\uff29'],
    ['a zero-width space', 'API\u200bKEY'],
    ['a dotless ı', 'SECRET_\u0131'],
    ['a combining accent', 'CAFE\u0301'],
    ['an SQL quote', "A'; DROP TABLE secrets;--"],
    ['an SQL OR', 'A" OR "1"="1'],
    ['an SQL comment', 'A/**/B'],
    ['an HTML tag', '<script>alert(1)</script>'],
    ['an HTML entity', 'A&amp;B'],
    ['a NUL', 'A\u0000B'],
    ['a newline', 'A\nB'],
    ['a percent escape', 'A%41'],
  ];

  it('secret names: empty, 256 chars, leading digit, dash, unicode look-alikes, SQL and HTML metacharacters are refused everywhere a name is taken', async () => {
    const before = await secretCount();
    // empty: the route has no name segment at all
    for (const [method, path] of [
      ['PUT', `/api/v1/projects/${SLUG}/secrets/production/`],
      ['DELETE', `/api/v1/projects/${SLUG}/secrets/production/`],
    ] as const) {
      const r = await api.call(method, path, method === 'PUT' ? { value: 'x' } : undefined);
      tally.case('secret names', r.status === 400 || r.status === 404, `empty name via ${method} → ${r.status}`);
    }
    const emptyImport = await api.post(`/api/v1/projects/${SLUG}/secrets/production:import`, { secrets: { '': 'x' } });
    tally.case('secret names', emptyImport.status === 400, `empty name in import → ${emptyImport.status}`);
    const emptyCreate = await api.post('/api/v1/projects', { slug: 'inp-empty', name: 'x', secrets: [{ name: '', scope: 'production', value: 'x' }] });
    tally.case('secret names', emptyCreate.status === 400, `empty name at create → ${emptyCreate.status}`);
    for (const [label, name] of BAD_NAMES) {
      const enc = encodeURIComponent(name);
      const put = await api.put(`/api/v1/projects/${SLUG}/secrets/production/${enc}`, { value: 'x' });
      tally.case('secret names', put.status === 400 && put.body?.error?.field === 'name', `PUT ${label} → ${put.status}`);
      const del = await api.delete(`/api/v1/projects/${SLUG}/secrets/production/${enc}`);
      tally.case('secret names', del.status === 400, `DELETE ${label} → ${del.status}`);
      const hist = await api.get(`/api/v1/projects/${SLUG}/secrets/production/${enc}/versions`);
      tally.case('secret names', hist.status === 400, `history ${label} → ${hist.status}`);
      const imp = await api.post(`/api/v1/projects/${SLUG}/secrets/production:import`, { secrets: { [name]: 'x', GOOD_ONE: 'y' } });
      tally.case('secret names', imp.status === 400 && errorShape(imp.body), `import map ${label} → ${imp.status}`);
      if (!name.includes('\n')) {
        const dot = await api.post(`/api/v1/projects/${SLUG}/secrets/production:import`, `GOOD_TWO=y\n${name}=x\n`, { contentType: 'text/plain' });
        tally.case('secret names', dot.status === 400 && errorShape(dot.body), `dotenv ${label} → ${dot.status}`);
      }
      const create = await api.post('/api/v1/projects', { slug: 'inp-new', name: 'x', secrets: [{ name, scope: 'production', value: 'x' }] });
      tally.case('secret names', create.status === 400, `create ${label} → ${create.status}`);
    }
    assert.equal(await secretCount(), before, 'nothing was written');
    assert.equal((await api.get('/api/v1/projects/inp-new')).status, 404, 'no project was half-created');
    assert.deepEqual(tally.failures(), []);
  });

  it('SQL and HTML metacharacters in every echoed field are refused by its rule or stored and echoed literally as JSON', async () => {
    const payloads = [
      `Robert'); DROP TABLE projects;--`,
      `" OR 1=1 --`,
      `<img src=x onerror=alert(1)>`,
      `</script><script>alert(1)</script>`,
      `{{7*7}}\${7*7}`,
      `%27%22%3C`,
    ];
    for (const p of payloads) {
      // free text: project name, API token name, deploy key name → stored literally, echoed as JSON
      const proj = await api.post('/api/v1/projects', { slug: `meta-${payloads.indexOf(p)}`, name: p });
      const shown = await api.get(`/api/v1/projects/meta-${payloads.indexOf(p)}`);
      tally.case(
        'metacharacters in echoed fields',
        proj.status === 201 &&
          shown.body?.project?.name === p.trim() &&
          /^application\/json/.test(shown.headers.get('content-type') ?? '') &&
          shown.headers.get('x-content-type-options') === 'nosniff',
        `project name ${p} → ${proj.status}`,
      );
      const tok = await api.post('/api/v1/tokens', { name: p });
      const tokens = await api.get('/api/v1/tokens');
      tally.case(
        'metacharacters in echoed fields',
        tok.status === 201 && tokens.body.tokens.some((t: { name: string }) => t.name === p),
        `token name ${p} → ${tok.status}`,
      );
      if (tok.status === 201) await api.delete(`/api/v1/tokens/${tok.body.id}`);
      const key = await api.post(`/api/v1/projects/${SLUG}/deploy-keys`, { name: p });
      tally.case('metacharacters in echoed fields', key.status === 201 && key.body.name === p, `deploy key name ${p} → ${key.status}`);
      if (key.status === 201) await api.delete(`/api/v1/projects/${SLUG}/deploy-keys/${key.body.id}`);
      // ruled fields: slug, email, ref, Fly app name, preview pattern, audit filters → refused (400) or matched literally
      const slug = await api.post('/api/v1/projects', { slug: p, name: 'x' });
      tally.case('metacharacters in echoed fields', slug.status === 400 && slug.body.error.field === 'slug', `slug ${p} → ${slug.status}`);
      const member = await api.post(`/api/v1/projects/${SLUG}/members`, { email: p, role: 'viewer' });
      tally.case('metacharacters in echoed fields', member.status === 400, `member email ${p} → ${member.status}`);
      const ref = await api.post(`/api/v1/projects/${SLUG}/deployments`, { environment: 'production', ref: p });
      tally.case('metacharacters in echoed fields', ref.status === 400, `deployment ref ${p} → ${ref.status}`);
      const fly = await api.call('PATCH', `/api/v1/projects/${SLUG}`, { flyApp: p });
      tally.case('metacharacters in echoed fields', fly.status === 400, `flyApp ${p} → ${fly.status}`);
      const pattern = await api.call('PATCH', `/api/v1/projects/${SLUG}`, { flyPreviewPattern: p });
      tally.case('metacharacters in echoed fields', pattern.status === 400, `flyPreviewPattern ${p} → ${pattern.status}`);
      const audit = await api.get(`/api/v1/projects/${SLUG}/audit?name=${encodeURIComponent(p)}&action=${encodeURIComponent(p)}`);
      tally.case(
        'metacharacters in echoed fields',
        (audit.status === 200 && audit.body.events.length === 0) || audit.status === 400,
        `audit filter ${p} → ${audit.status}`,
      );
    }
    // the database is intact: every table still answers, the project list is complete
    const tables = await dbQuery<{ name: string }>(store, `select name from sqlite_master where type = 'table'`);
    for (const t of ['projects', 'secrets', 'secret_versions', 'users', 'audit_events'])
      assert.ok(
        tables.some((x) => x.name === t),
        `table ${t} survived`,
      );
    assert.equal((await api.get(`/api/v1/projects/${SLUG}`)).status, 200);
    assert.deepEqual(tally.failures(), []);
  });

  it('values: 65,537 bytes, NUL, lone surrogates and invalid UTF-8 (raw bytes) in JSON and dotenv are refused; 65,536 bytes is accepted', async () => {
    const path = `/api/v1/projects/${SLUG}/secrets/production/VAL`;
    const before = await secretCount();
    const cases: Array<[string, Buffer | string, string, number[]]> = [
      ['65,537 bytes (ASCII)', JSON.stringify({ value: 'a'.repeat(65_537) }), 'application/json', [413]],
      ['65,537 bytes (multi-byte UTF-8)', JSON.stringify({ value: `${'é'.repeat(32_768)}a` }), 'application/json', [413]],
      ['65,537 bytes base64 to build', JSON.stringify({ valueBase64: Buffer.alloc(65_537, 1).toString('base64') }), 'application/json', [413]],
      ['NUL as \\u0000', '{"value":"a\\u0000b"}', 'application/json', [400]],
      ['NUL as a raw byte', Buffer.from('{"value":"a\u0000b"}', 'latin1'), 'application/json', [400]],
      ['NUL in base64 for a text scope', JSON.stringify({ valueBase64: Buffer.from('a\0b').toString('base64') }), 'application/json', [400]],
      ['a lone high surrogate escape', '{"value":"a\\ud800b"}', 'application/json', [400]],
      ['a lone low surrogate escape', '{"value":"\\udc00"}', 'application/json', [400]],
      ['a reversed surrogate pair', '{"value":"\\udc00\\ud800"}', 'application/json', [400]],
      ['invalid UTF-8 byte 0xFF', Buffer.concat([Buffer.from('{"value":"a'), Buffer.from([0xff]), Buffer.from('b"}')]), 'application/json', [400]],
      ['a truncated UTF-8 sequence', Buffer.concat([Buffer.from('{"value":"a'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]), 'application/json', [400]],
      ['an overlong UTF-8 slash', Buffer.concat([Buffer.from('{"value":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 'application/json', [400]],
      ['a CESU-8 surrogate', Buffer.concat([Buffer.from('{"value":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), 'application/json', [400]],
      ['both value and valueBase64', JSON.stringify({ value: 'a', valueBase64: 'YQ==' }), 'application/json', [400]],
      ['neither value nor valueBase64', '{}', 'application/json', [400]],
      ['a number as value', '{"value":42}', 'application/json', [400]],
      ['malformed JSON', '{"value":', 'application/json', [400]],
      ['a __proto__ key', '{"value":"a","__proto__":{"admin":true}}', 'application/json', [400]],
      ['a form post with a percent escape that is not UTF-8', 'value=a%FFb', 'application/x-www-form-urlencoded', [400]],
      ['a form post with a lone surrogate as CESU-8 escapes', 'value=%ED%A0%80', 'application/x-www-form-urlencoded', [400]],
      ['a form post with raw invalid bytes', Buffer.concat([Buffer.from('value=a'), Buffer.from([0xff])]), 'application/x-www-form-urlencoded', [400]],
      ['an XML body', '<value>a</value>', 'application/xml', [415]],
    ];
    for (const [label, body, type, want] of cases) {
      const scopePath = label.includes('build') ? path.replace('/production/', '/build/') : path;
      const r = await raw('PUT', scopePath, body, type);
      tally.case('values', want.includes(r.status) && errorShape(r.body), `${label} → ${r.status} ${r.text.slice(0, 120)}`);
    }
    const dotenvPath = `/api/v1/projects/${SLUG}/secrets/production:import`;
    const dotCases: Array<[string, Buffer]> = [
      ['dotenv with invalid UTF-8', Buffer.concat([Buffer.from('GOOD=1\nBAD=a'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')])],
      ['dotenv with a NUL', Buffer.from('GOOD=1\nBAD=a\u0000b\n')],
      ['dotenv with a 65,537-byte value', Buffer.from(`GOOD=1\nBIG=${'a'.repeat(65_537)}\n`)],
      ['JSON import with a lone surrogate', Buffer.from('{"secrets":{"GOOD":"1","BAD":"\\ud800"}}')],
    ];
    for (const [label, body] of dotCases) {
      const r = await raw('POST', dotenvPath, body, label.startsWith('JSON') ? 'application/json' : 'text/plain');
      tally.case('values', [400, 413, 422].includes(r.status) && errorShape(r.body), `${label} → ${r.status} ${r.text.slice(0, 120)}`);
    }
    assert.equal(await secretCount(), before, 'no refused value was written');
    // controls: the limits are exact
    const max = await raw('PUT', path, JSON.stringify({ value: 'a'.repeat(65_536) }));
    assert.equal(max.status, 201, max.text);
    const pem = `-----BEGIN KEY-----\n${'QUJD'.repeat(16)}\n-----END KEY-----\n\n`;
    assert.equal((await raw('PUT', path, JSON.stringify({ value: pem }))).status, 200);
    assert.deepEqual(tally.failures(), []);
  });

  it('a 10 MB body is refused with 413 on every route that takes a body', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const json = Buffer.concat([Buffer.from('{"value":"'), big, Buffer.from('"}')]);
    const targets: Array<[string, string, Buffer, string]> = [
      ['PUT', `/api/v1/projects/${SLUG}/secrets/production/BIG`, json, 'application/json'],
      ['POST', `/api/v1/projects/${SLUG}/secrets/production:import`, Buffer.concat([Buffer.from('BIG='), big]), 'text/plain'],
      ['POST', `/api/v1/projects/${SLUG}/secrets/production:import`, json, 'application/json'],
      ['POST', '/api/v1/projects', json, 'application/json'],
      ['POST', '/api/v1/session', json, 'application/json'],
      ['POST', `/api/v1/projects/${SLUG}/deployments`, json, 'application/json'],
      ['POST', '/api/v1/tokens', json, 'application/json'],
    ];
    for (const [method, path, body, type] of targets) {
      // The server answers 413 as soon as it sees the Content-Length, then reads and discards the
      // rest (a lingering close, src/http/plugins/linger.ts): the client writing it gets the answer,
      // not a reset, every time. Node < 24 closes at once (LINGERING): a reset there is retried.
      let r = await bigRequest(method, path, body, type);
      for (let i = 0; i < 3 && r.status === 0 && !LINGERING; i++) r = await bigRequest(method, path, body, type);
      tally.case(
        '10 MB bodies',
        r.status === 413 && (r.body === undefined || r.body.error?.code === 'payload_too_large'),
        `${method} ${path} (${type}) → ${r.status}`,
      );
    }
    assert.deepEqual(tally.failures(), []);
  });

  it('oversized and malformed dotenv imports are refused whole, with the line named', async () => {
    const path = `/api/v1/projects/${SLUG}/secrets/preview:import`;
    const before = await secretCount();
    const cases: Array<[string, string, number[]]> = [
      ['5 MB + 1 byte', `A=${'x'.repeat(5 * 1024 * 1024 - 1)}`, [413]],
      ['5,001 entries', Array.from({ length: 5001 }, (_, i) => `K_${i}=v`).join('\n'), [413]],
      ['a line without =', 'GOOD=1\nJUST_A_NAME\n', [400, 422]],
      ['an unterminated double quote', 'GOOD=1\nBAD="abc\n', [400, 422]],
      ['an unterminated single quote', "GOOD=1\nBAD='abc\n", [400, 422]],
      ['a duplicate name', 'DUP=1\nDUP=2\n', [400, 422]],
      ['a name with a dash', 'GOOD=1\nBAD-NAME=1\n', [400, 422]],
      ['a name with a leading digit', '9LIVES=1\n', [400, 422]],
      ['an empty name', '=value\n', [400, 422]],
      ['a bad escape after a quote', 'A="x"garbage\n', [400, 422]],
      ['only binary noise', '\u0001\u0002\u0003', [400, 422]],
      ['an export of nothing', 'export \n', [400, 422]],
      ['a JSON import with 5,001 entries', '', [413, 400]],
      ['a JSON import with a non-string value', '', [400]],
    ];
    for (const [label, text, want] of cases) {
      // biome-ignore lint/suspicious/noImplicitAnyLet: each branch below assigns the response
      let r;
      if (label === 'a JSON import with 5,001 entries')
        r = await api.post(path, { secrets: Object.fromEntries(Array.from({ length: 5001 }, (_, i) => [`K_${i}`, 'v'])) });
      else if (label === 'a JSON import with a non-string value') r = await api.post(path, { secrets: { GOOD: 'x', BAD: { nested: true } } });
      else r = await api.post(path, text, { contentType: 'text/plain' });
      const named = r.status === 413 || /line \d+|secrets\./.test(r.body?.error?.message ?? '') || /secrets\./.test(r.body?.error?.field ?? '');
      tally.case('dotenv imports', want.includes(r.status) && errorShape(r.body) && named, `${label} → ${r.status} ${r.text.slice(0, 160)}`);
    }
    assert.equal(await secretCount(), before, 'all or nothing: no entry of a refused import was written');
    assert.deepEqual(tally.failures(), []);
  });

  it('web forms: invalid UTF-8, lone surrogates, NUL, 65,537-byte values, bad names and a 10 MB post to the secrets form are refused, and echoed names are HTML-escaped', async () => {
    const login = await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    const session = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await login.json()) as { csrfToken: string }).csrfToken };
    const form = `/projects/${SLUG}/settings/secrets`;
    const probe = await rawHttp(server.url, 'GET', form, { cookie: session.cookie });
    if (probe.status === 404) {
      tally.case('web forms', true, 'no web secrets form in this build');
      return;
    }
    const before = await secretCount();
    const post = (path: string, body: string) =>
      rawHttp(
        server.url,
        'POST',
        path,
        { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        `_csrf=${encodeURIComponent(session.csrf)}&${body}`,
      );
    const cases: Array<[string, string, string, number[]]> = [
      ['a value with a percent escape that is not UTF-8', form, 'name=WEB_A&scope=production&value=a%FFb', [400]],
      ['a value with a lone surrogate (CESU-8 escapes)', form, 'name=WEB_A&scope=production&value=%ED%A0%80', [400]],
      ['a value with NUL', form, 'name=WEB_A&scope=production&value=a%00b', [400]],
      ['a value of 65,537 bytes', form, `name=WEB_A&scope=production&value=${'a'.repeat(65_537)}`, [413]],
      ['a name with a leading digit', form, 'name=1WEB&scope=production&value=x', [400]],
      ['a name with a Cyrillic look-alike', form, `name=${encodeURIComponent('\u0410PI')}&scope=production&value=x`, [400]],
      ['a name with an HTML tag', form, `name=${encodeURIComponent('<script>alert(1)</script>')}&scope=production&value=x`, [400]],
      ['a dotenv import with invalid UTF-8', `${form}/import`, 'scope=production&dotenv=GOOD%3D1%0ABAD%3Da%FF', [400]],
      ['a malformed dotenv import', `${form}/import`, 'scope=production&dotenv=GOOD%3D1%0AJUST_A_NAME', [400, 422]],
      ['a 10 MB form post', form, `name=WEB_BIG&scope=production&value=${'a'.repeat(10 * 1024 * 1024)}`, [413]],
    ];
    for (const [label, path, body, want] of cases) {
      // a big post may be cut off by the server's early 413 before the answer is read: retried
      let r = await post(path, body).catch(() => ({ status: 0, text: '', location: undefined }));
      for (let i = 0; i < 4 && r.status === 0; i++) r = await post(path, body).catch(() => ({ status: 0, text: '', location: undefined }));
      const escaped = !r.text.includes('<script>alert(1)</script>');
      tally.case('web forms', want.includes(r.status) && escaped && !r.text.includes(MARKER), `${label} → ${r.status} ${r.text.slice(0, 120)}`);
    }
    assert.equal(await secretCount(), before, 'no refused form wrote anything');
    assert.deepEqual(tally.failures(), []);
  });

  it('path traversal: .., %2e%2e%2f, encoded slashes and NUL in every path parameter reach nothing', async () => {
    const doc = (await api.get('/api/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const login = await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    const session = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await login.json()) as { csrfToken: string }).csrfToken };
    const attacks = ['..', '%2e%2e', '%2e%2e%2f', '..%2f..%2fetc%2fpasswd', '%2e%2e%5c', '..%00', '%252e%252e%252f', '.%2e', '..;', '%c0%ae%c0%ae%2f'];
    let routes = 0;
    for (const [template, methods] of Object.entries(withWebRoutes(doc.paths))) {
      const params = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      if (params.length === 0) continue;
      for (const method of Object.keys(methods)) {
        routes++;
        for (const target of params) {
          for (const a of attacks) {
            const path = template.replace(/\{(\w+)\}/g, (_, p: string) => {
              if (p === target) return a;
              if (p === 'slug') return SLUG;
              if (p === 'scope') return 'production';
              if (p === 'scopeImport') return 'production:import';
              if (p === 'name') return 'EXISTING';
              if (p === 'pr') return '1';
              return 'x';
            });
            const isApi = template.startsWith('/api/');
            const hasBody = method !== 'get' && method !== 'delete';
            // sent byte for byte; web pages take the session cookie and the CSRF token, the API a bearer token
            const r = await rawHttp(
              server.url,
              method.toUpperCase(),
              path,
              isApi
                ? { authorization: `Bearer ${api.token}`, ...(hasBody ? { 'content-type': 'application/json' } : {}) }
                : { cookie: session.cookie, 'x-csrf-token': session.csrf, ...(hasBody ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
              hasBody ? (isApi ? '{}' : '') : undefined,
            );
            // a page may redirect to its first sub-page, but only within this site (no //host, no scheme)
            const sameSiteRedirect = !isApi && r.status === 303 && !!r.location && /^\/(?![\/\\])/.test(r.location);
            const ok = ((r.status >= 400 && r.status < 500) || sameSiteRedirect) && !r.text.includes(MARKER) && !/root:|\[boot loader\]/.test(r.text);
            tally.case(isApi ? 'path traversal' : 'path traversal (web pages)', ok, `${method.toUpperCase()} ${path} → ${r.status}`);
          }
        }
      }
    }
    assert.ok(routes >= 10, `the route table has the parameterised routes (${routes})`);
    // the project and its secret are intact
    const list = await api.get(`/api/v1/projects/${SLUG}/secrets?scope=production`);
    assert.ok(list.body.secrets.some((s: { name: string; deleted: boolean }) => s.name === 'EXISTING' && !s.deleted));
    assert.deepEqual(tally.failures(), []);
  });
});
