import { createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, type KeyObject, randomBytes } from 'node:crypto';

/**
 * RFC 9180 HPKE, base mode, on node:crypto (OpenSSL), synchronous: DHKEM(X25519, HKDF-SHA256)
 * (0x0020) and HKDF-SHA256 (0x0001) with the AEAD as a parameter of the suite. keyloft uses one
 * suite, `KEYLOFT_SUITE` (AES-256-GCM, 0x0002, 16-byte tags) and single-shot messages (sequence 0);
 * AES-128-GCM (0x0001) exists so the RFC's Appendix A.1 known-answer vectors check this code exactly.
 *
 * The same bytes as @hpke/core produces and opens (the test suite checks both directions), without
 * WebCrypto's thread-pool round trip per primitive (about ten per open) and without re-deriving the
 * recipient public key each time. Intermediate secrets and decrypted buffers are zeroed after use.
 */

/** An AEAD of RFC 9180 §7.3 that node:crypto provides. */
export interface HpkeAead {
  readonly id: number;
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm';
  /** Key length Nk. */
  readonly nk: number;
}

export const AES_128_GCM: HpkeAead = { id: 0x0001, cipher: 'aes-128-gcm', nk: 16 };
export const AES_256_GCM: HpkeAead = { id: 0x0002, cipher: 'aes-256-gcm', nk: 32 };

/** A cipher suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and `aead`. */
export interface HpkeSuite {
  readonly aead: HpkeAead;
  /** suite_id = "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2). */
  readonly id: Buffer;
}

export function hpkeSuite(aead: HpkeAead): HpkeSuite {
  return { aead, id: Buffer.from([...enc.encode('HPKE'), 0x00, 0x20, 0x00, 0x01, aead.id >> 8, aead.id & 0xff]) };
}

/** An X25519 key pair as node:crypto key objects. */
export interface X25519KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Where ephemeral key pairs come from: a fresh random pair per message in production. */
export type EphemeralSource = () => X25519KeyPair;

const enc = new TextEncoder();
const V1 = enc.encode('HPKE-v1');
const KEM_SUITE = Buffer.from([...enc.encode('KEM'), 0x00, 0x20]);
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
  exp: enc.encode('exp'),
};

/** keyloft's suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export const KEYLOFT_SUITE = hpkeSuite(AES_256_GCM);

/** Length of the encapsulated key (an X25519 public key). */
export const NENC = 32;
/** AES-GCM tag length. */
export const NTAG = 16;
const NN = 12;

/**
 * A fresh ephemeral key pair from 32 random bytes (RFC 7748 §5), not `generateKeyPairSync`: on
 * Node 20 the garbage collector finalizing a key-generation job while a key is exported can
 * deadlock the main thread (see crypto/keys.ts).
 */
const randomEphemeral: EphemeralSource = () => {
  const raw = randomBytes(32);
  try {
    if (!jwkImportDerives) return x25519KeyPairFromRaw(raw);
    // The JWK's base64url text of the scalar is a string the code cannot zero: taken for the
    // ephemeral only (used for one message, whose plaintext the process holds anyway), never for
    // a long-lived private key.
    const privateKey = privateKeyObjectJwk(raw);
    return { privateKey, publicKey: createPublicKey(privateKey) };
  } finally {
    raw.fill(0);
  }
};

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length ? salt : ZERO_SALT)
    .update(V1)
    .update(suite)
    .update(label)
    .update(ikm)
    .digest();
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

/** key_schedule_context for base mode (empty psk and psk_id) and `info`: a constant per suite and info string. */
function keyScheduleContext(suite: HpkeSuite, info: Uint8Array): Buffer {
  const pskIdHash = labeledExtract(suite.id, EMPTY, LABEL.psk_id_hash, EMPTY);
  const infoHash = labeledExtract(suite.id, EMPTY, LABEL.info_hash, info);
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

function privateKeyObjectDer(raw: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_X25519_PREFIX, raw]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** A JWK `x` that is no X25519 public key of anything in use: 32 zero bytes. */
const PLACEHOLDER_X = 'A'.repeat(43);

function privateKeyObjectJwk(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(raw), x: PLACEHOLDER_X }, format: 'jwk' });
}

