import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { createLiveMaskStream, createMaskStream, Masker, maskPatterns, MIN_MASK_LENGTH } from '../../src/pipeline/mask.js';

function mask(values: Array<string | Uint8Array>, text: string | Buffer): string {
  return new Masker(values).maskAll(Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8')).toString('utf8');
}

/** Writes `chunks` one write each through a mask stream and collects the output. */
async function throughStream(values: Array<string | Uint8Array>, chunks: Buffer[]): Promise<Buffer> {
  const stream = createMaskStream(values);
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const ended = once(stream, 'end');
  for (const c of chunks) stream.write(c);
  stream.end();
  await ended;
  return Buffer.concat(out);
}

function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

function splitRandomly(buf: Buffer, maxSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const size = randomInt(1, maxSize + 1);
    out.push(buf.subarray(i, i + size));
    i += size;
  }
  return out;
}

/** The characters of base64(prefix(offset) + v + suffix) that depend on v alone. */
function coreRange(offset: number, length: number): [number, number] {
  return [Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + length)) / 6)];
}

describe('maskPatterns', () => {
  it('exports MIN_MASK_LENGTH = 4 and skips shorter values', () => {
    assert.equal(MIN_MASK_LENGTH, 4);
    assert.deepEqual(maskPatterns(['', 'a', 'abc', Buffer.from('xyz')]), []);
    const patterns = maskPatterns(['abcd']).map((p) => p.toString('latin1'));
    assert.ok(patterns.includes('abcd'));
    for (const p of maskPatterns(['abcd', 'hunter2-secret\nx\nyz'])) assert.ok(p.length >= MIN_MASK_LENGTH);
  });

  it('derives the value, its lines, base64 cores, URL and JSON forms without duplicates', () => {
    const value = 'pa ss/wörd"\nline-two';
    const patterns = maskPatterns([value, value]).map((p) => p.toString('utf8'));
    assert.equal(new Set(patterns).size, patterns.length);
    assert.ok(patterns.includes(value));
    assert.ok(patterns.includes('pa ss/wörd"'));
    assert.ok(patterns.includes('line-two'));
    assert.ok(patterns.includes(encodeURIComponent(value)));
    assert.ok(patterns.includes(encodeURIComponent(value).replace(/%20/g, '+')));
    assert.ok(patterns.includes(new URLSearchParams({ v: value }).toString().slice(2)));
    assert.ok(patterns.includes(JSON.stringify(value).slice(1, -1)));
    assert.ok(
      patterns.includes(
        Buffer.from(value)
          .toString('base64')
          .slice(0, coreRange(0, Buffer.byteLength(value))[1]),
      ),
    );
    // Longest first.
    for (let i = 1; i < patterns.length; i++) assert.ok(Buffer.byteLength(patterns[i - 1]!) >= Buffer.byteLength(patterns[i]!));
  });
});

