import { OpeningKey } from './open.js';
import { publicKeyOf, masterKeyId } from './keys.js';
import { INFO_VALUE, INFO_WRAP, valueAad, wrapAad } from './suite.js';

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
  readonly ids: readonly string[];

  private constructor(masters: Map<string, OpeningKey>) {
    this.#masters = masters;
    this.ids = [...masters.keys()];
  }

  static async create(keys: readonly MasterKey[]): Promise<Keyring> {
    const m = new Map<string, OpeningKey>();
    for (const k of keys) m.set(k.id, await OpeningKey.fromRaw(k.privateKey, INFO_WRAP));
    return new Keyring(m);
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
