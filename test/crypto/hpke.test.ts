import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { HpkeRecipient, HpkeSender } from '../../src/crypto/hpke.js';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { OpeningKey } from '../../src/crypto/open.js';
import { SealingKey } from '../../src/crypto/seal.js';
import { INFO_VALUE, INFO_WRAP, toArrayBuffer, valueAad } from '../../src/crypto/suite.js';

// The reference implementation: keyloft's own RFC 9180 code must produce and open the same bytes.
const reference = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

test('hpke: what @hpke/core seals, the node:crypto implementation opens', async () => {
  const pair = generateRawKeyPair();
  const pk = await reference.kem.importKey('raw', toArrayBuffer(pair.publicKey), true);
  const r = new HpkeRecipient(pair.privateKey, INFO_VALUE);
  for (const len of [0, 1, 15, 16, 17, 64, 1000, 65536]) {
    const pt = randomBytes(len);
    const aad = valueAad('prj_1', 'production', `K${len}`, 3);
    const { ct, enc } = await reference.seal({ recipientPublicKey: pk, info: toArrayBuffer(INFO_VALUE) }, pt, aad);
    assert.deepEqual(r.open(new Uint8Array(enc), new Uint8Array(ct), aad), pt);
    // other aad, other info, flipped bit: refused
    assert.throws(() => r.open(new Uint8Array(enc), new Uint8Array(ct), valueAad('prj_1', 'production', `K${len}`, 4)));
    assert.throws(() => new HpkeRecipient(pair.privateKey, INFO_WRAP).open(new Uint8Array(enc), new Uint8Array(ct), aad));
    const bad = new Uint8Array(ct);
    bad[0] = bad[0]! ^ 1;
    assert.throws(() => r.open(new Uint8Array(enc), bad, aad));
  }
});

test('hpke: what the node:crypto implementation seals, @hpke/core opens', async () => {
  const pair = generateRawKeyPair();
  const sk = await reference.kem.deserializePrivateKey(toArrayBuffer(pair.privateKey));
  const s = new HpkeSender(pair.publicKey, INFO_WRAP);
  for (const len of [0, 32, 4096]) {
    const pt = randomBytes(len);
    const aad = valueAad('prj_2', 'build', 'X', 1);
    const { ct, enc } = s.seal(pt, aad);
    const opened = await reference.open({ recipientKey: sk, enc: toArrayBuffer(enc), info: toArrayBuffer(INFO_WRAP) }, ct, aad);
    assert.deepEqual(Buffer.from(opened), pt);
  }
});

test('hpke: SealingKey / OpeningKey round trip; every seal uses a fresh encapsulated key', async () => {
  const pair = generateRawKeyPair();
  const seal = await SealingKey.fromRaw(pair.publicKey, INFO_VALUE);
  const open = await OpeningKey.fromRaw(pair.privateKey, INFO_VALUE);
  const aad = valueAad('p', 'preview', 'N', 1);
  const a = await seal.seal(new TextEncoder().encode('value'), aad);
  const b = await seal.seal(new TextEncoder().encode('value'), aad);
  assert.notDeepEqual(a.subarray(1, 33), b.subarray(1, 33));
  assert.equal(new TextDecoder().decode(await open.open(a, aad, 'N v1')), 'value');
  await assert.rejects(open.open(a, valueAad('p', 'preview', 'N', 2), 'N v1'), /could not open N v1/);
  // an all-zero (low-order) encapsulated key is refused, not opened
  const zero = new Uint8Array(a);
  zero.fill(0, 1, 33);
  await assert.rejects(open.open(zero, aad, 'N v1'), /could not open/);
});
