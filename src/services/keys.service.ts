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
    /** The sealing key and key id of a project scope's active key pair. */
    async sealerFor(ex: Executor, projectId: string, scope: string): Promise<{ keyId: string; sealer: SealingKey }> {
      // A per-PR preview override (`preview#42`) is sealed with the preview key pair.
      const row = await activeProjectKey(ex, projectId, keyScope(scope));
      if (!row) throw new Error(`project ${projectId} has no ${scope} key`);
      let s = sealers.get(row.id);
      if (!s) {
        s = valueSealingKey(new Uint8Array(row.public_key));
        sealers.set(row.id, s);
      }
      return { keyId: row.id, sealer: await s };
    },
  };
}

export type PublicKeys = ReturnType<typeof createPublicKeys>;
