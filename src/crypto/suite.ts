/**
 * What keyloft puts around its one HPKE suite (`KEYLOFT_SUITE` in ./hpke.ts: RFC 9180 base mode,
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM with 16-byte tags, on node:crypto): the
 * sealed blob's layout (format byte, encapsulated key, ciphertext and tag), the `info` strings of
 * the suite's three uses, and the canonical associated data that binds a ciphertext to its row
 * (also the fast form's, fast.ts, which is AES-256-GCM under a scope's data key, not HPKE).
 * The HPKE code itself is checked against RFC 9180's Appendix A.1 vectors and, both ways, against
 * @hpke/core (test/crypto/).
 */
import { hash } from 'node:crypto';
import { NENC } from './hpke.js';

/** Format byte at the start of every sealed blob, so the layout can change later. */
export const BLOB_FORMAT_V1 = 0x01;
/** Length of the X25519 encapsulated key that follows the format byte (the suite's Nenc). */
export const ENC_LENGTH = NENC;

const utf8 = new TextEncoder();

/** HPKE `info` strings separate the uses of the suite. */
export const INFO_VALUE = utf8.encode('keyloft/v1/secret-value');
export const INFO_WRAP = utf8.encode('keyloft/v1/scope-private-key');
/** A scope's data key (the fast form's AES-256-GCM key, fast.ts) wrapped to the master key: never confused with a wrapped private key. */
export const INFO_DATA_KEY = utf8.encode('keyloft/v1/scope-data-key');

/** Format byte of a fast-form blob (fast.ts): AES-256-GCM under a scope's data key, not HPKE. */
export const BLOB_FORMAT_FAST_V1 = 0x02;

/**
 * Canonical associated data: a label and fields, each length-prefixed, so no two
 * different field lists encode to the same bytes.
 */
export function encodeAad(label: string, fields: ReadonlyArray<string | number>): Uint8Array {
  // Sized first, then written in place: this runs once per value opened, on the release path.
  const strs = [label];
  let total = 4 + Buffer.byteLength(label, 'utf8');
  for (const f of fields) {
    const v = String(f);
    strs.push(v);
    total += 4 + Buffer.byteLength(v, 'utf8');
  }
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (const v of strs) {
    const n = buf.write(v, off + 4, 'utf8');
    buf.writeUInt32BE(n, off);
    off += 4 + n;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, total);
}

/** Binds a value ciphertext to its row: project, scope, name and version. */
export function valueAad(projectId: string, scope: string, name: string, version: number): Uint8Array {
  return encodeAad('value', [projectId, scope, name, version]);
}

/** Binds a wrapped scope private key to its project, scope, key pair and master key. */
export function wrapAad(projectId: string, scope: string, keyPairId: string, masterKeyId: string): Uint8Array {
  return encodeAad('scope-key', [projectId, scope, keyPairId, masterKeyId]);
}

/** Binds a wrapped data key to its project, scope, key pair and master key (its own label: not a scope key). */
export function dataKeyAad(projectId: string, scope: string, keyPairId: string, masterKeyId: string): Uint8Array {
  return encodeAad('scope-data-key', [projectId, scope, keyPairId, masterKeyId]);
}

/**
 * Binds a fast-form ciphertext to its row as `valueAad` does (project, scope string, name,
 * version), under its own label, to the key pair whose data key sealed it, and to the HPKE
 * ciphertext it was made from (its SHA-256): a changed or swapped HPKE form makes the fast form
 * refuse to open too, so tampering with either is seen by the next release.
 */
export function fastValueAad(projectId: string, scope: string, name: string, version: number, keyPairId: string, hpkeCiphertext: Uint8Array): Uint8Array {
  // crypto.hash: one call, no Hash object (a release computes this once per value).
  return encodeAad('value-fast', [projectId, scope, name, version, keyPairId, hash('sha256', hpkeCiphertext, 'hex')]);
}

/** A copy of the view's bytes as a standalone ArrayBuffer (the tests' reference HPKE, @hpke/core, on WebCrypto, wants one). */
export function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}
