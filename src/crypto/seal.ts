import { HpkeSender } from './hpke.js';
import { BLOB_FORMAT_V1, ENC_LENGTH } from './suite.js';

/**
 * A public key that can only seal. This module never touches a private key:
 * the write path (the `api` role) imports it and nothing that opens.
 */
export class SealingKey {
  readonly #hpke: HpkeSender;
  /** Raw 32-byte X25519 public key. */
  readonly raw: Uint8Array;

  private constructor(hpke: HpkeSender, raw: Uint8Array) {
    this.#hpke = hpke;
    this.raw = raw;
  }

  /** Imports a raw 32-byte X25519 public key that seals under the HPKE `info` string. */
  static async fromRaw(raw: Uint8Array, info: Uint8Array): Promise<SealingKey> {
    if (raw.length !== 32) throw new Error('an X25519 public key is 32 bytes');
    return new SealingKey(new HpkeSender(raw, info), new Uint8Array(raw));
  }

  /** Seals `plaintext` so that only the holder of the private key can open it, bound to `aad`. */
  async seal(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { ct: ciphertext, enc } = this.#hpke.seal(plaintext, aad);
    const out = new Uint8Array(1 + ENC_LENGTH + ciphertext.byteLength);
    out[0] = BLOB_FORMAT_V1;
    out.set(enc, 1);
    out.set(ciphertext, 1 + ENC_LENGTH);
    return out;
  }
}
