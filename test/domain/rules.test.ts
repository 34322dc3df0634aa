import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/domain/errors.js';
import {
  decodeBase64,
  NAME_MAX,
  parseScope,
  validateBinaryValue,
  validateFlyApp,
  validatePreviewPattern,
  validateSecretName,
  validateSlug,
  validateTextValue,
  VALUE_MAX_BYTES,
  valueForScope,
} from '../../src/domain/rules.js';

/** A value that must never appear in an error message. */
const MARKER = 'SeCrEt_RuLeS_Marker_91c2';

/** Runs `fn`, asserts it throws a ValidationError on `field` with `code`, and that the message names the field and hides `secret`. */
function refuses(fn: () => unknown, field: string, code = 'validation_failed', secret?: string): ValidationError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ValidationError, `expected a ValidationError, got ${String(caught)}`);
  assert.equal(caught.field, field);
  assert.equal(caught.code, code);
  assert.ok(caught.message.includes(field), `message does not name the field ${field}: ${caught.message}`);
  if (secret !== undefined) {
    assert.ok(!caught.message.includes(secret), `message leaks the value: ${caught.message.slice(0, 200)}`);
    // Not even a recognisable chunk of it.
    if (secret.length >= 16) assert.ok(!caught.message.includes(secret.slice(0, 16)), 'message leaks part of the value');
  }
  return caught;
}

describe('secret names', () => {
  it('accepts letters, digits and _, starting with a letter or _, case kept as given', () => {
    for (const n of ['A', 'a', '_', '_1', 'API_KEY', 'apiKey', 'X9_y8_Z7', '__']) assert.equal(validateSecretName(n), n);
  });

  it('accepts 255 characters and refuses 256', () => {
    const ok = `A${'b'.repeat(NAME_MAX - 1)}`;
    assert.equal(ok.length, 255);
    assert.equal(validateSecretName(ok), ok);
    const e = refuses(() => validateSecretName(`${ok}c`), 'name');
    assert.match(e.message, /255/);
  });

  it('refuses an empty name', () => {
    const e = refuses(() => validateSecretName(''), 'name');
    assert.match(e.message, /empty/);
  });

  it('refuses a leading digit, a dash, $, a dot, spaces and =', () => {
    for (const bad of ['1ABC', '9', 'API-KEY', '-A', 'A$B', '$HOME', 'a.b', 'A B', ' A', 'A ', 'A=B', 'A\n']) {
      const e = refuses(() => validateSecretName(bad), 'name');
      assert.match(e.message, /\[A-Za-z_\]\[A-Za-z0-9_\]\*/, `message for ${JSON.stringify(bad)} does not state the rule`);
    }
  });

  it('refuses unicode look-alikes (Cyrillic А, Greek Α, full-width A) and non-ASCII letters', () => {
    for (const bad of ['\u0410PI_KEY', 'API_KE\u0423', '\u0391BC', '\uFF21BC', 'caf\u00e9', 'A\u200bB', 'A\u0301']) {
      refuses(() => validateSecretName(bad), 'name');
    }
  });

  it('uses the field name it is given', () => {
    refuses(() => validateSecretName('1X', 'secrets[3].name'), 'secrets[3].name');
  });
});

describe('project slugs', () => {
  it('accepts [a-z0-9][a-z0-9-]{0,62}', () => {
    for (const s of ['a', '0', 'my-app', 'a-', '9lives', 'a'.repeat(63), `x${'-'.repeat(62)}`]) assert.equal(validateSlug(s), s);
  });

  it('refuses empty, too long, uppercase, a leading dash, _, spaces, unicode', () => {
    for (const s of ['', 'a'.repeat(64), 'My-App', '-app', 'my_app', 'my app', 'app\n', '\u0430pp', 'app.io', 'app/x']) {
      const e = refuses(() => validateSlug(s), 'slug');
      assert.match(e.message, /a-z, 0-9 and -/);
    }
  });
});

