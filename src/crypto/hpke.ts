import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';

/**
 * RFC 9180 HPKE, base mode, single-shot, for the one suite keyloft uses:
 * DHKEM(X25519, HKDF-SHA256) (0x0020), HKDF-SHA256 (0x0001), AES-256-GCM (0x0002, 16-byte tags).
 *
 * Written on node:crypto (OpenSSL) and synchronous: the same bytes as @hpke/core produces and
 * opens (the test suite checks both directions), without WebCrypto's thread-pool round trip per
 * primitive (about ten per open) and without re-deriving the recipient public key each time.
 * Intermediate secrets are zeroed after use.
 */

const enc = new TextEncoder();
const V1 = enc.encode('HPKE-v1');
const KEM_SUITE = Buffer.from([...enc.encode('KEM'), 0x00, 0x20]);
const HPKE_SUITE = Buffer.from([...enc.encode('HPKE'), 0x00, 0x20, 0x00, 0x01, 0x00, 0x02]);
const EMPTY = Buffer.alloc(0);
const ZERO_SALT = Buffer.alloc(32);
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const LABEL = {
  eae_prk: enc.encode('eae_prk'),
  shared_secret: enc.encode('shared_secret'),
  psk_id_hash: enc.encode('psk_id_hash'),
  info_hash: enc.encode('info_hash'),
  secret: enc.encode('secret'),
  key: enc.encode('key'),
  base_nonce: enc.encode('base_nonce'),
};

/** Length of the encapsulated key (an X25519 public key). */
export const NENC = 32;
/** AES-GCM tag length. */
export const NTAG = 16;

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length ? salt : ZERO_SALT).update(V1).update(suite).update(label).update(ikm).digest();
}

function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: Uint8Array, info: Uint8Array, length: number): Buffer {
  // length ≤ 32 (one HMAC block): T(1) = HMAC(prk, labeled_info || 0x01)
  const out = createHmac('sha256', prk)
    .update(Buffer.from([length >> 8, length & 0xff]))
    .update(V1)
    .update(suite)
    .update(label)
    .update(info)
    .update(Buffer.from([1]))
    .digest();
  if (length === 32) return out;
  const r = Buffer.from(out.subarray(0, length));
  out.fill(0);
  return r;
}

/** key_schedule_context for base mode (empty psk and psk_id) and `info`: a constant per info string. */
function keyScheduleContext(info: Uint8Array): Buffer {
  const pskIdHash = labeledExtract(HPKE_SUITE, EMPTY, LABEL.psk_id_hash, EMPTY);
  const infoHash = labeledExtract(HPKE_SUITE, EMPTY, LABEL.info_hash, info);
  return Buffer.concat([Buffer.from([0x00]), pskIdHash, infoHash]);
}

function b64url(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64url');
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  // JWK import is several times cheaper than DER through OpenSSL 3's decoder.
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' });
}

function rawPublicKey(k: KeyObject): Buffer {
  return Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url');
}

/** DH + ExtractAndExpand + KeySchedule: the AEAD key and nonce (sequence 0). */
function deriveKeyNonce(dh: Buffer, kemContext: Buffer, ksc: Buffer): { key: Buffer; nonce: Buffer } {
  if (dh.every((b) => b === 0)) throw new Error('HPKE: all-zero shared secret');
  const eaePrk = labeledExtract(KEM_SUITE, EMPTY, LABEL.eae_prk, dh);
  const shared = labeledExpand(KEM_SUITE, eaePrk, LABEL.shared_secret, kemContext, 32);
  const secret = labeledExtract(HPKE_SUITE, shared, LABEL.secret, EMPTY);
  const key = labeledExpand(HPKE_SUITE, secret, LABEL.key, ksc, 32);
  const nonce = labeledExpand(HPKE_SUITE, secret, LABEL.base_nonce, ksc, 12);
  dh.fill(0);
  eaePrk.fill(0);
  shared.fill(0);
  secret.fill(0);
  return { key, nonce };
}

/** Seals to one X25519 public key under one `info` string. */
export class HpkeSender {
  readonly #pkR: KeyObject;
  readonly #pkRm: Buffer;
  readonly #ksc: Buffer;

  constructor(publicKeyRaw: Uint8Array, info: Uint8Array) {
    if (publicKeyRaw.length !== 32) throw new Error('an X25519 public key is 32 bytes');
    this.#pkR = publicKeyObject(publicKeyRaw);
    this.#pkRm = Buffer.from(publicKeyRaw);
    this.#ksc = keyScheduleContext(info);
  }

  /** Returns the encapsulated key and the ciphertext (with its tag). */
  seal(plaintext: Uint8Array, aad: Uint8Array): { enc: Buffer; ct: Buffer } {
    const eph = generateKeyPairSync('x25519');
    const encKey = rawPublicKey(eph.publicKey);
    const dh = diffieHellman({ privateKey: eph.privateKey, publicKey: this.#pkR });
    const { key, nonce } = deriveKeyNonce(dh, Buffer.concat([encKey, this.#pkRm]), this.#ksc);
    try {
      const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: NTAG });
      c.setAAD(aad);
      const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
      return { enc: encKey, ct };
    } finally {
      key.fill(0);
      nonce.fill(0);
    }
  }
}

/** Opens what was sealed to one X25519 key pair under one `info` string. */
export class HpkeRecipient {
  readonly #skR: KeyObject;
  readonly #pkRm: Buffer;
  readonly #ksc: Buffer;

  /** `privateKeyRaw` is not retained (the caller may zero it afterwards). */
  constructor(privateKeyRaw: Uint8Array, info: Uint8Array) {
    if (privateKeyRaw.length !== 32) throw new Error('an X25519 private key is 32 bytes');
    const der = Buffer.concat([PKCS8_X25519_PREFIX, privateKeyRaw]);
    try {
      this.#skR = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
    this.#pkRm = rawPublicKey(createPublicKey(this.#skR));
    this.#ksc = keyScheduleContext(info);
  }

  /** Opens `ct` (ciphertext and tag) for the encapsulated key `encKey`; throws on any failure. */
  open(encKey: Uint8Array, ct: Uint8Array, aad: Uint8Array): Buffer {
    if (encKey.length !== NENC || ct.length < NTAG) throw new Error('HPKE: malformed input');
    const dh = diffieHellman({ privateKey: this.#skR, publicKey: publicKeyObject(encKey) });
    const { key, nonce } = deriveKeyNonce(dh, Buffer.concat([encKey, this.#pkRm]), this.#ksc);
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: NTAG });
      d.setAAD(aad);
      d.setAuthTag(ct.subarray(ct.length - NTAG));
      return Buffer.concat([d.update(ct.subarray(0, ct.length - NTAG)), d.final()]);
    } finally {
      key.fill(0);
      nonce.fill(0);
    }
  }
}
