import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { stopOrKill, writeFigures } from '../security/support.js';
import { sleep } from './support.js';

/**
 * Slow and abusive clients on loopback: slowloris, a body that never ends, 1,000 idle connections,
 * a client that never reads a 1,000-value release. The server keeps serving others, closes each
 * abuser within its bound (short settings here, so the test stays short), and its memory stays bounded.
 */
const SETTINGS = {
  KEYLOFT_HEADERS_TIMEOUT_S: '2',
  KEYLOFT_REQUEST_TIMEOUT_S: '4',
  KEYLOFT_KEEP_ALIVE_TIMEOUT_S: '2',
  KEYLOFT_IDLE_TIMEOUT_S: '4',
  KEYLOFT_MAX_CONNECTIONS: '2000',
};

function open(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the ms until the server closed the socket (or -1 after `maxMs`), and what it sent. */
function closedWithin(s: Socket, maxMs: number): Promise<{ ms: number; received: string }> {
  const t0 = Date.now();
  let received = '';
  s.on('data', (d: Buffer) => {
    if (received.length < 2000) received += d.toString('latin1');
  });
  s.on('error', () => {});
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ms: -1, received }), maxMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - t0, received });
    });
  });
}

async function rss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** Others are served while `during` runs: one request every 200 ms, all must answer 200. */
async function servedMeanwhile(url: string, during: Promise<unknown>): Promise<{ ok: number; failed: number }> {
  let done = false;
  void during.finally(() => (done = true));
  let ok = 0;
  let failed = 0;
  while (!done) {
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      await r.arrayBuffer();
      if (r.status === 200) ok++;
      else failed++;
    } catch {
      failed++;
    }
    await sleep(200);
  }
  return { ok, failed };
}