describe('Masker.maskAll', () => {
  it('masks a single-line value wherever it occurs', () => {
    const secret = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
    assert.equal(mask([secret], `token=${secret}\n`), 'token=***\n');
    assert.equal(mask([secret], `${secret}${secret} and ${secret}`), '*** and ***');
    assert.equal(mask([Buffer.from(secret)], `a ${secret} b`), 'a *** b');
  });

  it('masks a multi-line PEM value as a whole and each of its lines', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const lines = pem.split('\n').filter((l) => l.length > 0);
    assert.ok(lines.length > 5);

    assert.equal(mask([pem], `key:\n${pem}done`), 'key:\n***done');
    // Printed with CRLF line endings (e.g. through a pty): still one mask.
    assert.equal(mask([pem], `key:\r\n${pem.replace(/\n/g, '\r\n')}done`), 'key:\r\n***done');
    // Each line on its own, e.g. a log that prints one line of the value.
    for (const line of lines) {
      assert.equal(mask([pem], `> ${line} <`), '> *** <');
    }
    // A line that is shorter than MIN_MASK_LENGTH is not a pattern of its own.
    assert.equal(mask(['first-line\nab\nthird-line'], 'x ab y'), 'x ab y');
    assert.equal(mask(['first-line\r\nab\r\nthird-line'], 'x third-line y'), 'x *** y');
  });

  it('masks base64 of the value at byte offsets 0, 1 and 2', () => {
    // Lengths covering every residue mod 3.
    for (const secret of ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'database-password-0001', 'hunter2-hunter2-x']) {
      const v = Buffer.from(secret);
      for (const offset of [0, 1, 2]) {
        for (let trial = 0; trial < 5; trial++) {
          const encoded = Buffer.concat([randomBytes(offset), v, randomBytes(randomInt(0, 4))]).toString('base64');
          const [from, to] = coreRange(offset, v.length);
          const masked = mask([secret], `auth: ${encoded}\n`);
          assert.equal(masked, `auth: ${encoded.slice(0, from)}***${encoded.slice(to)}\n`, `offset ${offset}`);
          assert.ok(!masked.includes(encoded.slice(from, to)));
        }
      }
    }
  });

  it('masks base64url of the value (no padding) at byte offsets 0, 1 and 2', () => {
    // Bytes that encode to '+' and '/' in standard base64, i.e. '-' and '_' in base64url.
    const v = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 0xfb, 0xef, 0xbe, 0xfb, 0xff, 0xfc, 0x3e, 0x3f, 0x00, 0xf8]);
    for (const offset of [0, 1, 2]) {
      for (let trial = 0; trial < 5; trial++) {
        const framed = Buffer.concat([randomBytes(offset), v, randomBytes(randomInt(0, 4))]);
        const url = framed.toString('base64url');
        const std = framed.toString('base64').replace(/=+$/, '');
        const [from, to] = coreRange(offset, v.length);
        assert.notEqual(url.slice(from, to), std.slice(from, to));
        assert.equal(mask([v], `?t=${url}&x=1`), `?t=${url.slice(0, from)}***${url.slice(to)}&x=1`, `offset ${offset}`);
        assert.equal(mask([v], `b64 ${std}.`), `b64 ${std.slice(0, from)}***${std.slice(to)}.`, `offset ${offset}`);
      }
    }
  });

  it('masks the URL-encoded value with spaces and &', () => {
    const secret = 'p@ss word&x=1/2?';
    const uri = encodeURIComponent(secret);
    const plus = uri.replace(/%20/g, '+');
    const form = new URLSearchParams({ v: secret }).toString().slice(2);
    assert.notEqual(uri, plus);
    assert.equal(mask([secret], `GET https://h.example/cb?code=${uri}&state=1`), 'GET https://h.example/cb?code=***&state=1');
    assert.equal(mask([secret], `POST body: code=${plus}&state=1`), 'POST body: code=***&state=1');
    assert.equal(mask([secret], `form: ${form};`), 'form: ***;');
    assert.equal(mask([secret], `raw ${secret}`), 'raw ***');
  });

  it('masks the JSON-escaped value containing quotes, backslash and newline', () => {
    const secret = 'he said "hi"\\ then\nleft';
    const body = JSON.stringify({ password: secret, user: 'ann' });
    assert.equal(mask([secret], body), '{"password":"***","user":"ann"}');
    const nonAscii = 'päss/wörd-ünïcode';
    assert.equal(mask([nonAscii], JSON.stringify({ p: nonAscii })), '{"p":"***"}');
    // Python's json.dumps (ASCII-only) and PHP's json_encode ("/" escaped).
    const pythonStyle = '"p\\u00e4ss/w\\u00f6rd-\\u00fcn\\u00efcode"';
    assert.equal(mask([nonAscii], pythonStyle), '"***"');
    assert.equal(mask([nonAscii], '"päss\\/wörd-ünïcode"'), '"***"');
  });

  it('merges overlapping and adjacent hits into one mask', () => {
    assert.equal(mask(['abcdef', 'defghi'], 'abcdefghi'), '***');
    assert.equal(mask(['abcdef', 'defghi'], '[abcdefghi]'), '[***]');
    assert.equal(mask(['abcdef', 'ghijkl'], 'abcdefghijkl!'), '***!');
    assert.equal(mask(['abcdef', 'ghijkl'], 'abcdef-ghijkl'), '***-***');
    assert.equal(mask(['wxyz'], 'wxyzwxyzwxyz'), '***');
  });

  it('does not mask values shorter than MIN_MASK_LENGTH', () => {
    assert.equal(mask(['a', 'ab', 'abc'], 'a ab abc abcabc'), 'a ab abc abcabc');
    assert.equal(mask(['abcd'], 'abc abcd'), 'abc ***');
  });

  it('passes output without secrets byte-identical, including binary data', () => {
    const masker = new Masker(['sk_live_4eC39HqLyjWDarjtT1zdp7dc', randomBytes(32).toString('hex')]);
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const binary = Buffer.concat([allBytes, randomBytes(200_000), allBytes]);
    assert.ok(masker.maskAll(binary).equals(binary));
    const text = Buffer.from('plain output\r\nwith "quotes" and ünïcode ✓\n', 'utf8');
    assert.ok(masker.maskAll(text).equals(text));
    assert.ok(masker.maskAll(Buffer.alloc(0)).equals(Buffer.alloc(0)));
    assert.ok(new Masker([]).maskAll(binary).equals(binary));
  });

  it('masks 10 MB of output with 200 secrets of 64 hex chars', () => {
    const secrets = Array.from({ length: 200 }, () => randomBytes(32).toString('hex'));
    const masker = new Masker(secrets);
    const parts: string[] = [];
    let size = 0;
    let inserted = 0;
    while (size < 10 * 1024 * 1024) {
      // Upper-case noise can never contain a (lower-case hex) secret or its base64/URL forms by chance.
      const noise = `log ${randomBytes(2000).toString('hex').toUpperCase()} `;
      const secret = secrets[inserted % secrets.length]!;
      parts.push(noise, secret, '\n');
      size += noise.length + secret.length + 1;
      inserted++;
    }
    const input = Buffer.from(parts.join(''), 'latin1');
    const output = masker.maskAll(input);
    assert.equal(output.length, input.length - inserted * (64 - 3));
    let masks = 0;
    for (let i = output.indexOf('***'); i !== -1; i = output.indexOf('***', i + 3)) masks++;
    assert.equal(masks, inserted);
    for (const secret of secrets.slice(0, 5)) assert.equal(output.indexOf(secret), -1);
  });
});

