import { keyScope } from '../domain/rules.js';
import { newScopeKey, valueSealingKey } from '../crypto/sealing.js';
import type { SealingKey } from '../crypto/seal.js';
import { newId } from '../crypto/tokens.js';
import type { Executor } from '../store/executor.js';
import { listMasterKeys } from '../store/keys.repository.js';
import { activeProjectKey } from '../store/projects.repository.js';
import type { ProjectKeyRow } from '../store/schema.js';
import type { BaseDeps } from './deps.js';

/**
 * Public-key material for the write path: the newest master public key (to wrap new scope keys)
 * and each scope's sealing key. Holds no private key and cannot open anything.
 */
export function createPublicKeys(deps: BaseDeps) {
  const sealers = new Map<string, Promise<SealingKey>>();
  let master: { id: string; publicKey: Uint8Array } | undefined;
  /**
   * The key pair id each project scope sealed to last (`projectId NUL keyScope`), believed active:
   * writes seal with it without reading project_keys, and check it inside their transaction
   * (access.ts reauthorizeWithActiveKey); a write that finds it retired or superseded forgets it
   * and seals again. Bounded: the oldest entry leaves first.
   */
  const believedActive = new Map<string, string>();
  const BELIEVED_MAX = 4096;

  /**
   * The newest active master public key. Read afresh on every call (project creation is rare):
   * a long-running server must wrap new project keys under the key a rotation just activated,
   * never under one it has retired.
   */
  async function currentMaster(ex: Executor): Promise<{ id: string; publicKey: Uint8Array }> {
    const keys = (await listMasterKeys(ex)).filter((k) => k.retired_at === null);
    const newest = keys[keys.length - 1];
    if (!newest) throw new Error('no master public key is stored; start a server with --role all or release once to initialise keys');
    if (master?.id !== newest.id) master = { id: newest.id, publicKey: new Uint8Array(newest.public_key) };
    return master;
  }

  return {
    currentMaster,
    /** Forget cached master key (after a rotation added a new one). */
    reset(): void {
      master = undefined;
      sealers.clear();
      believedActive.clear();
    },
    /** A new key pair for a project scope, private half wrapped to the master public key. */
    async newScopeKeyRow(ex: Executor, projectId: string, scope: string): Promise<Omit<ProjectKeyRow, 'retired_at' | 'wrapped_data_key'>> {
      const m = await currentMaster(ex);
      const id = newId('pk');
      const k = await newScopeKey(m, projectId, scope, id);
      return {
        id,
        project_id: projectId,
        scope,
        public_key: k.publicKey,
        wrapped_private_key: k.wrappedPrivateKey,
        master_key_id: k.masterKeyId,
        created_at: deps.clock(),
      };
    },
    /**
     * Like sealerFor, from the in-process cache when it has the scope: only for a write that checks
     * `keyId` is still the active pair inside its transaction, and calls `forgetActive` when not.
     */
    async cachedSealerFor(ex: Executor, projectId: string, scope: string): Promise<{ keyId: string; sealer: SealingKey }> {
      const k = `${projectId}\u0000${keyScope(scope)}`;
      const id = believedActive.get(k);
      const s = id ? sealers.get(id) : undefined;
      if (id && s) return { keyId: id, sealer: await s };
      const fresh = await this.sealerFor(ex, projectId, scope);
      believedActive.delete(k);
      if (believedActive.size >= BELIEVED_MAX) believedActive.delete(believedActive.keys().next().value!);
      believedActive.set(k, fresh.keyId);
      return fresh;
    },
    /** A write found the cached key pair of this project scope no longer active. */
    forgetActive(projectId: string, scope: string): void {
      believedActive.delete(`${projectId}\u0000${keyScope(scope)}`);
    },
    /** The sealing key of a key pair whose id and public key the caller read (cached by key pair id). */
    sealerForKey(keyId: string, publicKey: Uint8Array): Promise<SealingKey> {
      let s = sealers.get(keyId);
      if (!s) {
        s = valueSealingKey(new Uint8Array(publicKey));
        sealers.set(keyId, s);
      }
      return s;
    },
    /** The sealing key and key id of a project scope's active key pair. */
    async sealerFor(ex: Executor, projectId: string, scope: string): Promise<{ keyId: string; sealer: SealingKey }> {
      // A per-PR preview override (`preview#42`) is sealed with the preview key pair.
      const row = await activeProjectKey(ex, projectId, keyScope(scope));
      if (!row) throw new Error(`project ${projectId} has no ${scope} key`);
      return { keyId: row.id, sealer: await this.sealerForKey(row.id, row.public_key) };
    },
  };
}

export type PublicKeys = ReturnType<typeof createPublicKeys>;