describe('Fly app names and preview patterns', () => {
  it('accept every valid slug as the default app name', () => {
    for (const s of ['a', '0', 'my-app', 'a'.repeat(63)]) {
      assert.equal(validateSlug(s), s);
      assert.equal(validateFlyApp(s), s);
    }
    for (const bad of ['', 'My-App', '-app', 'a'.repeat(64), 'app_1']) refuses(() => validateFlyApp(bad), 'flyApp');
  });

  it('preview patterns need <pr> and allow only <slug> and <pr>', () => {
    assert.equal(validatePreviewPattern('<slug>-pr-<pr>'), '<slug>-pr-<pr>');
    for (const bad of ['<slug>-preview', 'app-<PR>', 'app-<pr>-<env>', 'App-<pr>']) refuses(() => validatePreviewPattern(bad), 'flyPreviewPattern');
  });
});

describe('scopes', () => {
  it('accepts production, preview and build only', () => {
    for (const s of ['production', 'preview', 'build']) assert.equal(parseScope(s), s);
    for (const s of ['Production', 'prod', '', 'runtime']) refuses(() => parseScope(s), 'scope');
  });
});

describe('app secret values (text)', () => {
  it('accepts the empty value', () => {
    assert.equal(validateTextValue('').length, 0);
  });

  it('accepts exactly 64 KiB of UTF-8 and refuses 65,537 bytes with payload_too_large', () => {
    assert.equal(VALUE_MAX_BYTES, 65536);
    assert.equal(validateTextValue('x'.repeat(65536)).length, 65536);
    const big = MARKER + 'x'.repeat(65537 - MARKER.length);
    const e = refuses(() => validateTextValue(big), 'value', 'payload_too_large', big);
    assert.match(e.message, /65536/);
    assert.ok(!e.message.includes(MARKER));
  });

  it('counts bytes, not characters: 32,768 two-byte characters fit, one more does not', () => {
    assert.equal(validateTextValue('\u00e9'.repeat(32768)).length, 65536);
    refuses(() => validateTextValue('\u00e9'.repeat(32768) + 'a'), 'value', 'payload_too_large');
    // 4-byte characters (a surrogate pair each in UTF-16)
    assert.equal(validateTextValue('\u{1F511}'.repeat(16384)).length, 65536);
    refuses(() => validateTextValue('\u{1F511}'.repeat(16385)), 'value', 'payload_too_large');
  });

  it('keeps multi-line values byte for byte, trailing newline included', () => {
    const pem = '-----BEGIN KEY-----\r\nAAAA\nBBBB\n-----END KEY-----\n\n';
    assert.equal(Buffer.from(validateTextValue(pem)).toString('utf8'), pem);
  });

  it('refuses NUL anywhere, without quoting the value', () => {
    for (const v of [`${MARKER}\u0000`, `\u0000${MARKER}`, `${MARKER}\u0000${MARKER}`]) {
      const e = refuses(() => validateTextValue(v), 'value', 'validation_failed', MARKER);
      assert.match(e.message, /NUL/);
    }
  });

  it('refuses a lone surrogate (not encodable as UTF-8), without quoting the value', () => {
    for (const v of [`${MARKER}\ud800`, `\udc00${MARKER}`, `${MARKER}\ud83d x`]) {
      const e = refuses(() => validateTextValue(v), 'value', 'validation_failed', MARKER);
      assert.match(e.message, /UTF-8/);
    }
    // A proper pair is fine.
    assert.equal(validateTextValue('\ud83d\udd11').length, 4);
  });

  it('reports the field it is given', () => {
    refuses(() => validateTextValue('\u0000', 'secrets[2].value'), 'secrets[2].value');
  });
});

describe('binary values and base64', () => {
  it('accepts any bytes up to 64 KiB', () => {
    assert.equal(validateBinaryValue(new Uint8Array(65536)).length, 65536);
    refuses(() => validateBinaryValue(new Uint8Array(65537)), 'valueBase64', 'payload_too_large');
  });

  it('decodes standard base64, padded or not, ignoring whitespace', () => {
    assert.deepEqual([...decodeBase64('AP8A')], [0, 255, 0]);
    assert.deepEqual([...decodeBase64('AP8=')], [0, 255]);
    assert.deepEqual([...decodeBase64('AP8')], [0, 255]);
    assert.deepEqual([...decodeBase64('AP\n8A\n')], [0, 255, 0]);
    assert.equal(decodeBase64('').length, 0);
    assert.deepEqual([...decodeBase64('+/+/')], [0xfb, 0xff, 0xbf]);
  });

  it('refuses base64url, stray characters, misplaced padding and impossible lengths', () => {
    for (const bad of ['-_-_', 'AP8A!', 'A=P8', 'AP8A===', 'AAAAA', 'A', '%%%%', 'AP8\u0410']) {
      refuses(() => decodeBase64(bad), 'valueBase64');
    }
  });

  it('never quotes the base64 text in its error', () => {
    const b64 = Buffer.from(MARKER).toString('base64');
    refuses(() => decodeBase64(`${b64}!`), 'valueBase64', 'validation_failed', b64);
  });
});

