/**
 * The shared HTTP client (src/client/http.ts) against real 127.0.0.1 servers: a token reaches only
 * the URL it was given, a redirect or a 421 to a foreign origin is not followed, and every failure
 * is a clear CommandError that names the URL and carries no token or value.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { request } from '../../src/client/http.js';
import { CommandError } from '../../src/domain/exit-codes.js';

interface Fake {
  url: string;
  server: Server;
  /** "METHOD path authorization" of every request received. */
  seen: string[];
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

function fake(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    handler(req, res);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen })),
  );
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const TOKEN = 'kldt_client-test-token-0123456789';
const VALUE = 'sk_live_never-in-an-error';

/** A CommandError with this exit code whose message matches `re` and holds neither the token nor the value. */
function clean(exitCode: number, re: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof CommandError, String(e));
    assert.equal(e.exitCode, exitCode, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes(TOKEN) && !e.message.includes(VALUE), e.message);
    return true;
  };
}

describe('the shared HTTP client', () => {
  test('sends the token and the JSON body to the URL it is given and returns the parsed reply', async () => {
    let body = '';
    const api = await fake((req, res) => {
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => json(res, 201, { ok: true }));
    });
    const r = await request<{ ok: boolean }>({ method: 'POST', base: `${api.url}/`, path: '/api/v1/x', token: TOKEN, body: { value: VALUE } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body, { ok: true });
    assert.deepEqual(api.seen, [`POST /api/v1/x Bearer ${TOKEN}`]);
    assert.deepEqual(JSON.parse(body), { value: VALUE });
  });

  test('an HTTP redirect to a foreign origin is refused: the token is not sent there (exit 3, names both origins)', async () => {
    const foreign = await fake((_req, res) => json(res, 200, { stolen: true }));
    const api = await fake((_req, res) => {
      res.writeHead(307, { location: `${foreign.url}/api/v1/x` });
      res.end();
    });
    await assert.rejects(
      request({ method: 'POST', base: api.url, path: '/api/v1/x', token: TOKEN, body: { value: VALUE } }),
      clean(3, new RegExp(`${api.url}.*HTTP 307.*${foreign.url}`)),
    );
    assert.deepEqual(foreign.seen, [], 'the foreign origin got no request');
  });

  test('a redirect within the same origin is not followed either (the token stays on the configured URL)', async () => {
    const api = await fake((req, res) => {
      if (req.url === '/api/v1/x') {
        res.writeHead(302, { location: '/elsewhere' });
        res.end();
      } else json(res, 200, {});
    });
    await assert.rejects(request({ method: 'GET', base: api.url, path: '/api/v1/x', token: TOKEN }), clean(3, /redirect/));
    assert.deepEqual(api.seen, [`GET /api/v1/x Bearer ${TOKEN}`]);
  });

  test('a 421 naming a foreign release URL is refused before the token is sent there; a configured one is followed once', async () => {
    const release = await fake((_req, res) => json(res, 200, { from: 'release' }));
    const api = await fake((_req, res) =>
      json(res, 421, { error: { code: 'wrong_role', message: 'no keys here', field: null, details: { releaseUrl: `${release.url}/` } } }),
    );
    await assert.rejects(
      request({ method: 'GET', base: api.url, path: '/api/v1/deployments/d/secrets', token: TOKEN, follow421: { releaseUrls: [] } }),
      clean(2, /not sent there.*KEYLOFT_RELEASE_URL/),
    );
    await assert.rejects(
      request({
        method: 'GET',
        base: api.url,
        path: '/api/v1/deployments/d/secrets',
        token: TOKEN,
        follow421: { releaseUrls: [`${release.url}/other-path`, 'http://127.0.0.1:1'] },
      }),
      clean(2, /not sent there/),
    );
    assert.deepEqual(release.seen, [], 'the release URL got no request while it was not configured');
    const r = await request({ method: 'GET', base: api.url, path: '/api/v1/deployments/d/secrets', token: TOKEN, follow421: { releaseUrls: [release.url] } });
    assert.equal(r.status, 200);
    assert.equal(r.base, release.url);
    assert.deepEqual(release.seen, [`GET /api/v1/deployments/d/secrets Bearer ${TOKEN}`]);
  });

  test('without a 421 policy the 421 is returned as is, and nothing is sent to the URL it names', async () => {
    const release = await fake((_req, res) => json(res, 200, {}));
    const api = await fake((_req, res) => json(res, 421, { error: { code: 'wrong_role', message: 'm', field: null, details: { releaseUrl: release.url } } }));
    const r = await request({ method: 'GET', base: api.url, path: '/api/v1/x', token: TOKEN });
    assert.equal(r.status, 421);
    assert.deepEqual(release.seen, []);
  });

  test('a request with a token may not follow a 421 anywhere', async () => {
    const release = await fake((_req, res) => json(res, 200, {}));
    const api = await fake((_req, res) => json(res, 421, { error: { code: 'wrong_role', message: 'm', field: null, details: { releaseUrl: release.url } } }));
    await assert.rejects(request({ method: 'GET', base: api.url, path: '/x', token: TOKEN, follow421: 'anywhere-without-token' }), /without a token/);
    assert.deepEqual(release.seen, []);
  });

  test('a server that does not answer in time is a clear error naming the URL (exit 3)', async () => {
    const silent = await fake(() => {
      // never answers
    });
    await assert.rejects(
      request({ method: 'POST', base: silent.url, path: '/api/v1/x', token: TOKEN, body: { value: VALUE }, timeoutMs: 200 }),
      clean(3, new RegExp(`cannot reach the keyloft server at ${silent.url} \\(no answer within 0\\.2 s\\)`)),
    );
  });

  test('a server that is not there is a clear error naming the URL (exit 3)', async () => {
    const gone = await fake(() => {});
    const url = gone.url;
    await new Promise<void>((r) => gone.server.close(() => r()));
    await assert.rejects(
      request({ method: 'GET', base: url, path: '/api/v1/x', token: TOKEN }),
      clean(3, new RegExp(`cannot reach the keyloft server at ${url} \\(ECONNREFUSED\\)`)),
    );
  });

  test('an answer that is not JSON is a clear error naming the URL and the request, not the body (exit 2)', async () => {
    const html = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<html>${VALUE}</html>`);
    });
    await assert.rejects(
      request({ method: 'GET', base: html.url, path: '/api/v1/me?x=1', token: TOKEN }),
      clean(2, new RegExp(`${html.url} did not answer with JSON \\(HTTP 200 to GET /api/v1/me\\)`)),
    );
  });

  test('an error status with a body that is not JSON is returned (the caller names the status)', async () => {
    const proxy = await fake((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    const r = await request({ method: 'GET', base: proxy.url, path: '/api/v1/x' });
    assert.equal(r.status, 502);
    assert.equal(r.body, undefined);
  });
});
