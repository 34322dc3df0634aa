import type { Executor } from './executor.js';
import type { ProjectKeyRow } from './schema.js';

/** Queries of key rotation (`keyloft keys rotate` / `status`). Every update is conditional, so a re-run or a concurrent run is harmless. */

export async function findMasterKey(ex: Executor, id: string) {
  return ex.selectFrom('master_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function setMasterKeyRetired(ex: Executor, id: string, retiredAt: number | null): Promise<void> {
  await ex.updateTable('master_keys').set({ retired_at: retiredAt }).where('id', '=', id).execute();
}

/** Retires every master key but `keep` that is still active. */
export async function retireOtherMasterKeys(ex: Executor, keep: string, now: number): Promise<string[]> {
  const rows = await ex.selectFrom('master_keys').select('id').where('id', '!=', keep).where('retired_at', 'is', null).execute();
  if (rows.length > 0)
    await ex
      .updateTable('master_keys')
      .set({ retired_at: now })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
  return rows.map((r) => r.id);
}

/** Up to `limit` project key pairs not yet wrapped under `masterId`. */
export async function projectKeysNotUnder(ex: Executor, masterId: string, limit: number): Promise<ProjectKeyRow[]> {
  return ex.selectFrom('project_keys').selectAll().where('master_key_id', '!=', masterId).orderBy('id').limit(limit).execute();
}

export async function countProjectKeysNotUnder(ex: Executor, masterId: string): Promise<number> {
  const r = await ex
    .selectFrom('project_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('master_key_id', '!=', masterId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/**
 * Replaces a wrapped private key (and its data key, if it had one when read) if it is still wrapped
 * under `fromMaster`; false when someone else did it, or when a release stored the pair's first
 * data key since (the next batch reads the row again and re-wraps both).
 */
export async function rewrapProjectKey(
  ex: Executor,
  id: string,
  fromMaster: string,
  toMaster: string,
  wrapped: Uint8Array,
  wrappedDataKey: Uint8Array | null = null,
): Promise<boolean> {
  let q = ex
    .updateTable('project_keys')
    .set({ wrapped_private_key: wrapped, master_key_id: toMaster, ...(wrappedDataKey ? { wrapped_data_key: wrappedDataKey } : {}) })
    .where('id', '=', id)
    .where('master_key_id', '=', fromMaster);
  if (!wrappedDataKey) q = q.where('wrapped_data_key', 'is', null);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function projectKeysOf(ex: Executor, projectId: string): Promise<ProjectKeyRow[]> {
  return ex.selectFrom('project_keys').selectAll().where('project_id', '=', projectId).orderBy('created_at').execute();
}

export async function retireProjectKeys(ex: Executor, ids: readonly string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await ex.updateTable('project_keys').set({ retired_at: now }).where('id', 'in', ids).where('retired_at', 'is', null).execute();
}

export interface SealedVersion {
  secret_id: string;
  version: number;
  name: string;
  scope: string;
  project_id: string;
  ciphertext: Uint8Array;
  key_id: string;
}

/** Up to `limit` version rows (current and historical) sealed to one of `keyIds`. */
export async function versionsSealedTo(ex: Executor, keyIds: readonly string[], limit: number): Promise<SealedVersion[]> {
  if (keyIds.length === 0) return [];
  const rows = await ex
    .selectFrom('secret_versions')
    .innerJoin('secrets', 'secrets.id', 'secret_versions.secret_id')
    .select([
      'secret_versions.secret_id',
      'secret_versions.version',
      'secrets.name',
      'secrets.scope',
      'secrets.project_id',
      'secret_versions.ciphertext',
      'secret_versions.key_id',
    ])
    .where('secret_versions.key_id', 'in', keyIds)
    .where('secret_versions.ciphertext', 'is not', null)
    .orderBy('secret_versions.secret_id')
    .orderBy('secret_versions.version')
    .limit(limit)
    .execute();
  return rows as SealedVersion[];
}

/**
 * Replaces a version's ciphertext if it is still sealed to `fromKey`. Its fast form (under the old
 * pair's data key) is cleared: the next release of the version writes one under the new pair's.
 */
export async function resealVersion(ex: Executor, secretId: string, version: number, fromKey: string, toKey: string, ciphertext: Uint8Array): Promise<boolean> {
  const r = await ex
    .updateTable('secret_versions')
    .set({ ciphertext, key_id: toKey, fast_ciphertext: null })
    .where('secret_id', '=', secretId)
    .where('version', '=', version)
    .where('key_id', '=', fromKey)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Row counts for `keyloft keys status`. */
export async function keyUsage(ex: Executor) {
  const masters = await ex.selectFrom('master_keys').selectAll().orderBy('created_at').execute();
  const wraps = await ex
    .selectFrom('project_keys')
    .select(['master_key_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('master_key_id')
    .execute();
  const pairs = await ex
    .selectFrom('project_keys')
    .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.count<number>('retired_at').as('retired')])
    .executeTakeFirst();
  const sealed = await ex
    .selectFrom('secret_versions')
    .innerJoin('project_keys', 'project_keys.id', 'secret_versions.key_id')
    .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.count<number>('project_keys.retired_at').as('retired')])
    .executeTakeFirst();
  return {
    masters: masters.map((m) => ({
      id: m.id,
      createdAt: Number(m.created_at),
      retiredAt: m.retired_at === null ? null : Number(m.retired_at),
      projectKeys: Number(wraps.find((w) => w.master_key_id === m.id)?.n ?? 0),
    })),
    projectKeyPairs: Number(pairs?.n ?? 0),
    retiredProjectKeyPairs: Number(pairs?.retired ?? 0),
    sealedVersions: Number(sealed?.n ?? 0),
    versionsUnderRetiredPairs: Number(sealed?.retired ?? 0),
  };
}

export async function countSettingsLike(ex: Executor, pattern: string): Promise<number> {
  const r = await ex
    .selectFrom('settings')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('key', 'like', pattern)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
