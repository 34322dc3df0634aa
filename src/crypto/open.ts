import { HpkeRecipient } from './hpke.js';
import { BLOB_FORMAT_V1, ENC_LENGTH } from './suite.js';

/** Opening failed: wrong key, tampered or moved ciphertext. Never carries plaintext or key material. */
export class OpenFailedError extends Error {
  constructor(what: string) {
    super(`could not open ${what}: the ciphertext is damaged, was moved to another row, or the key is wrong`);
    this.name = 'OpenFailedError';
  }
}

/**
 * A private key that opens HPKE blobs sealed by `SealingKey`. Only the release path
 * (and key rotation) constructs one.
 */
export class OpeningKey {
  readonly #hpke: HpkeRecipient;

  private constructor(hpke: HpkeRecipient) {
    this.#hpke = hpke;
  }

  /** Imports a raw 32-byte X25519 private key that opens blobs sealed under `info`. */
  static async fromRaw(raw: Uint8Array, info: Uint8Array): Promise<OpeningKey> {
    if (raw.length !== 32) throw new Error('an X25519 private key is 32 bytes');
    return new OpeningKey(new HpkeRecipient(raw, info));
  }

  /** Opens a blob; throws OpenFailedError (naming `what`, e.g. "API_KEY v3") on any failure. */
  async open(blob: Uint8Array, aad: Uint8Array, what: string): Promise<Uint8Array> {
    return this.openSync(blob, aad, what);
  }

  /** The same, synchronously (the work is CPU-bound; no thread-pool round trip). */
  openSync(blob: Uint8Array, aad: Uint8Array, what: string): Uint8Array {
    if (blob.length < 1 + ENC_LENGTH + 16 || blob[0] !== BLOB_FORMAT_V1) throw new OpenFailedError(what);
    try {
      return this.#hpke.open(blob.subarray(1, 1 + ENC_LENGTH), blob.subarray(1 + ENC_LENGTH), aad);
    } catch {
      throw new OpenFailedError(what);
    }
  }
}
