import type { DataKey } from '../crypto/fast.js';
import { type Keyring, MissingMasterKeyError, type ValueOpener } from '../crypto/keyring.js';
import { OpenFailedError } from '../crypto/open.js';
import { sealedVersionsAfter } from '../store/check.repository.js';
import { projectKeysByIds } from '../store/projects.repository.js';
import type { BaseDeps } from './deps.js';

/** A version whose value cannot be released, and why (never the value, never key material). */
export interface DamagedVersion {
  project: string;
  scope: string;
  name: string;
  version: number;
  reason: 'ciphertext does not open' | 'fast form does not open' | 'key pair missing' | 'key pair does not unwrap' | 'master key not configured';
}

export interface CheckReport {
  checked: number;
  damaged: DamagedVersion[];
}

/**
 * `keyloft check`: opens every sealed version (current and historical) with the configured master
 * keys, as a release would, and lists those that do not open. Opened bytes are zeroed at once;
 * nothing is written.
 */
export function createCheckService(deps: Pick<BaseDeps, 'db'> & { keyring: Keyring; pageSize?: number }) {
  const { db, keyring } = deps;
  return {
    async check(): Promise<CheckReport> {
      const openers = new Map<string, ValueOpener | DamagedVersion['reason']>();
      // A key pair's data key (fast forms), or null when it has none or it does not unwrap.
      const dataKeys = new Map<string, DataKey | null>();
      const damaged: DamagedVersion[] = [];
      let checked = 0;
      let after: { secretId: string; version: number } | undefined;
      for (;;) {
        const page = await sealedVersionsAfter(db, after, deps.pageSize ?? 500);
        if (page.length === 0) break;
        const missing = [...new Set(page.map((r) => r.key_id).filter((k): k is string => k !== null && !openers.has(k)))];
        const found = await projectKeysByIds(db, missing);
        for (const id of missing) {
          const k = found.find((f) => f.id === id);
          if (!k) {
            openers.set(id, 'key pair missing');
            continue;
          }
          if (k.wrapped_data_key === null) dataKeys.set(id, null);
          else {
            try {
              dataKeys.set(
                id,
                await keyring.dataKey({
                  id: k.id,
                  projectId: k.project_id,
                  scope: k.scope,
                  wrappedDataKey: new Uint8Array(k.wrapped_data_key),
                  masterKeyId: k.master_key_id,
                }),
              );
            } catch (err) {
              if (!(err instanceof MissingMasterKeyError) && !(err instanceof OpenFailedError)) throw err;
              dataKeys.set(id, null);
            }
          }
          try {
            openers.set(
              id,
              await keyring.scopeOpener({
                id: k.id,
                projectId: k.project_id,
                scope: k.scope,
                wrappedPrivateKey: new Uint8Array(k.wrapped_private_key),
                masterKeyId: k.master_key_id,
              }),
            );
          } catch (err) {
            if (err instanceof MissingMasterKeyError) openers.set(id, 'master key not configured');
            else if (err instanceof OpenFailedError) openers.set(id, 'key pair does not unwrap');
            else throw err;
          }
        }
        for (const r of page) {
          checked++;
          const where = { project: r.slug, scope: r.scope, name: r.name, version: r.version };
          const o = r.key_id === null ? 'key pair missing' : openers.get(r.key_id)!;
          if (typeof o === 'string') {
            damaged.push({ ...where, reason: o });
            continue;
          }
          try {
            const plain = await o.open(new Uint8Array(r.ciphertext), r.name, r.version, r.scope);
            plain.fill(0);
          } catch (err) {
            if (!(err instanceof OpenFailedError)) throw err;
            damaged.push({ ...where, reason: 'ciphertext does not open' });
            continue;
          }
          // The fast form a release wrote: a release refuses the version while it does not open.
          if (r.fast_ciphertext !== null) {
            const dk = dataKeys.get(r.key_id!) ?? null;
            try {
              if (!dk) throw new OpenFailedError(`${r.name} v${r.version}`);
              dk.open(r.fast_ciphertext, r.project_id, r.scope, r.name, r.version, r.key_id!, r.ciphertext).fill(0);
            } catch (err) {
              if (!(err instanceof OpenFailedError)) throw err;
              damaged.push({ ...where, reason: 'fast form does not open' });
            }
          }
        }
        const last = page[page.length - 1]!;
        after = { secretId: last.secret_id, version: last.version };
      }
      return { checked, damaged };
    },
  };
}

export type CheckService = ReturnType<typeof createCheckService>;
