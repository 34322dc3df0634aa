import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { shortDigest, newDigestKey, valueDigest } from '../../src/crypto/digest.js';
import { generateRawKeyPair, masterKeyId, publicKeyOf } from '../../src/crypto/keys.js';
import {
  Keyring,
  type MasterKey,
  masterKeyFromPrivate,
  MissingMasterKeyError,
  type ValueOpener,
  ValueOpener as ValueOpenerClass,
  type WrappedScopeKey,
} from '../../src/crypto/keyring.js';
import { OpenFailedError } from '../../src/crypto/open.js';
import { newScopeKey, sealValue, valueSealingKey, wrapScopeKey } from '../../src/crypto/sealing.js';
import type { SealingKey } from '../../src/crypto/seal.js';
import { hashToken, newToken, safeEqual, tokenKind } from '../../src/crypto/tokens.js';

const utf8 = new TextEncoder();
const PROJECT = 'prj_test123';
const SCOPE = 'production';

const PEM = [
  '-----BEGIN EC PRIVATE KEY-----',
  'MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oWZ6qZ9cb9Y0oAoGCCqGSM49',
  'AwEHoUQDQgAE6rTjR3jmX0sQh4hQ8Pq0e5Z8n3hj9+Fh0Qd6P0lHxkqvz3wYV9Xx',
  'k7h4rM3cJ7Zl1d+eP2oBXzv8gS7hQ1e2Ww==',
  '-----END EC PRIVATE KEY-----',
  '',
].join('\n');

/** One master key, one project scope key wrapped to it, and the sealer/opener pair for values. */
interface Fixture {
  master: MasterKey;
  wrapped: WrappedScopeKey;
  sealer: SealingKey;
  opener: ValueOpener;
}

async function fixture(projectId = PROJECT, scope = SCOPE): Promise<Fixture> {
  const master = masterKeyFromPrivate(generateRawKeyPair().privateKey);
  const keyPairId = 'pk_1';
  const k = await newScopeKey({ id: master.id, publicKey: master.publicKey }, projectId, scope, keyPairId);
  const wrapped: WrappedScopeKey = { id: keyPairId, projectId, scope, wrappedPrivateKey: k.wrappedPrivateKey, masterKeyId: k.masterKeyId };
  const keyring = await Keyring.create([master]);
  return { master, wrapped, sealer: await valueSealingKey(k.publicKey), opener: await keyring.scopeOpener(wrapped) };
}

/** Awaits `p`, expecting OpenFailedError; returns it. */
async function openFails(p: Promise<unknown>, forbidden: string[] = []): Promise<OpenFailedError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof OpenFailedError, `expected OpenFailedError, got ${String(caught)}`);
  for (const f of forbidden) {
    if (f.length === 0) continue;
    assert.ok(!caught.message.includes(f), `error message leaks ${JSON.stringify(f.slice(0, 20))}`);
    assert.ok(!String(caught.stack).includes(f), 'error stack leaks plaintext');
  }
  return caught;
}

