import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataKey, newDataKeyBytes } from '../../src/crypto/fast.js';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { Keyring, masterKeyFromPrivate, MissingMasterKeyError } from '../../src/crypto/keyring.js';
import { OpenFailedError } from '../../src/crypto/open.js';
import { newScopeKey, sealValue, valueSealingKey } from '../../src/crypto/sealing.js';
import { encodeAad } from '../../src/crypto/suite.js';

const utf8 = new TextEncoder();
const PROJECT = 'prj_fast';
const PAIR = 'pk_fast1';
/** Stands for the row's HPKE ciphertext, which the fast form is bound to. */
const HC = new Uint8Array(Buffer.from('01'.repeat(80), 'hex'));

/** A keyring of one master key and a key pair's data key created by it, as the release path does. */
async function fixture() {
  const master = masterKeyFromPrivate(generateRawKeyPair().privateKey);
  const ring = await Keyring.create([master]);
  const pair = { id: PAIR, projectId: PROJECT, scope: 'production', masterKeyId: master.id };
  const { key, wrapped } = await ring.newDataKey(pair);
  return { master, ring, pair, key, wrapped };
}

describe('associated data encoding', () => {
  it('is each field length-prefixed (32-bit big-endian byte length, then UTF-8), label first: the stored ciphertexts depend on these exact bytes', () => {
    const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
    const field = (s: string) => Buffer.byteLength(s).toString(16).padStart(8, '0') + hex(s);
    assert.equal(
      Buffer.from(encodeAad('value', ['prj_1', 'preview#42', 'NAME_\u00e9\u{1F511}', 7])).toString('hex'),
      field('value') + field('prj_1') + field('preview#42') + field('NAME_\u00e9\u{1F511}') + field('7'),
    );
    assert.equal(Buffer.from(encodeAad('x', [''])).toString('hex'), '0000000178' + '00000000');
    assert.equal(Object.getPrototypeOf(encodeAad('x', [])), Uint8Array.prototype);
  });
});