describe('createMaskStream', () => {
  const secret = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

  it('masks a value split across two writes', async () => {
    const text = Buffer.from(`before ${secret} after\n`);
    for (let cut = 1; cut < text.length; cut++) {
      const out = await throughStream([secret], [text.subarray(0, cut), text.subarray(cut)]);
      assert.equal(out.toString(), 'before *** after\n', `cut at ${cut}`);
    }
  });

  it('masks values written one byte at a time', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const text = Buffer.from(`a ${secret} b ${encodeURIComponent('x y&' + secret)} c\n${pem}end abcdefghi`);
    const out = await throughStream([secret, 'x y&' + secret, pem, 'abcdef', 'defghi'], splitEvery(text, 1));
    assert.equal(out.toString(), 'a *** b *** c\n***end ***');
  });

  it('produces the same bytes as maskAll however the input is split', async () => {
    const values = [secret, 'abcdef', 'defghi', 'multi\nline-value\n', randomBytes(24)];
    const masker = new Masker(values);
    const pieces: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const pick = randomInt(0, 6);
      if (pick < values.length) pieces.push(Buffer.from(values[pick]!));
      else pieces.push(randomBytes(randomInt(0, 40)));
      if (randomInt(0, 4) === 0) pieces.push(Buffer.from(Buffer.from(values[0]!).toString('base64')));
    }
    const input = Buffer.concat(pieces);
    const expected = masker.maskAll(input);
    assert.ok(!expected.equals(input));
    for (const maxSize of [1, 3, 7, 64, 4096]) {
      const out = await throughStream(values, splitRandomly(input, maxSize));
      assert.ok(out.equals(expected), `chunks of up to ${maxSize} bytes`);
    }
  });

  it('holds back at most (longest pattern - 1) bytes and flushes everything on end', async () => {
    // the longest pattern, the whitespace-insensitive hex form (twice the value's length) included
    const longest = Math.max(...maskPatterns([secret]).map((p) => p.length), new Masker([secret]).maxSpacedLength);
    const stream = createMaskStream([secret]);
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const ended = once(stream, 'end');

    stream.write(Buffer.from('x'.repeat(200)));
    await tick();
    assert.equal(Buffer.concat(out).length, 200 - (longest - 1));

    // A value completed on end, and a dangling prefix of it, are both flushed.
    stream.write(Buffer.from(` ${secret.slice(0, 10)}`));
    await tick();
    stream.end(Buffer.from(`${secret.slice(10)} ${secret.slice(0, 12)}`));
    await ended;
    assert.equal(Buffer.concat(out).toString(), `${'x'.repeat(200)} *** ${secret.slice(0, 12)}`);
  });

  it('holds nothing back when there is nothing to mask', async () => {
    const stream = createMaskStream(['abc', '']);
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    stream.write(Buffer.from('abc abc'));
    await tick();
    assert.equal(Buffer.concat(out).toString(), 'abc abc');
    stream.end();
    await once(stream, 'end');
  });

  it('passes binary data through byte-identical', async () => {
    const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(100_000)]);
    const out = await throughStream([secret], splitRandomly(binary, 5000));
    assert.ok(out.equals(binary));
  });

  it('masks 10 MB written in 64 KiB chunks like maskAll does', async () => {
    const secrets = Array.from({ length: 200 }, () => randomBytes(32).toString('hex'));
    const parts: string[] = [];
    for (let i = 0; parts.length < 15_000; i++) parts.push(randomBytes(700).toString('hex').toUpperCase(), secrets[i % 200]!);
    const input = Buffer.from(parts.join(' '), 'latin1');
    assert.ok(input.length > 10 * 1024 * 1024);
    const out = await throughStream(secrets, splitEvery(input, 64 * 1024));
    assert.ok(out.equals(new Masker(secrets).maskAll(input)));
    assert.equal(out.length, input.length - 7_500 * (64 - 3));
  });
});