describe('slow and abusive clients', () => {
  let store: TestStore;
  let server: TestServer | undefined;
  let api: Api;
  const sockets: Socket[] = [];
  const figures: Record<string, unknown> = {};

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store, { env: SETTINGS });
    api = await bootstrap(server);
    assert.equal((await api.post('/api/v1/projects', { slug: 'slow', name: 'slow' })).status, 201);
    await grantRelease(api, 'slow');
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await stopOrKill(server);
    await store?.cleanup();
    writeFigures('faults-slow-clients', figures);
  });

  it('slowloris (headers a byte a second) is cut after KEYLOFT_HEADERS_TIMEOUT_S while others are served', { timeout: 60_000 }, async () => {
    const s = await open(server!.url);
    sockets.push(s);
    s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const drip = setInterval(() => s.writable && s.write('a'), 1000);
    const closed = closedWithin(s, 30_000);
    const meanwhile = await servedMeanwhile(server!.url, closed);
    clearInterval(drip);
    const { ms, received } = await closed;
    assert.ok(ms >= 0, 'the server closed the slowloris connection');
    assert.ok(received === '' || /^HTTP\/1\.1 408/.test(received), `nothing but a 408: ${received.slice(0, 80)}`);
    assert.equal(meanwhile.failed, 0);
    assert.ok(meanwhile.ok > 0);
    figures.slowlorisClosedAfterMs = ms;
  });

  it('a body that never ends is cut after KEYLOFT_REQUEST_TIMEOUT_S while others are served', { timeout: 60_000 }, async () => {
    const s = await open(server!.url);
    sockets.push(s);
    s.write(
      `PUT /api/v1/projects/slow/secrets/production/NEVER HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${api.token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"value":"`,
    );
    const drip = setInterval(() => s.writable && s.write('x'), 500);
    const closed = closedWithin(s, 30_000);
    const meanwhile = await servedMeanwhile(server!.url, closed);
    clearInterval(drip);
    const { ms, received } = await closed;
    assert.ok(ms >= 0, 'the server closed the connection of the endless body');
    assert.ok(received === '' || /^HTTP\/1\.1 (408|400)/.test(received), `nothing but a 408/400: ${received.slice(0, 80)}`);
    assert.equal(meanwhile.failed, 0);
    const list = await api.get('/api/v1/projects/slow/secrets');
    assert.ok(!list.body.secrets.some((x: { name: string }) => x.name === 'NEVER'), 'nothing half-written');
    figures.endlessBodyClosedAfterMs = ms;
  });

  it('1,000 idle connections: others are served, every idle one is closed, memory stays bounded', { timeout: 60_000 }, async () => {
    const before = await rss(server!.url);
    const idle: Socket[] = [];
    for (let i = 0; i < 1000; i++) idle.push(await open(server!.url));
    sockets.push(...idle);
    const closes = idle.map((s) => closedWithin(s, 30_000));
    // Others are served while the 1,000 are open.
    for (let i = 0; i < 10; i++) assert.equal((await api.get('/api/v1/projects/slow/secrets')).status, 200);
    const during = await rss(server!.url);
    const results = await Promise.all(closes);
    const closed = results.filter((r) => r.ms >= 0).length;
    assert.equal(closed, 1000, `the server closed ${closed} of 1,000 idle connections`);
    const after = await rss(server!.url);
    assert.ok(during - before < 200 * 1024 * 1024, `resident memory grew by ${Math.round((during - before) / 1048576)} MiB with 1,000 idle connections`);
    figures.idleConnections = {
      opened: 1000,
      closedByServer: closed,
      slowestCloseMs: Math.max(...results.map((r) => r.ms)),
      rssBeforeMiB: Math.round(before / 1048576),
      rssDuringMiB: Math.round(during / 1048576),
      rssAfterMiB: Math.round(after / 1048576),
    };
  });

  it('a client that never reads the response of a 1,000-value release is cut after KEYLOFT_IDLE_TIMEOUT_S; others are served, memory stays bounded', {
    timeout: 120_000,
  }, async () => {
    // 1,000 values of 60 kB: a ~60 MB release, more than loopback socket buffers hold (up to 32 MB
    // receive + 4 MB send with Linux defaults), in imports of 80 (an import body is bounded at 5 MiB).
    for (let part = 0; part * 80 < 1000; part++) {
      const secrets: Record<string, string> = {};
      for (let i = part * 80; i < Math.min(1000, (part + 1) * 80); i++) secrets[`V_${String(i).padStart(4, '0')}`] = `${i}-${'v'.repeat(60_000)}`;
      const imp = await api.post('/api/v1/projects/slow/secrets/production:import', { secrets });
      assert.equal(imp.status, 200, imp.text.slice(0, 300));
    }
    const dep = await api.post('/api/v1/projects/slow/deployments', { environment: 'production' });
    assert.equal(dep.status, 201, dep.text);
    const before = await rss(server!.url);
    const s = await open(server!.url);
    sockets.push(s);
    s.on('error', () => {});
    s.write(`GET /api/v1/deployments/${dep.body.id}/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${dep.body.token}\r\n\r\n`);
    // Read nothing for longer than the idle timeout (4 s) once the response has begun: the server's
    // writes back up and stop. (A paused socket still takes its first bytes into its own buffer.)
    s.pause();
    for (let waited = 0; s.readableLength === 0 && waited < 60_000; waited += 100) await sleep(100);
    const meanwhile = await servedMeanwhile(server!.url, sleep(10_000));
    const during = await rss(server!.url);
    // Then read what is there: a server that cut the connection ends it short of its Content-Length.
    let head = '';
    let bytes = 0;
    const ended = new Promise<boolean>((resolve) => {
      s.on('data', (d: Buffer) => {
        if (head.length < 4096 && !head.includes('\r\n\r\n')) head += d.toString('latin1');
        bytes += d.length;
      });
      s.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 30_000).unref();
      s.resume();
    });
    assert.ok(await ended, 'the connection was closed by the server');
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    const body = bytes - (head.indexOf('\r\n\r\n') + 4);
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.ok(body < length, `the server cut the response it could not send (${body} of ${length} bytes arrived)`);
    assert.equal(meanwhile.failed, 0);
    assert.ok(meanwhile.ok > 0);
    const after = await rss(server!.url);
    assert.ok(during - before < 300 * 1024 * 1024, `resident memory grew by ${Math.round((during - before) / 1048576)} MiB`);
    assert.equal(server!.process.exitCode, null);
    figures.unreadRelease = {
      values: 1000,
      responseBytes: length,
      bytesSentBeforeCut: body,
      servedMeanwhile: meanwhile.ok,
      rssBeforeMiB: Math.round(before / 1048576),
      rssDuringMiB: Math.round(during / 1048576),
      rssAfterMiB: Math.round(after / 1048576),
    };
  });
});

describe('the connection limit', () => {
  let store: TestStore;
  let server: TestServer | undefined;
  const sockets: Socket[] = [];

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store, { env: { KEYLOFT_MAX_CONNECTIONS: '16', KEYLOFT_HEADERS_TIMEOUT_S: '2', KEYLOFT_REQUEST_TIMEOUT_S: '4' } });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await stopOrKill(server);
    await store?.cleanup();
  });

  it('refuses connections beyond KEYLOFT_MAX_CONNECTIONS at once, and serves again when the idle ones are cut', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 16; i++) sockets.push(await open(server!.url));
    const extra = await open(server!.url);
    sockets.push(extra);
    const { ms } = await closedWithin(extra, 1500);
    assert.ok(ms >= 0 && ms < 1500, 'the 17th connection is closed at once');
    // The 16 idle ones are cut after KEYLOFT_HEADERS_TIMEOUT_S; then requests are served again.
    let status = 0;
    for (let waited = 0; waited < 30_000 && status !== 200; waited += 500) {
      await sleep(500);
      try {
        status = (await fetch(`${server!.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status;
      } catch {
        status = 0;
      }
    }
    assert.equal(status, 200);
  });
});
