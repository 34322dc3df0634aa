import { createHmac, randomBytes } from 'node:crypto';

/** Length in hex characters of the digest shown to people. */
export const SHORT_DIGEST_LENGTH = 12;

/** A new per-project digest key (32 random bytes). It opens nothing. */
export function newDigestKey(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/**
 * Keyed digest of a value: HMAC-SHA256 under the project's digest key, hex.
 * Never a bare hash, so equal values in two projects do not match.
 */
export function valueDigest(digestKey: Uint8Array, value: Uint8Array): string {
  return createHmac('sha256', digestKey).update(value).digest('hex');
}

/** The short form shown in lists. */
export function shortDigest(digest: string): string {
  return digest.slice(0, SHORT_DIGEST_LENGTH);
}