describe('sealing round trips', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
  });

  const cases: Array<[string, Uint8Array]> = [
    ['the empty value', new Uint8Array(0)],
    ['a one-byte value', utf8.encode('x')],
    ['a 64 KiB value', new Uint8Array(Buffer.alloc(65536, 'abcdefghij'))],
    ['a multi-line PEM with a trailing newline', utf8.encode(PEM)],
    ['CRLF and blank trailing lines', utf8.encode('line1\r\nline2\r\n\r\n')],
    ['unicode (accents, CJK, emoji, RTL, combining marks)', utf8.encode('h\u00e9llo \u4f60\u597d \u{1F511} \u05e9\u05dc\u05d5\u05dd e\u0301 \ufeff')],
    ['arbitrary bytes (build secrets)', new Uint8Array([0, 255, 0, 128, 10, 13, 0])],
  ];
  for (const [what, value] of cases) {
    it(`opens ${what} byte for byte`, async () => {
      const blob = await sealValue(f.sealer, PROJECT, SCOPE, 'API_KEY', 1, value);
      const got = await f.opener.open(blob, 'API_KEY', 1);
      assert.deepEqual(Buffer.from(got), Buffer.from(value));
    });
  }

  it('holds no plaintext in the ciphertext, and two seals of one value differ', async () => {
    const value = utf8.encode('PLAINTEXT_MARKER_4c9e'.repeat(4));
    const a = await sealValue(f.sealer, PROJECT, SCOPE, 'N', 1, value);
    const b = await sealValue(f.sealer, PROJECT, SCOPE, 'N', 1, value);
    assert.ok(!Buffer.from(a).includes(Buffer.from('PLAINTEXT_MARKER')));
    assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
    // format byte + 32-byte encapsulated key + ciphertext + 16-byte tag
    assert.equal(a.length, 1 + 32 + value.length + 16);
    assert.equal(a[0], 0x01);
  });

  it('works for every scope with its own key', async () => {
    for (const scope of ['production', 'preview', 'build']) {
      const g = await fixture(PROJECT, scope);
      const blob = await sealValue(g.sealer, PROJECT, scope, 'X', 7, utf8.encode(scope));
      assert.equal(Buffer.from(await g.opener.open(blob, 'X', 7)).toString(), scope);
    }
  });
});

describe('tampered ciphertext is rejected', () => {
  const SECRET = 'TAMPER_PLAINTEXT_2b7d\nsecond line';
  let f: Fixture;
  let blob: Uint8Array;
  before(async () => {
    f = await fixture();
    blob = await sealValue(f.sealer, PROJECT, SCOPE, 'DB_URL', 3, utf8.encode(SECRET));
  });

  it('rejects a flipped bit anywhere (format byte, encapsulated key, ciphertext, tag)', async () => {
    const positions = [0, 1, 16, 32, 33, 34, 33 + Math.floor(SECRET.length / 2), blob.length - 17, blob.length - 1];
    for (const pos of positions) {
      for (const bit of [0x01, 0x80]) {
        const t = new Uint8Array(blob);
        t[pos]! ^= bit;
        const err = await openFails(f.opener.open(t, 'DB_URL', 3), [SECRET, 'TAMPER_PLAINTEXT', 'second line']);
        assert.match(err.message, /DB_URL v3/);
      }
    }
  });

  it('rejects truncation, extension and an empty blob', async () => {
    for (const t of [blob.subarray(0, blob.length - 1), blob.subarray(0, 33 + 16), blob.subarray(0, 10), new Uint8Array(0), new Uint8Array([...blob, 0])]) {
      await openFails(f.opener.open(new Uint8Array(t), 'DB_URL', 3), [SECRET]);
    }
  });

  it('rejects a ciphertext sealed to another key of the same project scope', async () => {
    const other = await fixture();
    const foreign = await sealValue(other.sealer, PROJECT, SCOPE, 'DB_URL', 3, utf8.encode(SECRET));
    await openFails(f.opener.open(foreign, 'DB_URL', 3), [SECRET]);
  });
});