/**
 * Whether this Node imports a private X25519 JWK from `d` alone, deriving the public key itself
 * (Node 20 does, ignoring `x`; Node 22+ checks `x` and refuses the placeholder). Node 20's OpenSSL
 * decodes PKCS#8 DER in ~430 µs against ~50 µs for the JWK, one import per seal (the HPKE
 * ephemeral). Probed once with a fixed scalar: the JWK path is taken only if its key derives the
 * same public key and the same shared secret as the DER import of the same bytes.
 */
const jwkImportDerives: boolean = (() => {
  const d = Buffer.alloc(32, 0x5a);
  const peer = Buffer.alloc(32, 0x09);
  try {
    const viaDer = privateKeyObjectDer(d);
    const viaJwk = privateKeyObjectJwk(d);
    const peerKey = publicKeyObject(peer);
    return (
      rawPublicKey(createPublicKey(viaJwk)).equals(rawPublicKey(createPublicKey(viaDer))) &&
      diffieHellman({ privateKey: viaJwk, publicKey: peerKey }).equals(diffieHellman({ privateKey: viaDer, publicKey: peerKey }))
    );
  } catch {
    return false;
  }
})();

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('an X25519 private key is 32 bytes');
  return privateKeyObjectDer(raw);
}

/** An X25519 key pair from its raw 32-byte private key (the caller may zero `raw` afterwards). */
export function x25519KeyPairFromRaw(raw: Uint8Array): X25519KeyPair {
  const privateKey = privateKeyObject(raw);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/**
 * The encryption context of one base-mode setup (RFC 9180 §5.1, §5.2): key, base_nonce and
 * exporter_secret. Messages are sealed and opened at an explicit sequence number; keyloft seals
 * one message per setup (sequence 0). `dispose()` zeroes the secrets.
 */
export class HpkeContext {
  constructor(
    readonly suite: HpkeSuite,
    readonly key: Buffer,
    readonly baseNonce: Buffer,
    readonly exporterSecret: Buffer,
  ) {}

  /** ComputeNonce(seq): base_nonce XOR I2OSP(seq, Nn). */
  #nonce(seq: number): Buffer {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error('HPKE: bad sequence number');
    const n = Buffer.from(this.baseNonce);
    let s = seq;
    for (let i = NN - 1; i >= 0 && s > 0; i--) {
      n[i] = n[i]! ^ (s & 0xff);
      s = Math.floor(s / 256);
    }
    return n;
  }

  /** Ciphertext and tag of `plaintext` at sequence number `seq`. */
  seal(plaintext: Uint8Array, aad: Uint8Array, seq = 0): Buffer {
    const nonce = this.#nonce(seq);
    try {
      const c = createCipheriv(this.suite.aead.cipher, this.key, nonce, { authTagLength: NTAG });
      c.setAAD(aad);
      return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    } finally {
      nonce.fill(0);
    }
  }

  /** Opens ciphertext and tag at `seq`; throws on any failure. The caller owns (and zeroes) the result. */
  open(ct: Uint8Array, aad: Uint8Array, seq = 0): Buffer {
    if (ct.length < NTAG) throw new Error('HPKE: malformed input');
    const nonce = this.#nonce(seq);
    let part: Buffer | undefined;
    try {
      const d = createDecipheriv(this.suite.aead.cipher, this.key, nonce, { authTagLength: NTAG });
      d.setAAD(aad);
      d.setAuthTag(ct.subarray(ct.length - NTAG));
      part = d.update(ct.subarray(0, ct.length - NTAG));
      const last = d.final();
      // Plaintext is released only after the tag checked; the intermediate copy is zeroed either way.
      return last.length === 0 ? Buffer.from(part) : Buffer.concat([part, last]);
    } finally {
      part?.fill(0);
      nonce.fill(0);
    }
  }

  dispose(): void {
    this.key.fill(0);
    this.baseNonce.fill(0);
    this.exporterSecret.fill(0);
  }
}

