import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Sealing a just-created credential for the one page view after a post/redirect/get: AES-256-GCM
 * under a key derived (HKDF-SHA256) from the browser's session token. The server stores only the
 * session token's hash, so neither the database nor the sealed cookie alone can open it; a
 * different session (or a tampered cookie) opens nothing.
 */
function keyFor(sessionToken: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(sessionToken, 'utf8'), Buffer.alloc(0), 'keyloft shown-once v1', 32));
}

/** Seals `plaintext` for the holder of `sessionToken`; base64url of iv ‖ tag ‖ ciphertext. */
export function sealShownOnce(sessionToken: string, plaintext: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', keyFor(sessionToken), iv);
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
}

/** Opens what sealShownOnce sealed for the same session token; undefined for anything else. */
export function openShownOnce(sessionToken: string, sealed: string): string | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < 29) return undefined;
    const d = createDecipheriv('aes-256-gcm', keyFor(sessionToken), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