describe('swapped associated data is rejected', () => {
  const SECRET = 'AAD_PLAINTEXT_e1f0';
  let f: Fixture;
  let blob: Uint8Array;
  before(async () => {
    f = await fixture();
    blob = await sealValue(f.sealer, PROJECT, SCOPE, 'API_KEY', 2, utf8.encode(SECRET));
  });

  it('opens under its own row', async () => {
    assert.equal(Buffer.from(await f.opener.open(blob, 'API_KEY', 2)).toString(), SECRET);
  });

  it('fails under another name (including a case change)', async () => {
    for (const name of ['OTHER', 'api_key', 'API_KEY_', 'API_KE']) await openFails(f.opener.open(blob, name, 2), [SECRET]);
  });

  it('fails under another version', async () => {
    for (const v of [1, 3, 0, 20]) await openFails(f.opener.open(blob, 'API_KEY', v), [SECRET]);
  });

  it('fails under another scope or project, even with the same private key', async () => {
    const otherScope = new ValueOpenerClass(PROJECT, 'preview', f.opener.key);
    await openFails(otherScope.open(blob, 'API_KEY', 2), [SECRET]);
    const otherProject = new ValueOpenerClass('prj_other', SCOPE, f.opener.key);
    await openFails(otherProject.open(blob, 'API_KEY', 2), [SECRET]);
  });

  it('does not confuse field boundaries (name "A" v12 vs name "A1" v2)', async () => {
    const b = await sealValue(f.sealer, PROJECT, SCOPE, 'A', 12, utf8.encode(SECRET));
    await openFails(f.opener.open(b, 'A1', 2), [SECRET]);
    assert.equal(Buffer.from(await f.opener.open(b, 'A', 12)).toString(), SECRET);
  });

  it('a value sealed for one scope fails when opened with another scope key', async () => {
    const prev = await fixture(PROJECT, 'preview');
    const b = await sealValue(prev.sealer, PROJECT, 'preview', 'API_KEY', 2, utf8.encode(SECRET));
    await openFails(f.opener.open(b, 'API_KEY', 2), [SECRET]);
  });
});

describe('wrapped scope keys', () => {
  it('unwrap only under the right master key', async () => {
    const f = await fixture();
    const wrong = masterKeyFromPrivate(generateRawKeyPair().privateKey);
    assert.notEqual(wrong.id, f.master.id);

    // A keyring without the key the wrap names says which key is missing.
    const ringWrong = await Keyring.create([wrong]);
    await assert.rejects(ringWrong.scopeOpener(f.wrapped), (err: unknown) => {
      assert.ok(err instanceof MissingMasterKeyError);
      assert.ok(err.message.includes(f.master.id));
      return true;
    });

    // Even when the wrong key is presented under the right id, the unwrap fails.
    const impostor: MasterKey = { ...wrong, id: f.master.id };
    const ringImpostor = await Keyring.create([impostor]);
    await openFails(ringImpostor.scopeOpener(f.wrapped));
  });

  it('are bound to their project, scope, key pair and master key id', async () => {
    const f = await fixture();
    const ring = await Keyring.create([f.master]);
    for (const moved of [
      { ...f.wrapped, projectId: 'prj_other' },
      { ...f.wrapped, scope: 'build' },
      { ...f.wrapped, id: 'pk_2' },
    ]) {
      await openFails(ring.scopeOpener(moved));
    }
  });

  it('re-wrap (rotation) to a new master key keeps values openable', async () => {
    const f = await fixture();
    const blob = await sealValue(f.sealer, PROJECT, SCOPE, 'K', 1, utf8.encode('rotated'));
    const oldRing = await Keyring.create([f.master]);
    const raw = await oldRing.unwrapRaw(f.wrapped);
    const next = masterKeyFromPrivate(generateRawKeyPair().privateKey);
    const rewrapped = await wrapScopeKey(next, PROJECT, SCOPE, f.wrapped.id, raw);
    raw.fill(0);
    const newRing = await Keyring.create([next]);
    const opener = await newRing.scopeOpener({ ...f.wrapped, wrappedPrivateKey: rewrapped, masterKeyId: next.id });
    assert.equal(Buffer.from(await opener.open(blob, 'K', 1)).toString(), 'rotated');
  });

  it('a wrapped key contains no raw private key bytes', async () => {
    const master = masterKeyFromPrivate(generateRawKeyPair().privateKey);
    const k = await newScopeKey(master, PROJECT, SCOPE, 'pk_x');
    assert.equal(k.publicKey.length, 32);
    assert.ok(!Buffer.from(k.wrappedPrivateKey).includes(Buffer.from(master.privateKey)));
    assert.equal(k.masterKeyId, master.id);
  });
});

