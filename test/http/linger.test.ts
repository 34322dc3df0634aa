import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { LINGER_BYTES, LINGER_MS, LINGERING } from '../../src/http/plugins/linger.js';
import { testApp } from '../helpers/app.js';

/** The app listening on 127.0.0.1 (the lingering close needs real sockets); its port. */
async function listening(t: Parameters<typeof testApp>[0]) {
  const a = await testApp(t);
  await a.app.listen({ host: '127.0.0.1', port: 0 });
  return { a, port: (a.app.server.address() as AddressInfo).port };
}

/**
 * A raw client connection, half-open as an HTTP client is (it goes on writing its body after the
 * server's FIN): what it has read so far, its first socket error, its end (the server's FIN) and close.
 */
async function rawClient(port: number) {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const c = { sock, got: '', error: undefined as string | undefined, closed: new Promise<void>((r) => sock.once('close', () => r())) };
  sock.setEncoding('latin1');
  sock.on('data', (chunk: string) => {
    c.got += chunk;
  });
  sock.on('error', (err: NodeJS.ErrnoException) => {
    c.error ??= err.code ?? err.message;
  });
  return c;
}

function drainedOrClosed(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.once('drain', done);
    sock.once('close', done);
  });
}

/**
 * A client that writes its whole body without waiting for an answer (no `Expect: 100-continue`, as
 * fetch and the keyloft CLI send it), over a raw socket so each step is in order: the head and the
 * first MiB, then (once the early answer has arrived and the server has had time to close) the rest.
 * Without a lingering close the server closes with the first MiB unread, its kernel answers with a
 * reset, and the rest of the body fails with EPIPE or ECONNRESET (a client in the middle of one big
 * write, as most are, then loses the answer it was sent: seen as 4 of 10 `fetch`-like uploads).
 */
async function sendWhole(port: number, path: string, headers: Record<string, string>, total: number, opts: { declared?: number } = {}) {
  const c = await rawClient(port);
  const sock = c.sock;
  const ended = new Promise<boolean>((r) => {
    sock.once('end', () => r(true));
    sock.once('close', () => r(false));
  });
  const head = Object.entries({ host: '127.0.0.1', 'content-type': 'application/json', 'content-length': String(opts.declared ?? total), ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const mib = Buffer.alloc(1024 * 1024, 0x61);
  sock.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
  sock.write(mib);
  for (let i = 0; i < 200 && !/\r\n\r\n/.test(c.got) && c.error === undefined; i++) await sleep(10);
  await sleep(150);
  let sent = mib.length;
  for (; sent < total && c.error === undefined && !sock.destroyed; sent += mib.length) {
    const chunk = mib.subarray(0, Math.min(mib.length, total - sent));
    if (!sock.write(chunk)) await drainedOrClosed(sock);
  }
  sock.end(); // the client is done; the server, lingering, now closes
  const fin = await ended; // the server's FIN (true), or a close without one (false)
  await c.closed;
  return { answer: c.got, error: c.error, fin, sent };
}

describe('a body over the limit, sent whole by a client that does not wait for 100-continue', () => {
  it('is answered 413 payload_too_large, the client can write its whole body, and the server then ends the connection cleanly', {
    skip: !LINGERING && 'Node < 24 closes such a connection at once (src/http/plugins/linger.ts LINGERING)',
  }, async (t) => {
    const { a, port } = await listening(t);
    const { token } = await a.userWithToken('ada@example.com', { admin: true });
    const total = 10 * 1024 * 1024;
    for (const [path, headers] of [
      ['/api/v1/session', {}],
      ['/api/v1/projects', { authorization: `Bearer ${token}` }],
    ] as const) {
      const r = await sendWhole(port, path, headers, total);
      assert.equal(r.error, undefined, `${path}: the client's write failed (${r.error}): a reset instead of a lingering close`);
      assert.match(r.answer, /^HTTP\/1\.1 413 /, path);
      assert.match(r.answer, /"code":"payload_too_large"/, path);
      assert.match(r.answer, /\r\nconnection: close\r\n/i, path);
      assert.equal(r.fin, true, `${path}: the server ended its side with a FIN`);
    }
    // The server is still whole: a normal request on a new connection is answered.
    assert.equal((await a.request('GET', '/healthz')).status, 200);
  });

  it('runs nothing pipelined after the refused body on that connection', async (t) => {
    const { a, port } = await listening(t);
    const { token } = await a.userWithToken('ada@example.com', { admin: true });
    const body = Buffer.alloc(2 * 1024 * 1024, 0x61);
    const next = JSON.stringify({ slug: 'pipelined', name: 'Pipelined' });
    const c = await rawClient(port); // the server may close as the pipelined request arrives: c.error is not checked
    const { sock } = c;
    const auth = `authorization: Bearer ${token}\r\n`;
    // The refused request, its body and a request that would create a project, in one write: the
    // server reads the second one from the same buffer as the end of the refused body.
    sock.write(
      Buffer.concat([
        Buffer.from(`POST /api/v1/projects HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`),
        body,
        Buffer.from(
          `POST /api/v1/projects HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(next)}\r\n\r\n${next}`,
        ),
      ]),
    );
    await sleep(300);
    sock.end();
    await c.closed;
    assert.match(c.got, /^HTTP\/1\.1 413 /);
    assert.equal(c.got.match(/HTTP\/1\.1 /g)?.length, 1, c.got.slice(0, 400));
    const list = await a.request('GET', '/api/v1/projects', { token });
    assert.equal(list.status, 200, list.text);
    assert.ok(!list.text.includes('pipelined'), `the pipelined request ran: ${list.text}`);
  });

  it('stops draining after LINGER_BYTES: a client that goes on sending is cut off', {
    skip: !LINGERING && 'Node < 24 closes such a connection at once (src/http/plugins/linger.ts LINGERING)',
  }, async (t) => {
    const { port } = await listening(t);
    // Declares 1 GiB and sends up to twice the drain bound; the server must close well before that.
    const r = await sendWhole(port, '/api/v1/session', {}, 2 * LINGER_BYTES, { declared: 1024 * 1024 * 1024 });
    assert.match(r.answer, /^HTTP\/1\.1 413 /);
    assert.ok(r.sent < 2 * LINGER_BYTES, `the server drained all ${r.sent} bytes`);
    assert.ok(r.sent > LINGER_BYTES / 2, `cut off after only ${r.sent} bytes`);
  });

  it('stops draining after LINGER_MS: a client that goes silent is closed', {
    skip: !LINGERING && 'Node < 24 closes such a connection at once (src/http/plugins/linger.ts LINGERING)',
  }, async (t) => {
    const { port } = await listening(t);
    const c = await rawClient(port);
    const { sock } = c;
    sock.write(`POST /api/v1/session HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${10 * 1024 * 1024}\r\n\r\n`);
    sock.write(Buffer.alloc(64 * 1024, 0x61));
    // Then nothing: neither the rest of the body nor a FIN. The request timeout (60 s) would end it
    // much later; the drain's own bound ends it after LINGER_MS. A half-open client only learns that
    // when it writes again: to a closed socket, and the server's kernel answers with a reset.
    await sleep(LINGER_MS + 1_000);
    assert.match(c.got, /^HTTP\/1\.1 413 /);
    for (let i = 0; i < 20 && !sock.destroyed; i++) {
      sock.write(Buffer.alloc(64 * 1024, 0x61));
      await Promise.race([c.closed, sleep(100)]);
    }
    assert.ok(sock.destroyed, `the server still reads the body ${LINGER_MS + 1_000} ms after its answer`);
    sock.destroy();
  });
});
