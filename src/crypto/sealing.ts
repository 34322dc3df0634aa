import { generateRawKeyPair } from './keys.js';
import { SealingKey } from './seal.js';
import { dataKeyAad, INFO_DATA_KEY, INFO_VALUE, INFO_WRAP, valueAad, wrapAad } from './suite.js';

/**
 * Write-path crypto: creates scope key pairs (wrapping the private half to the master
 * public key at once and forgetting it) and seals values. Public keys only.
 */
export interface NewScopeKey {
  publicKey: Uint8Array;
  wrappedPrivateKey: Uint8Array;
  masterKeyId: string;
}

/** Generates a scope key pair and returns its public half with the private half sealed to the master public key. */
export async function newScopeKey(master: { id: string; publicKey: Uint8Array }, projectId: string, scope: string, keyPairId: string): Promise<NewScopeKey> {
  const pair = generateRawKeyPair();
  try {
    const wrapper = await SealingKey.fromRaw(master.publicKey, INFO_WRAP);
    const wrappedPrivateKey = await wrapper.seal(pair.privateKey, wrapAad(projectId, scope, keyPairId, master.id));
    return { publicKey: pair.publicKey, wrappedPrivateKey, masterKeyId: master.id };
  } finally {
    pair.privateKey.fill(0);
  }
}

/** Wraps an existing raw scope private key to a master public key (key rotation). */
export async function wrapScopeKey(
  master: { id: string; publicKey: Uint8Array },
  projectId: string,
  scope: string,
  keyPairId: string,
  privateKey: Uint8Array,
): Promise<Uint8Array> {
  const wrapper = await SealingKey.fromRaw(master.publicKey, INFO_WRAP);
  return wrapper.seal(privateKey, wrapAad(projectId, scope, keyPairId, master.id));
}

/**
 * Wraps a scope's raw data key (fast.ts) to a master public key, under its own HPKE info and AAD
 * label: a wrapped data key never opens as a wrapped private key, nor the other way round.
 */
export async function wrapDataKey(
  master: { id: string; publicKey: Uint8Array },
  projectId: string,
  scope: string,
  keyPairId: string,
  dataKey: Uint8Array,
): Promise<Uint8Array> {
  const wrapper = await SealingKey.fromRaw(master.publicKey, INFO_DATA_KEY);
  return wrapper.seal(dataKey, dataKeyAad(projectId, scope, keyPairId, master.id));
}

/** Seals a value to a scope's public key, bound to project, scope, name and version. */
export async function sealValue(
  publicKey: SealingKey,
  projectId: string,
  scope: string,
  name: string,
  version: number,
  value: Uint8Array,
): Promise<Uint8Array> {
  return publicKey.seal(value, valueAad(projectId, scope, name, version));
}

/** A value-sealing key for a scope's raw public key. */
export function valueSealingKey(publicKey: Uint8Array): Promise<SealingKey> {
  return SealingKey.fromRaw(publicKey, INFO_VALUE);
}