describe('master keys', () => {
  it('derive a stable id and the X25519 public key from the private half', () => {
    const pair = generateRawKeyPair();
    assert.equal(pair.privateKey.length, 32);
    assert.equal(pair.publicKey.length, 32);
    assert.deepEqual(Buffer.from(publicKeyOf(pair.privateKey)), Buffer.from(pair.publicKey));
    const m1 = masterKeyFromPrivate(pair.privateKey);
    const m2 = masterKeyFromPrivate(new Uint8Array(pair.privateKey));
    assert.equal(m1.id, m2.id);
    assert.equal(m1.id, masterKeyId(pair.publicKey));
    assert.match(m1.id, /^mk_[0-9a-f]{16}$/);
    assert.notEqual(masterKeyFromPrivate(generateRawKeyPair().privateKey).id, m1.id);
  });

  it('refuse keys that are not 32 bytes', () => {
    assert.throws(() => publicKeyOf(new Uint8Array(31)));
    assert.throws(() => publicKeyOf(new Uint8Array(33)));
  });
});

describe('digests', () => {
  it('are HMAC-SHA256 under the digest key, stable under one key', () => {
    const key = newDigestKey();
    assert.equal(key.length, 32);
    const v = utf8.encode('digest me');
    const d = valueDigest(key, v);
    assert.equal(d, valueDigest(key, utf8.encode('digest me')));
    assert.equal(d, createHmac('sha256', key).update(v).digest('hex'));
    assert.match(d, /^[0-9a-f]{64}$/);
    assert.equal(shortDigest(d), d.slice(0, 12));
  });

  it('differ under different digest keys, and are never a bare hash', () => {
    const v = utf8.encode('same value');
    const a = valueDigest(newDigestKey(), v);
    const b = valueDigest(newDigestKey(), v);
    assert.notEqual(a, b);
    assert.notEqual(shortDigest(a), shortDigest(b));
    const bare = createHash('sha256').update(v).digest('hex');
    assert.notEqual(a, bare);
    assert.notEqual(b, bare);
  });

  it('differ for different values under one key (including the empty value)', () => {
    const key = newDigestKey();
    const ds = ['', 'a', 'b', 'a\n', 'A'].map((s) => valueDigest(key, utf8.encode(s)));
    assert.equal(new Set(ds).size, ds.length);
  });
});

describe('tokens', () => {
  it('are 256-bit random with a kind prefix', () => {
    const kinds = { api: 'klt', session: 'kls', 'deploy-key': 'kldk', deploy: 'kldt', setup: 'klsetup', csrf: 'klcsrf' } as const;
    for (const [kind, prefix] of Object.entries(kinds)) {
      const t = newToken(kind as keyof typeof kinds);
      assert.ok(t.startsWith(`${prefix}_`), t);
      const body = t.slice(prefix.length + 1);
      assert.match(body, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(body, 'base64url').length, 32);
      assert.equal(tokenKind(t), kind);
    }
    const many = new Set(Array.from({ length: 200 }, () => newToken('api')));
    assert.equal(many.size, 200);
  });

  it('are stored as hashes that differ per token and never contain it', () => {
    const a = newToken('api');
    const b = newToken('api');
    assert.notEqual(hashToken(a), hashToken(b));
    assert.equal(hashToken(a), hashToken(a));
    assert.match(hashToken(a), /^[0-9a-f]{64}$/);
    assert.ok(!hashToken(a).includes(a.slice(4)));
  });

  it('compare in constant time helpers correctly', () => {
    const a = newToken('csrf');
    assert.equal(safeEqual(a, a), true);
    assert.equal(safeEqual(a, `${a}x`), false);
    assert.equal(safeEqual(a, ''), false);
    assert.equal(safeEqual(a, newToken('csrf')), false);
  });

  it('unknown prefixes have no kind', () => {
    assert.equal(tokenKind('nope_abc'), undefined);
    assert.equal(tokenKind('klt'), undefined);
  });
});
