import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { OpenFailedError } from './open.js';
import { BLOB_FORMAT_FAST_V1, fastValueAad } from './suite.js';

/** Length of a data key (AES-256). */
export const DATA_KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/** A fresh random data key. The caller wraps it to the master key (sealing.ts) and zeroes it. */
export function newDataKeyBytes(): Uint8Array {
  return new Uint8Array(randomBytes(DATA_KEY_LENGTH));
}

/**
 * The data key of one project scope key pair: the symmetric key of the *fast form* of its values,
 * a second ciphertext the release role writes after its first HPKE open of a version, so that
 * later releases of that version open with AES-256-GCM alone. Its raw bytes are only ever stored
 * wrapped to the master public key, so only a holder of the master private key (the release
 * role, `keyloft keys`, `keyloft check`) constructs one; the write path (the `api` role) never does.
 *
 * Blob: format byte 0x02 | 96-bit random nonce | ciphertext | 16-byte tag. The AAD binds project,
 * scope string, name, version, key pair id and the SHA-256 of the version's HPKE ciphertext under
 * the label `value-fast` (suite.ts, fastValueAad).
 */
export class DataKey {
  readonly #key: KeyObject;

  private constructor(key: KeyObject) {
    this.#key = key;
  }

  /** Imports a raw 32-byte data key (copied into a KeyObject: the caller zeroes its bytes). */
  static fromRaw(raw: Uint8Array): DataKey {
    if (raw.length !== DATA_KEY_LENGTH) throw new Error('a data key is 32 bytes');
    return new DataKey(createSecretKey(raw));
  }

  /** Seals a value's fast form, bound to its row, the key pair id and the row's HPKE ciphertext. */
  seal(value: Uint8Array, projectId: string, scope: string, name: string, version: number, keyPairId: string, hpkeCiphertext: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_LENGTH);
    const c = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_LENGTH });
    c.setAAD(fastValueAad(projectId, scope, name, version, keyPairId, hpkeCiphertext));
    const a = c.update(value);
    const b = c.final();
    const out = new Uint8Array(1 + NONCE_LENGTH + a.length + b.length + TAG_LENGTH);
    out[0] = BLOB_FORMAT_FAST_V1;
    out.set(nonce, 1);
    out.set(a, 1 + NONCE_LENGTH);
    out.set(b, 1 + NONCE_LENGTH + a.length);
    out.set(c.getAuthTag(), out.length - TAG_LENGTH);
    a.fill(0);
    return out;
  }

  /** Opens a fast form; throws OpenFailedError naming `name vN` on any failure (wrong row, key or bytes). */
  open(blob: Uint8Array, projectId: string, scope: string, name: string, version: number, keyPairId: string, hpkeCiphertext: Uint8Array): Uint8Array {
    if (blob.length < 1 + NONCE_LENGTH + TAG_LENGTH || blob[0] !== BLOB_FORMAT_FAST_V1) throw new OpenFailedError(`${name} v${version}`);
    try {
      // No authTagLength option (its validation costs as much as the rest): the tag passed below
      // is always the blob's last 16 bytes, so a shortened tag cannot be accepted.
      const d = createDecipheriv('aes-256-gcm', this.#key, blob.subarray(1, 1 + NONCE_LENGTH));
      d.setAAD(fastValueAad(projectId, scope, name, version, keyPairId, hpkeCiphertext));
      d.setAuthTag(blob.subarray(blob.length - TAG_LENGTH));
      const a = d.update(blob.subarray(1 + NONCE_LENGTH, blob.length - TAG_LENGTH));
      let b: Buffer;
      try {
        b = d.final();
      } catch (err) {
        a.fill(0);
        throw err;
      }
      if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.length);
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      a.fill(0);
      b.fill(0);
      return out;
    } catch {
      throw new OpenFailedError(`${name} v${version}`);
    }
  }
}
