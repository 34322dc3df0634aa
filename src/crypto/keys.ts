import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

/** Raw X25519 key pair (32 bytes each). */
export interface RawKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * A fresh X25519 key pair: 32 random bytes (RFC 7748 §5: any 32 bytes are a private key, clamped
 * when used) and their public key, both through node:crypto. Not `generateKeyPairSync`: on Node 20
 * the garbage collector finalizing its key-generation job while a key is exported can deadlock the
 * main thread (seen in a test run: the job's destructor waiting on the mutex ExportJWK held).
 */
export function generateRawKeyPair(): RawKeyPair {
  const privateKey = new Uint8Array(randomBytes(32));
  return { publicKey: publicKeyOf(privateKey), privateKey };
}

/** The X25519 public key of a raw 32-byte private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== 32) throw new Error('an X25519 private key is 32 bytes');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** A master key's id: derived from its public key, so the same key always has the same id. */
export function masterKeyId(publicKey: Uint8Array): string {
  return `mk_${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;
}
