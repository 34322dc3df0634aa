/**
 * The flyctl driver's encodings, checked against ports of flyctl's own stdin reader for
 * `flyctl secrets import` (internal/command/secrets/parser.go, both the current version and the
 * earlier one without quote stripping).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { buildSecretArgs, encodeFlySecret, flySecretsDotenv } from '../../src/pipeline/fly.js';
import { CommandError } from '../../src/domain/exit-codes.js';
import { parseFlySecrets } from './pipeline-fixture.js';

const PEM = `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`;

const ROUND_TRIP: Record<string, string> = {
  PLAIN: 'sk_live_abc123',
  EMPTY: '',
  WITH_EQUALS: 'a=b=c==',
  WITH_HASH: '#not a comment',
  LEADING_SPACES: '   three spaces',
  TRAILING_SPACES: 'two trailing  ',
  QUOTED: '"quoted"',
  ONE_QUOTE_START: '"start only',
  ONE_QUOTE_END: 'end only"',
  INNER_QUOTES: 'say "hi" there',
  TRIPLE_INSIDE: 'a"""b',
  BACKSLASH_N: 'literal \\n not a newline',
  UNICODE: 'pässwörd ✓ 🔑',
  PEM,
  PEM_NO_TRAILING_NEWLINE: PEM.trimEnd(),
  TWO_TRAILING_NEWLINES: 'line one\nline two\n\n',
  LEADING_NEWLINE: '\nafter a newline',
  ONLY_NEWLINE: '\n',
  BLANK_LINES_INSIDE: 'a\n\n\nb',
  HASH_LINE_INSIDE: 'first\n# second\n=third',
  QUOTES_IN_MULTILINE: '"""opening\nmiddle "quoted"\nlast line ends with """',
  SPACES_IN_MULTILINE: '  indented first\n  indented second',
  TAB_START: '\tleading tab',
  CR_INSIDE: 'a\rb',
};

describe('flyctl secrets import encoding', () => {
  test("every representable value round-trips through flyctl's current reader", () => {
    const text = flySecretsDotenv(ROUND_TRIP);
    assert.deepEqual(parseFlySecrets(text, true), ROUND_TRIP);
  });

  test('values with no leading space or quote are written bare, so older flyctl readers agree', () => {
    const simple = { PLAIN: ROUND_TRIP.PLAIN!, PEM, WITH_EQUALS: ROUND_TRIP.WITH_EQUALS!, INNER: ROUND_TRIP.INNER_QUOTES!, UNICODE: ROUND_TRIP.UNICODE! };
    const text = flySecretsDotenv(simple);
    assert.deepEqual(parseFlySecrets(text, false), simple);
    assert.deepEqual(parseFlySecrets(text, true), simple);
    assert.match(text, /^PLAIN=sk_live_abc123\n/m);
  });

  test('a multi-line value uses flyctl\'s """ form', () => {
    const r = encodeFlySecret('KEY', 'one\ntwo\n');
    assert.ok('text' in r);
    assert.equal(r.text, 'KEY="""one\ntwo\n"""\n');
  });

  test('random values round-trip or are refused by name, never silently changed', () => {
    const alphabet = ['a', 'b', ' ', '"', '\n', '=', '#', '\\', 'é', '\t', '\r'];
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(Math.random() * 12);
      let v = '';
      for (let j = 0; j < len; j++) v += alphabet[Math.floor(Math.random() * alphabet.length)];
      const r = encodeFlySecret('X', v);
      if ('text' in r) assert.deepEqual(parseFlySecrets(r.text, true), { X: v }, `value ${JSON.stringify(v)}`);
      else assert.equal(typeof r.problem, 'string');
    }
  });

  test('values flyctl cannot take are refused with the name and the reason, not the value', () => {
    const bad = { CRLF_PEM: 'line\r\nline2', ENDS_CR: 'abc\r', TWO_QUOTES: '""x"', ONE_QUOTE: '"', MIDDLE_TRIPLE: 'a\nb"""\nc', LONG: 'x'.repeat(70_000) };
    assert.throws(
      () => flySecretsDotenv(bad),
      (err: unknown) => {
        assert.ok(err instanceof CommandError);
        assert.equal(err.exitCode, 1);
        for (const name of Object.keys(bad)) assert.match(err.message, new RegExp(`\\b${name}\\b`));
        assert.ok(!err.message.includes('line2') && !err.message.includes('xxxx'));
        return true;
      },
    );
  });

  test('build secrets become --build-secret NAME=VALUE pairs; binary ones are refused by name', () => {
    assert.deepEqual(buildSecretArgs({ NPM_TOKEN: Buffer.from('npm_abc'), MULTI: Buffer.from('a\nb') }), [
      '--build-secret',
      'NPM_TOKEN=npm_abc',
      '--build-secret',
      'MULTI=a\nb',
    ]);
    assert.throws(() => buildSecretArgs({ BLOB: Buffer.from([0, 1, 2]), OK: Buffer.from('fine') }), /BLOB/);
  });
});
