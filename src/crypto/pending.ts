import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Sealing of a pending dashboard import (the pasted .env text between the review page and its
 * Confirm): AES-256-GCM under a key derived with HKDF-SHA256 from the session's cookie secret and
 * the pending id. The database holds the ciphertext and a hash of the session token only, so it
 * cannot open the text alone, and another session (another cookie) derives another key. Several
 * instances share the row through the database.
 */

const INFO = new TextEncoder().encode('keyloft/v1/pending-import');
const NONCE = 12;
const TAG = 16;

function keyOf(sessionSecret: string, pendingId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(sessionSecret, 'utf8'), Buffer.from(pendingId, 'utf8'), INFO, 32));
}

/** nonce ‖ ciphertext ‖ tag of `plaintext`, bound to `aad` (the row's id, project, scope, replace flag). */
export function sealPending(sessionSecret: string, pendingId: string, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const key = keyOf(sessionSecret, pendingId);
  const nonce = randomBytes(NONCE);
  try {
    const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
    c.setAAD(aad);
    return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
  } finally {
    key.fill(0);
  }
}

/** The plaintext (the caller zeroes it), or undefined when the session, id, row binding or bytes do not match. */
export function openPending(sessionSecret: string, pendingId: string, aad: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < NONCE + TAG) return undefined;
  const key = keyOf(sessionSecret, pendingId);
  let part: Buffer | undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE), { authTagLength: TAG });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    part = d.update(sealed.subarray(NONCE, sealed.length - TAG));
    d.final();
    return Buffer.from(part);
  } catch {
    return undefined;
  } finally {
    part?.fill(0);
    key.fill(0);
  }
}
