import type { Executor } from './executor.js';

/** A sealed version as `keyloft check` reads it: where it belongs and its ciphertext. */
export interface CheckedVersion {
  secret_id: string;
  version: number;
  name: string;
  scope: string;
  project_id: string;
  slug: string;
  ciphertext: Uint8Array;
  key_id: string | null;
  fast_ciphertext: Uint8Array | null;
}

/**
 * Up to `limit` version rows holding a ciphertext (current and historical, every project), in
 * (secret id, version) order after `after`: a keyset page, so a check of a large database reads
 * it in bounded pieces.
 */
export async function sealedVersionsAfter(ex: Executor, after: { secretId: string; version: number } | undefined, limit: number): Promise<CheckedVersion[]> {
  let q = ex
    .selectFrom('secret_versions')
    .innerJoin('secrets', 'secrets.id', 'secret_versions.secret_id')
    .innerJoin('projects', 'projects.id', 'secrets.project_id')
    .select([
      'secret_versions.secret_id',
      'secret_versions.version',
      'secrets.name',
      'secrets.scope',
      'secrets.project_id',
      'projects.slug',
      'secret_versions.ciphertext',
      'secret_versions.key_id',
      'secret_versions.fast_ciphertext',
    ])
    .where('secret_versions.ciphertext', 'is not', null);
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('secret_versions.secret_id', '>', after.secretId),
        eb.and([eb('secret_versions.secret_id', '=', after.secretId), eb('secret_versions.version', '>', after.version)]),
      ]),
    );
  }
  const rows = await q.orderBy('secret_versions.secret_id').orderBy('secret_versions.version').limit(limit).execute();
  return rows.map((r) => ({ ...r, version: Number(r.version) })) as CheckedVersion[];
}
