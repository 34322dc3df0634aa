/**
 * Library-level checks of src/pipeline/run.ts: the live mask stream and the release URL hop,
 * with small in-process fakes instead of a keyloft server.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Masker } from '../../src/pipeline/mask.js';
import { CommandError } from '../../src/domain/exit-codes.js';
import { createLiveMaskStream, fetchReleased } from '../../src/pipeline/run.js';

async function through(values: Array<string | Buffer>, chunks: Buffer[]): Promise<Buffer> {
  const s = createLiveMaskStream(values);
  const out: Buffer[] = [];
  s.on('data', (c: Buffer) => out.push(c));
  const ended = once(s, 'end');
  for (const c of chunks) s.write(c);
  s.end();
  await ended;
  return Buffer.concat(out);
}

function splitRandomly(buf: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = randomInt(1, max + 1);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe('live mask stream', () => {
  test('same output as masking the whole input at once, however the input is split', async () => {
    const values = ['secret-one', 'abcabcabd', 'line one\nline two\n', Buffer.from([0xff, 0x00, 0x10, 0x20, 0x30]), 'aaaa'];
    const masker = new Masker(values);
    const pieces = ['secret-one', 'secret-', 'abcabcabcabd', 'line one', 'line two', 'aaaaaaa', 'c2VjcmV0LW9uZQ', 'x', '\n', ' ', 'abc', 'secret-on'];
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 20; i++) parts.push(randomInt(4) === 0 ? randomBytes(randomInt(1, 5)) : Buffer.from(pieces[randomInt(pieces.length)]!));
      const input = Buffer.concat(parts);
      const expected = masker.maskAll(Buffer.from(input));
      const got = await through(values, splitRandomly(input, 7));
      assert.ok(got.equals(expected), `round ${round}: ${JSON.stringify(input.toString('latin1'))}`);
    }
  });

  test('same output as whole-input masking for random overlapping values over a tiny alphabet', async () => {
    const pick = (n: number) => Array.from({ length: n }, () => 'ab\n'[randomInt(3)]).join('');
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: randomInt(1, 4) }, () => pick(randomInt(4, 9)));
      const input = Buffer.from(pick(randomInt(0, 80)));
      const expected = new Masker(values).maskAll(Buffer.from(input));
      const got = await through(values, splitRandomly(input, 5));
      assert.ok(got.equals(expected), `values ${JSON.stringify(values)} input ${JSON.stringify(input.toString())}`);
    }
  });

  test('output that cannot become a secret is passed on at once, not held back', async () => {
    const s = createLiveMaskStream([`sk_live_${randomBytes(16).toString('hex')}`]);
    const got: string[] = [];
    s.on('data', (c: Buffer) => got.push(c.toString()));
    s.write('listening on :8080\n');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ['listening on :8080\n']);
    s.write('key: sk_li');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ['listening on :8080\n', 'key: '], 'a possible start of a secret waits');
  });
});

function fake(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

describe('fetching the pinned values', () => {
  test('an api-role 421 is followed once to details.releaseUrl, with the same token, when that is a configured release URL', async () => {
    const seen: string[] = [];
    const release = await fake((req, res) => {
      seen.push(`release ${req.url} ${req.headers.authorization}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ runtime: { A: 'value-a' }, build: { B: Buffer.from([0, 1, 2]).toString('base64') } }));
    });
    const api = await fake((req, res) => {
      seen.push(`api ${req.url}`);
      res.writeHead(421, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'wrong_role', message: 'no keys here', field: null, details: { releaseUrl: `${release.url}/` } } }));
    });
    try {
      const r = await fetchReleased({ url: api.url, deployment: 'dep1', token: 'kldt_x', releaseUrls: [release.url] });
      assert.deepEqual(r.runtime, { A: 'value-a' });
      assert.deepEqual([...r.build.B!], [0, 1, 2]);
      // (Node's fetch may itself retry a 421 once on a fresh connection: the api can see two hits.)
      assert.ok(seen.filter((x) => x.startsWith('api ')).every((x) => x === 'api /api/v1/deployments/dep1/secrets'));
      assert.deepEqual(
        seen.filter((x) => x.startsWith('release ')),
        ['release /api/v1/deployments/dep1/secrets Bearer kldt_x'],
      );
      assert.equal(seen.at(-1), 'release /api/v1/deployments/dep1/secrets Bearer kldt_x');
    } finally {
      api.server.close();
      release.server.close();
    }
  });

  test('a 421 naming a release URL that is neither the server nor configured is refused; the token is not sent there', async () => {
    const seen: string[] = [];
    const elsewhere = await fake((req, res) => {
      seen.push(String(req.headers.authorization));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ runtime: {}, build: {} }));
    });
    const api = await fake((_req, res) => {
      res.writeHead(421, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'wrong_role', message: 'no keys here', field: null, details: { releaseUrl: elsewhere.url } } }));
    });
    try {
      for (const releaseUrls of [undefined, [], ['http://127.0.0.1:1'], [`${elsewhere.url}/other-path`]]) {
        await assert.rejects(
          fetchReleased({ url: api.url, deployment: 'd', token: 'kldt_secret', ...(releaseUrls ? { releaseUrls } : {}) }),
          (e: unknown) => e instanceof CommandError && e.exitCode === 2 && /was not sent there/.test(e.message) && !e.message.includes('kldt_secret'),
        );
      }
      assert.deepEqual(seen, [], 'the other host got no request');
    } finally {
      api.server.close();
      elsewhere.server.close();
    }
  });

  test('a 421 without a release URL, or a second 421, is a refusal (exit 2)', async () => {
    let hits = 0;
    const loop = await fake((_req, res) => {
      hits++;
      res.writeHead(421, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            code: 'wrong_role',
            message: 'no keys here',
            details: hits === 1 ? { releaseUrl: `http://127.0.0.1:${(loop.server.address() as AddressInfo).port}` } : undefined,
          },
        }),
      );
    });
    try {
      await assert.rejects(
        fetchReleased({ url: loop.url, deployment: 'd', token: 't' }),
        (e: unknown) => e instanceof CommandError && e.exitCode === 2 && /421 wrong_role/.test(e.message),
      );
      assert.ok(hits >= 2 && hits <= 4, `followed once, not in a loop (${hits} hits, fetch may retry a 421 once)`);
    } finally {
      loop.server.close();
    }
  });

  test('a malformed reply is refused rather than half-used', async () => {
    const bad = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ runtime: { 'BAD NAME': 'x' }, build: {} }));
    });
    try {
      await assert.rejects(fetchReleased({ url: bad.url, deployment: 'd', token: 't' }), /malformed/);
    } finally {
      bad.server.close();
    }
  });
});
