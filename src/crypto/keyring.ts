import { OpeningKey } from './open.js';
import { publicKeyOf, masterKeyId } from './keys.js';
import { DataKey, newDataKeyBytes } from './fast.js';
import { wrapDataKey } from './sealing.js';
import { dataKeyAad, INFO_DATA_KEY, INFO_VALUE, INFO_WRAP, valueAad, wrapAad } from './suite.js';

/** A configured master private key with its id. */
export interface MasterKey {
  id: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** Builds a MasterKey from its raw private half. */
export function masterKeyFromPrivate(privateKey: Uint8Array): MasterKey {
  const publicKey = publicKeyOf(privateKey);
  return { id: masterKeyId(publicKey), publicKey, privateKey: new Uint8Array(privateKey) };
}

/** The stored, wrapped form of one project scope's key pair. */
export interface WrappedScopeKey {
  id: string;
  projectId: string;
  scope: string;
  wrappedPrivateKey: Uint8Array;
  masterKeyId: string;
}

/** Thrown when a key the data needs is not configured. */
export class MissingMasterKeyError extends Error {
  constructor(id: string) {
    super(`master key ${id} is not configured; add it to KEYLOFT_MASTER_KEY / KEYLOFT_MASTER_KEY_FILE`);
    this.name = 'MissingMasterKeyError';
  }
}

/**
 * The keyring of the release role: master private keys by id. It unwraps scope private keys
 * and returns value-opening keys. Nothing on the write path constructs one.
 */
export class Keyring {
  readonly #masters = new Map<string, OpeningKey>();
  /** The same master keys, opening wrapped data keys (their own HPKE info). */
  readonly #dataMasters = new Map<string, OpeningKey>();
  readonly #publics = new Map<string, Uint8Array>();
  readonly ids: readonly string[];

  private constructor(masters: Map<string, OpeningKey>, dataMasters: Map<string, OpeningKey>, publics: Map<string, Uint8Array>) {
    this.#masters = masters;
    this.#dataMasters = dataMasters;
    this.#publics = publics;
    this.ids = [...masters.keys()];
  }

  static async create(keys: readonly MasterKey[]): Promise<Keyring> {
    const m = new Map<string, OpeningKey>();
    const d = new Map<string, OpeningKey>();
    const p = new Map<string, Uint8Array>();
    for (const k of keys) {
      m.set(k.id, await OpeningKey.fromRaw(k.privateKey, INFO_WRAP));
      d.set(k.id, await OpeningKey.fromRaw(k.privateKey, INFO_DATA_KEY));
      p.set(k.id, new Uint8Array(k.publicKey));
    }
    return new Keyring(m, d, p);
  }

  has(id: string): boolean {
    return this.#masters.has(id);
  }

  /** Unwraps a scope's private key (once per request on the release path) and returns a key that opens its values. */
  async scopeOpener(wrapped: WrappedScopeKey): Promise<ValueOpener> {
    const raw = await this.unwrapRaw(wrapped);
    try {
      return new ValueOpener(wrapped.projectId, wrapped.scope, await OpeningKey.fromRaw(raw, INFO_VALUE));
    } finally {
      raw.fill(0);
    }
  }

  /** The raw private key of a scope (for re-wrapping during rotation). Callers must zero it. */
  async unwrapRaw(wrapped: WrappedScopeKey): Promise<Uint8Array> {
    const master = this.#masters.get(wrapped.masterKeyId);
    if (!master) throw new MissingMasterKeyError(wrapped.masterKeyId);
    return master.open(
      wrapped.wrappedPrivateKey,
      wrapAad(wrapped.projectId, wrapped.scope, wrapped.id, wrapped.masterKeyId),
      `the ${wrapped.scope} key of project ${wrapped.projectId}`,
    );
  }

  /** Unwraps a key pair's data key (the fast form's key, fast.ts). Throws OpenFailedError when the wrapped form is damaged or moved. */
  async dataKey(wrapped: WrappedDataKey): Promise<DataKey> {
    const raw = await this.unwrapDataKeyRaw(wrapped);
    try {
      return DataKey.fromRaw(raw);
    } finally {
      raw.fill(0);
    }
  }

  /** The raw data key of a key pair (for re-wrapping during master rotation). Callers must zero it. */
  async unwrapDataKeyRaw(wrapped: WrappedDataKey): Promise<Uint8Array> {
    const master = this.#dataMasters.get(wrapped.masterKeyId);
    if (!master) throw new MissingMasterKeyError(wrapped.masterKeyId);
    return master.open(
      wrapped.wrappedDataKey,
      dataKeyAad(wrapped.projectId, wrapped.scope, wrapped.id, wrapped.masterKeyId),
      `the ${wrapped.scope} data key of project ${wrapped.projectId}`,
    );
  }

  /**
   * A new random data key for a key pair, wrapped to the master key its private key is wrapped
   * under (one master key id governs both). The caller stores `wrapped` (if no other instance
   * stored one first) and uses `key`.
   */
  async newDataKey(pair: Omit<WrappedDataKey, 'wrappedDataKey'>): Promise<{ key: DataKey; wrapped: Uint8Array }> {
    const publicKey = this.#publics.get(pair.masterKeyId);
    if (!publicKey) throw new MissingMasterKeyError(pair.masterKeyId);
    const raw = newDataKeyBytes();
    try {
      return { key: DataKey.fromRaw(raw), wrapped: await wrapDataKey({ id: pair.masterKeyId, publicKey }, pair.projectId, pair.scope, pair.id, raw) };
    } finally {
      raw.fill(0);
    }
  }
}

/** The stored, wrapped form of a key pair's data key (project_keys.wrapped_data_key, under the row's master key). */
export interface WrappedDataKey {
  /** The key pair's id. */
  id: string;
  projectId: string;
  scope: string;
  wrappedDataKey: Uint8Array;
  masterKeyId: string;
}

/** Opens the values of one project scope. */
export class ValueOpener {
  constructor(
    readonly projectId: string,
    readonly scope: string,
    readonly key: OpeningKey,
  ) {}

  /**
   * Opens one value. `scope` is the scope string the value was sealed under when it differs from
   * the key pair's scope (a per-PR preview override `preview#42` is sealed with the preview key pair).
   */
  open(blob: Uint8Array, name: string, version: number, scope: string = this.scope): Promise<Uint8Array> {
    return this.key.open(blob, valueAad(this.projectId, scope, name, version), `${name} v${version}`);
  }
}
