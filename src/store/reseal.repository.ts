import type { Executor } from './executor.js';

/** One stored version with its ciphertext (reseal path only: restore and copy). */
export interface SealedVersionRow {
  secret_id: string;
  name: string;
  scope: string;
  version: number;
  kind: string;
  ciphertext: Uint8Array | null;
  key_id: string | null;
  digest: string | null;
}

/** The columns of a SealedVersionRow, from secrets joined with secret_versions. */
const SEALED_COLUMNS = [
  'secrets.id as secret_id',
  'secrets.name',
  'secrets.scope',
  'secret_versions.version',
  'secret_versions.kind',
  'secret_versions.ciphertext',
  'secret_versions.key_id',
  'secret_versions.digest',
] as const;

/** A given version of a secret, with its ciphertext. */
export async function sealedVersion(ex: Executor, projectId: string, scope: string, name: string, version: number): Promise<SealedVersionRow | undefined> {
  return ex
    .selectFrom('secrets')
    .innerJoin('secret_versions', 'secret_versions.secret_id', 'secrets.id')
    .select(SEALED_COLUMNS)
    .where('secrets.project_id', '=', projectId)
    .where('secrets.scope', '=', scope)
    .where('secrets.name', '=', name)
    .where('secret_versions.version', '=', version)
    .executeTakeFirst();
}

/** The current, live (not deleted) versions of a scope, with their ciphertexts. */
export async function sealedCurrentVersions(ex: Executor, projectId: string, scope: string): Promise<SealedVersionRow[]> {
  return ex
    .selectFrom('secrets')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'secrets.id').onRef('secret_versions.version', '=', 'secrets.current_version'),
    )
    .select(SEALED_COLUMNS)
    .where('secrets.project_id', '=', projectId)
    .where('secrets.scope', '=', scope)
    .where('secrets.deleted', '=', 0)
    .execute();
}