/** The stdout of a real encoder fed `input` on stdin, or undefined when the tool is not installed. */
function encoder(tool: string, args: string[], input: Buffer): string | undefined {
  const r = spawnSync(tool, args, { input });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  assert.equal(r.status, 0, `${tool} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.toString('latin1');
}

const missing = (tool: string): false | string => (spawnSync(tool, ['--version']).error ? `SKIPPED: ${tool} is not installed` : false);

/** No 6-character window of the value's encodings survives in the masked output, whitespace removed. */
function assertNoEncodedWindow(masked: string, value: Buffer, label: string): void {
  const flat = masked.replace(/\s+/g, '');
  const forms = [
    value.toString('hex'),
    value.toString('hex').toUpperCase(),
    ...[0, 1, 2].map((o) =>
      Buffer.concat([Buffer.alloc(o), value])
        .toString('base64')
        .slice(Math.ceil((8 * o) / 6) + 1, Math.floor((8 * (o + value.length)) / 6) - 1),
    ),
  ];
  for (const f of forms)
    for (let i = 0; i + 6 <= f.length; i++) assert.ok(!flat.includes(f.slice(i, i + 6)), `${label}: "${f.slice(i, i + 6)}" of an encoding survived masking`);
  assert.ok(flat.includes('***'), `${label}: nothing was masked`);
}

describe('masking the output of real encoders (GNU base64, od, xxd)', () => {
  // Printable values, so the surrounding text stays text; one long (several wrapped lines), one short.
  const long = Buffer.from(`pk_live_${randomBytes(90).toString('base64url')}`);
  const short = Buffer.from(`s3cr3t-${randomBytes(4).toString('hex')}`);
  // Prefixes move the value through every phase of the line breaks (and every base64 byte offset).
  const prefixes = (n: number) => Array.from({ length: n }, (_, k) => Buffer.from('.'.repeat(k)));

  for (const [tool, args, width] of [
    ['base64', [], 76],
    ['base64', ['-w', '64'], 64],
    ['od', ['-An', '-tx1'], 16],
    ['xxd', ['-p'], 30],
    ['xxd', ['-p', '-u'], 30],
  ] as const) {
    it(`masks \`${tool} ${args.join(' ')}\` output of a value at every line-break phase`, { skip: missing(tool) }, () => {
      for (const value of [long, short]) {
        for (const prefix of prefixes(width + 3)) {
          const input = Buffer.concat([prefix, value, Buffer.from('\n-- trailer --\n')]);
          const out = encoder(tool, [...args], input)!;
          const masked = mask([value], out);
          assertNoEncodedWindow(masked, value, `${tool} ${args.join(' ')}, prefix ${prefix.length}`);
        }
      }
    });
  }

  it('the stream masks wrapped base64 split across writes exactly like maskAll', { skip: missing('base64') }, async () => {
    const out = Buffer.from(encoder('base64', [], Buffer.concat([Buffer.from('abc'), long, long]))!, 'latin1');
    const whole = new Masker([long]).maskAll(out);
    for (const size of [1, 7, 77, 500]) assert.ok((await throughStream([long], splitEvery(out, size))).equals(whole), `writes of ${size}`);
    const live = createLiveMaskStream([long]);
    const parts: Buffer[] = [];
    live.on('data', (c: Buffer) => parts.push(c));
    const ended = once(live, 'end');
    for (const c of splitRandomly(out, 40)) live.write(c);
    live.end();
    await ended;
    assert.ok(Buffer.concat(parts).equals(whole), 'the live stream agrees with maskAll');
    assertNoEncodedWindow(whole.toString('latin1'), long, 'base64 twice');
  });

  it('masks lower-case %xx URL encoding', () => {
    const value = 'p@ss w/rd:é&x=1';
    const lower = encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    assert.notEqual(lower, encodeURIComponent(value));
    assert.equal(mask([value], `url?q=${lower}&n=1`), 'url?q=***&n=1');
    const form = new URLSearchParams({ q: value }).toString().replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    assert.equal(mask([value], form), 'q=***');
  });

  it('does not mask whitespace-separated text that only resembles hex or base64', () => {
    const value = 'correct-horse-battery';
    const text = 'de ad be ef\nQUJD REVG\n0a 0b 0c\n';
    assert.equal(mask([value], text), text);
  });
});

describe('createLiveMaskStream', () => {
  it('writes out a line whose end could only begin a hex or wrapped-base64 form once the child pauses', async () => {
    const value = 'password-1234';
    assert.ok(Buffer.from(value).toString('hex').startsWith('7'));
    const stream = createLiveMaskStream([value]);
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    stream.write(Buffer.from('listening on port 7\n'));
    while (!Buffer.concat(out).toString().includes('port 7\n')) await once(stream, 'data');
    assert.equal(Buffer.concat(out).toString(), 'listening on port 7\n');
    // an exact form split across writes is still held back until it completes
    stream.write(Buffer.from(`token ${value.slice(0, 6)}`));
    stream.end(Buffer.from(`${value.slice(6)} done\n`));
    await once(stream, 'end');
    assert.equal(Buffer.concat(out).toString(), `listening on port 7\ntoken *** done\n`);
  });
});
