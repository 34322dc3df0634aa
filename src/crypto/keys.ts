import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

/** Raw X25519 key pair (32 bytes each). */
export interface RawKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A fresh X25519 key pair from node:crypto. */
export function generateRawKeyPair(): RawKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' });
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { publicKey: new Uint8Array(pub.subarray(pub.length - 32)), privateKey: new Uint8Array(priv.subarray(priv.length - 32)) };
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
