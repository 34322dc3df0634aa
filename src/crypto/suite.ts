/**
 * What keyloft puts around its one HPKE suite (`KEYLOFT_SUITE` in ./hpke.ts: RFC 9180 base mode,
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM with 16-byte tags, on node:crypto): the
 * sealed blob's layout (format byte, encapsulated key, ciphertext and tag), the `info` strings of
 * the suite's two uses, and the canonical associated data that binds a ciphertext to its row.
 * The HPKE code itself is checked against RFC 9180's Appendix A.1 vectors and, both ways, against
 * @hpke/core (test/crypto/).
 */
import { NENC } from './hpke.js';

/** Format byte at the start of every sealed blob, so the layout can change later. */
export const BLOB_FORMAT_V1 = 0x01;
/** Length of the X25519 encapsulated key that follows the format byte (the suite's Nenc). */
export const ENC_LENGTH = NENC;

const utf8 = new TextEncoder();

/** HPKE `info` strings separate the two uses of the suite. */
export const INFO_VALUE = utf8.encode('keyloft/v1/secret-value');
export const INFO_WRAP = utf8.encode('keyloft/v1/scope-private-key');

/**
 * Canonical associated data: a label and fields, each length-prefixed, so no two
 * different field lists encode to the same bytes.
 */
export function encodeAad(label: string, fields: ReadonlyArray<string | number>): Uint8Array {
  const parts = [label, ...fields.map(String)].map((f) => utf8.encode(f));
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const p of parts) {
    view.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/** Binds a value ciphertext to its row: project, scope, name and version. */
export function valueAad(projectId: string, scope: string, name: string, version: number): Uint8Array {
  return encodeAad('value', [projectId, scope, name, version]);
}

/** Binds a wrapped scope private key to its project, scope, key pair and master key. */
export function wrapAad(projectId: string, scope: string, keyPairId: string, masterKeyId: string): Uint8Array {
  return encodeAad('scope-key', [projectId, scope, keyPairId, masterKeyId]);
}

/** A copy of the view's bytes as a standalone ArrayBuffer (the tests' reference HPKE, @hpke/core, on WebCrypto, wants one). */
export function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}
