import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AES_128_GCM, HpkeRecipient, HpkeSender, hpkeSuite, KEYLOFT_SUITE, x25519KeyPairFromRaw } from '../../src/crypto/hpke.js';

// RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, mode_base (0).
// Transcribed from the RFC's test vectors (the same values appear in the CFRG draft's
// test-vectors.json and in Go's crypto/internal/hpke/testdata/rfc9180-vectors.json).
const h = (s: string) => Buffer.from(s, 'hex');
const A11 = {
  info: '4f6465206f6e2061204772656369616e2055726e', // "Ode on a Grecian Urn"
  skEm: '52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736',
  pkEm: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  enc: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  key: '4531685d41d65f03dc48f6b8302c05b0',
  base_nonce: '56d890e5accaaf011cff4b7d',
  exporter_secret: '45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8',
  // "Beauty is truth, truth beauty"
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  encryptions: [
    { seq: 0, aad: '436f756e742d30', ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a' },
    { seq: 1, aad: '436f756e742d31', ct: 'af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84' },
    { seq: 2, aad: '436f756e742d32', ct: '498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180' },
    { seq: 255, aad: '436f756e742d323535', ct: '7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a' },
  ],
};

const suite = hpkeSuite(AES_128_GCM);
const ephemeral = () => x25519KeyPairFromRaw(h(A11.skEm));

test("hpke: RFC 9180 A.1.1 key pairs — the vector's private keys give its public keys", () => {
  const e = x25519KeyPairFromRaw(h(A11.skEm));
  assert.equal(Buffer.from(e.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'), A11.pkEm);
  const r = x25519KeyPairFromRaw(h(A11.skRm));
  assert.equal(Buffer.from(r.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'), A11.pkRm);
});

test('hpke: RFC 9180 A.1.1 sender key schedule (enc, key, base_nonce, exporter_secret) and every encryption match exactly', () => {
  const sender = new HpkeSender(h(A11.pkRm), h(A11.info), { suite, ephemeral });
  const { enc, context } = sender.setup();
  try {
    assert.equal(enc.toString('hex'), A11.enc);
    assert.equal(context.key.toString('hex'), A11.key);
    assert.equal(context.baseNonce.toString('hex'), A11.base_nonce);
    assert.equal(context.exporterSecret.toString('hex'), A11.exporter_secret);
    for (const e of A11.encryptions) assert.equal(context.seal(h(A11.pt), h(e.aad), e.seq).toString('hex'), e.ct, `sequence ${e.seq}`);
  } finally {
    context.dispose();
  }
  assert.ok(context.key.every((b) => b === 0) && context.exporterSecret.every((b) => b === 0), 'dispose zeroes the secrets');
  // the single-shot path keyloft uses seals sequence 0
  const once = sender.seal(h(A11.pt), h(A11.encryptions[0]!.aad));
  assert.equal(once.enc.toString('hex'), A11.enc);
  assert.equal(once.ct.toString('hex'), A11.encryptions[0]!.ct);
});

test('hpke: RFC 9180 A.1.1 recipient derives the same schedule and opens every encryption; a changed byte is refused', () => {
  const recipient = new HpkeRecipient(h(A11.skRm), h(A11.info), suite);
  const context = recipient.setup(h(A11.enc));
  try {
    assert.equal(context.key.toString('hex'), A11.key);
    assert.equal(context.baseNonce.toString('hex'), A11.base_nonce);
    assert.equal(context.exporterSecret.toString('hex'), A11.exporter_secret);
    for (const e of A11.encryptions) {
      assert.equal(context.open(h(e.ct), h(e.aad), e.seq).toString('hex'), A11.pt, `sequence ${e.seq}`);
      assert.throws(() => context.open(h(e.ct), h(e.aad), e.seq + 1), Error, `sequence ${e.seq} opened at another sequence number`);
    }
  } finally {
    context.dispose();
  }
  assert.equal(recipient.open(h(A11.enc), h(A11.encryptions[0]!.ct), h(A11.encryptions[0]!.aad)).toString('hex'), A11.pt);
  const bad = h(A11.encryptions[0]!.ct);
  bad[3] = bad[3]! ^ 0x80;
  assert.throws(() => recipient.open(h(A11.enc), bad, h(A11.encryptions[0]!.aad)));
});

test("hpke: the suite is a parameter — keyloft's AES-256-GCM suite derives other keys from the same inputs and cannot open the AES-128 vector", () => {
  assert.equal(KEYLOFT_SUITE.aead.cipher, 'aes-256-gcm');
  assert.equal(KEYLOFT_SUITE.id.toString('hex'), Buffer.from([...Buffer.from('HPKE'), 0, 0x20, 0, 1, 0, 2]).toString('hex'));
  const ours = new HpkeSender(h(A11.pkRm), h(A11.info), { ephemeral });
  const { enc, context } = ours.setup();
  try {
    assert.equal(enc.toString('hex'), A11.enc, 'the KEM does not depend on the AEAD');
    assert.equal(context.key.length, 32);
    assert.notEqual(context.baseNonce.toString('hex'), A11.base_nonce, 'the suite id enters the key schedule');
  } finally {
    context.dispose();
  }
  assert.throws(() => new HpkeRecipient(h(A11.skRm), h(A11.info)).open(h(A11.enc), h(A11.encryptions[0]!.ct), h(A11.encryptions[0]!.aad)));
});