describe('valueForScope', () => {
  it('needs exactly one of value and valueBase64', () => {
    refuses(() => valueForScope('production', {}), 'value');
    refuses(() => valueForScope('production', { value: 'a', valueBase64: 'YQ==' }), 'value');
    refuses(() => valueForScope('build', {}, 'secrets[1].'), 'secrets[1].value');
  });

  it('takes text for every scope and base64 for every scope', () => {
    for (const scope of ['production', 'preview', 'build'] as const) {
      assert.equal(Buffer.from(valueForScope(scope, { value: 'h\u00e9llo\n' })).toString('utf8'), 'h\u00e9llo\n');
      assert.equal(Buffer.from(valueForScope(scope, { valueBase64: Buffer.from('h\u00e9llo\n').toString('base64') })).toString('utf8'), 'h\u00e9llo\n');
      assert.equal(valueForScope(scope, { value: '' }).length, 0);
      assert.equal(valueForScope(scope, { valueBase64: '' }).length, 0);
    }
  });

  it('build secrets take any bytes, including NUL and invalid UTF-8', () => {
    const bytes = Buffer.from([0, 0xff, 0xfe, 0x80, 0, 0x41]);
    assert.deepEqual(Buffer.from(valueForScope('build', { valueBase64: bytes.toString('base64') })), bytes);
  });

  it('app secrets given as base64 must decode to UTF-8 text without NUL', () => {
    for (const scope of ['production', 'preview'] as const) {
      const e1 = refuses(() => valueForScope(scope, { valueBase64: Buffer.from([0x41, 0xff, 0x42]).toString('base64') }), 'valueBase64');
      assert.match(e1.message, /UTF-8/);
      const e2 = refuses(
        () => valueForScope(scope, { valueBase64: Buffer.from(`${MARKER}\u0000`).toString('base64') }),
        'valueBase64',
        'validation_failed',
        MARKER,
      );
      assert.match(e2.message, /NUL/);
      // A half-cut multi-byte character is not text either.
      refuses(() => valueForScope(scope, { valueBase64: Buffer.from([0xc3]).toString('base64') }), 'valueBase64');
    }
  });

  it('app secrets given as base64 keep a leading byte-order mark byte for byte', () => {
    const text = '\ufeffBOM-prefixed value';
    const got = valueForScope('production', { valueBase64: Buffer.from(text).toString('base64') });
    assert.equal(Buffer.from(got).toString('utf8'), text);
    assert.equal(Buffer.from(valueForScope('production', { value: text })).toString('utf8'), text);
  });

  it('enforces 64 KiB on both forms with payload_too_large and the right field', () => {
    refuses(() => valueForScope('production', { value: 'x'.repeat(65537) }), 'value', 'payload_too_large');
    refuses(() => valueForScope('build', { valueBase64: Buffer.alloc(65537).toString('base64') }), 'valueBase64', 'payload_too_large');
    refuses(() => valueForScope('preview', { valueBase64: Buffer.alloc(65537, 0x61).toString('base64') }), 'valueBase64', 'payload_too_large');
    refuses(() => valueForScope('production', { value: 'x'.repeat(65537) }, 'secrets.API.'), 'secrets.API.value', 'payload_too_large');
    assert.equal(valueForScope('build', { valueBase64: Buffer.alloc(65536).toString('base64') }).length, 65536);
  });

  it('refuses a NUL or a lone surrogate in text with the prefixed field and without the value', () => {
    refuses(() => valueForScope('preview', { value: `${MARKER}\u0000` }, 'secrets[0].'), 'secrets[0].value', 'validation_failed', MARKER);
    refuses(() => valueForScope('production', { value: `${MARKER}\udfff` }), 'value', 'validation_failed', MARKER);
  });
});