describe('fast form (AES-256-GCM under a scope data key)', () => {
  it('round-trips a value, and the blob is a 0x02 blob that does not hold the value', async () => {
    const { key } = await fixture();
    const value = utf8.encode('postgres://user:hunter2-fast-form@db/prod');
    const blob = key.seal(value, PROJECT, 'production', 'DB_URL', 3, PAIR, HC);
    assert.equal(blob[0], 0x02);
    assert.equal(blob.length, 1 + 12 + value.length + 16);
    assert.equal(Buffer.from(blob).indexOf(Buffer.from(value)), -1, 'the fast form holds the value in plaintext');
    assert.deepEqual(key.open(blob, PROJECT, 'production', 'DB_URL', 3, PAIR, HC), value);
    // A fresh nonce each time: the same value seals to different bytes.
    assert.notDeepEqual(key.seal(value, PROJECT, 'production', 'DB_URL', 3, PAIR, HC), blob);
    // Empty and binary values too.
    assert.deepEqual(key.open(key.seal(new Uint8Array(0), PROJECT, 'build', 'EMPTY', 1, PAIR, HC), PROJECT, 'build', 'EMPTY', 1, PAIR, HC), new Uint8Array(0));
    const bin = new Uint8Array([0, 255, 0, 1, 2]);
    assert.deepEqual(key.open(key.seal(bin, PROJECT, 'build', 'BIN', 1, PAIR, HC), PROJECT, 'build', 'BIN', 1, PAIR, HC), bin);
  });

  it('is bound to project, scope string, name, version and key pair: any other row refuses it, naming the row only', async () => {
    const { key } = await fixture();
    const blob = key.seal(utf8.encode('secret-bound'), PROJECT, 'preview#42', 'API_KEY', 2, PAIR, HC);
    const others: Array<[string, string, string, number, string]> = [
      ['prj_other', 'preview#42', 'API_KEY', 2, PAIR],
      [PROJECT, 'preview#43', 'API_KEY', 2, PAIR],
      [PROJECT, 'preview', 'API_KEY', 2, PAIR],
      [PROJECT, 'preview#42', 'API_KEY2', 2, PAIR],
      [PROJECT, 'preview#42', 'API_KEY', 1, PAIR],
      [PROJECT, 'preview#42', 'API_KEY', 2, 'pk_other'],
    ];
    for (const [p, s, n, v, k] of others) {
      assert.throws(
        () => key.open(blob, p, s, n, v, k, HC),
        (err: unknown) => err instanceof OpenFailedError && err.message.startsWith(`could not open ${n} v${v}:`) && !err.message.includes('secret-bound'),
        `${p} ${s} ${n} v${v} ${k}`,
      );
    }
    // Bound to the HPKE ciphertext of its row: another (or a changed) HPKE form refuses it too.
    const changed = new Uint8Array(HC);
    changed[40]! ^= 0x80;
    assert.throws(() => key.open(blob, PROJECT, 'preview#42', 'API_KEY', 2, PAIR, changed), OpenFailedError);
    assert.deepEqual(key.open(blob, PROJECT, 'preview#42', 'API_KEY', 2, PAIR, HC), utf8.encode('secret-bound'));
  });

  it('refuses flipped bytes, a truncated blob, an HPKE blob, and another data key', async () => {
    const { key } = await fixture();
    const blob = key.seal(utf8.encode('value'), PROJECT, 'production', 'X', 1, PAIR, HC);
    for (let i = 0; i < blob.length; i += 5) {
      const bad = new Uint8Array(blob);
      bad[i]! ^= 0x01;
      assert.throws(() => key.open(bad, PROJECT, 'production', 'X', 1, PAIR, HC), OpenFailedError, `byte ${i}`);
    }
    assert.throws(() => key.open(blob.subarray(0, 20), PROJECT, 'production', 'X', 1, PAIR, HC), OpenFailedError);
    const scope = await newScopeKey(masterKeyFromPrivate(generateRawKeyPair().privateKey), PROJECT, 'production', PAIR);
    const hpke = await sealValue(await valueSealingKey(scope.publicKey), PROJECT, 'production', 'X', 1, utf8.encode('value'));
    assert.throws(() => key.open(hpke, PROJECT, 'production', 'X', 1, PAIR, HC), OpenFailedError);
    const other = DataKey.fromRaw(newDataKeyBytes());
    assert.throws(() => other.open(blob, PROJECT, 'production', 'X', 1, PAIR, HC), OpenFailedError);
  });

  it('a wrapped data key unwraps only as the data key of its own key pair, never as a scope private key (nor the reverse)', async () => {
    const { master, ring, pair, key, wrapped } = await fixture();
    const dk = await ring.dataKey({ ...pair, wrappedDataKey: wrapped });
    // The unwrapped key opens what the fresh one sealed.
    const blob = key.seal(utf8.encode('v'), PROJECT, 'production', 'X', 1, PAIR, HC);
    assert.deepEqual(dk.open(blob, PROJECT, 'production', 'X', 1, PAIR, HC), utf8.encode('v'));
    // Moved to another key pair, scope or project: refused.
    for (const moved of [
      { ...pair, id: 'pk_other' },
      { ...pair, scope: 'preview' },
      { ...pair, projectId: 'prj_other' },
    ]) {
      await assert.rejects(ring.dataKey({ ...moved, wrappedDataKey: wrapped }), OpenFailedError);
    }
    // A wrapped data key is not a wrapped private key (other HPKE info, other AAD label) …
    await assert.rejects(ring.unwrapRaw({ ...pair, wrappedPrivateKey: wrapped }), OpenFailedError);
    // … and a wrapped private key is not a data key.
    const scope = await newScopeKey(master, PROJECT, 'production', PAIR);
    await assert.rejects(ring.dataKey({ ...pair, wrappedDataKey: scope.wrappedPrivateKey }), OpenFailedError);
  });

  it('needs the master private key: a keyring without it cannot unwrap or create one', async () => {
    const { pair, wrapped } = await fixture();
    const stranger = await Keyring.create([masterKeyFromPrivate(generateRawKeyPair().privateKey)]);
    await assert.rejects(stranger.dataKey({ ...pair, wrappedDataKey: wrapped }), MissingMasterKeyError);
    await assert.rejects(stranger.newDataKey(pair), MissingMasterKeyError);
  });
});