/** DH + ExtractAndExpand + KeySchedule (base mode). Zeroes `dh` and every intermediate secret. */
function keySchedule(suite: HpkeSuite, dh: Buffer, kemContext: Buffer, ksc: Buffer): HpkeContext {
  if (dh.every((b) => b === 0)) throw new Error('HPKE: all-zero shared secret');
  const eaePrk = labeledExtract(KEM_SUITE, EMPTY, LABEL.eae_prk, dh);
  const shared = labeledExpand(KEM_SUITE, eaePrk, LABEL.shared_secret, kemContext, 32);
  const secret = labeledExtract(suite.id, shared, LABEL.secret, EMPTY);
  const key = labeledExpand(suite.id, secret, LABEL.key, ksc, suite.aead.nk);
  const nonce = labeledExpand(suite.id, secret, LABEL.base_nonce, ksc, NN);
  const exporterSecret = labeledExpand(suite.id, secret, LABEL.exp, ksc, 32);
  dh.fill(0);
  eaePrk.fill(0);
  shared.fill(0);
  secret.fill(0);
  return new HpkeContext(suite, key, nonce, exporterSecret);
}

/** Seals to one X25519 public key under one `info` string. */
export class HpkeSender {
  readonly #pkR: KeyObject;
  readonly #pkRm: Buffer;
  readonly #ksc: Buffer;
  readonly #suite: HpkeSuite;
  readonly #ephemeral: EphemeralSource;

  /** `suite` defaults to keyloft's; `ephemeral` to a fresh random key pair per message. */
  constructor(publicKeyRaw: Uint8Array, info: Uint8Array, opts: { suite?: HpkeSuite; ephemeral?: EphemeralSource } = {}) {
    if (publicKeyRaw.length !== 32) throw new Error('an X25519 public key is 32 bytes');
    this.#suite = opts.suite ?? KEYLOFT_SUITE;
    this.#ephemeral = opts.ephemeral ?? randomEphemeral;
    this.#pkR = publicKeyObject(publicKeyRaw);
    this.#pkRm = Buffer.from(publicKeyRaw);
    this.#ksc = keyScheduleContext(this.#suite, info);
  }

  /** SetupBaseS: the encapsulated key and the context (the caller disposes it). */
  setup(): { enc: Buffer; context: HpkeContext } {
    const eph = this.#ephemeral();
    const encKey = rawPublicKey(eph.publicKey);
    const dh = diffieHellman({ privateKey: eph.privateKey, publicKey: this.#pkR });
    return { enc: encKey, context: keySchedule(this.#suite, dh, Buffer.concat([encKey, this.#pkRm]), this.#ksc) };
  }

  /** Single-shot: the encapsulated key and the ciphertext (with its tag) of sequence 0. */
  seal(plaintext: Uint8Array, aad: Uint8Array): { enc: Buffer; ct: Buffer } {
    const { enc: encKey, context } = this.setup();
    try {
      return { enc: encKey, ct: context.seal(plaintext, aad) };
    } finally {
      context.dispose();
    }
  }
}

/** Opens what was sealed to one X25519 key pair under one `info` string. */
export class HpkeRecipient {
  readonly #skR: KeyObject;
  readonly #pkRm: Buffer;
  readonly #ksc: Buffer;
  readonly #suite: HpkeSuite;

  /** `privateKeyRaw` is not retained (the caller may zero it afterwards). */
  constructor(privateKeyRaw: Uint8Array, info: Uint8Array, suite: HpkeSuite = KEYLOFT_SUITE) {
    this.#suite = suite;
    this.#skR = privateKeyObject(privateKeyRaw);
    this.#pkRm = rawPublicKey(createPublicKey(this.#skR));
    this.#ksc = keyScheduleContext(suite, info);
  }

  /** SetupBaseR: the context for the encapsulated key `encKey` (the caller disposes it). */
  setup(encKey: Uint8Array): HpkeContext {
    if (encKey.length !== NENC) throw new Error('HPKE: malformed input');
    const dh = diffieHellman({ privateKey: this.#skR, publicKey: publicKeyObject(encKey) });
    return keySchedule(this.#suite, dh, Buffer.concat([encKey, this.#pkRm]), this.#ksc);
  }

  /** Single-shot: opens `ct` (ciphertext and tag, sequence 0); throws on any failure. The caller zeroes the result. */
  open(encKey: Uint8Array, ct: Uint8Array, aad: Uint8Array): Buffer {
    if (encKey.length !== NENC || ct.length < NTAG) throw new Error('HPKE: malformed input');
    const context = this.setup(encKey);
    try {
      return context.open(ct, aad);
    } finally {
      context.dispose();
    }
  }
}
