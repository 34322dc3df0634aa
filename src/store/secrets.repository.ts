import type { Executor } from './executor.js';
import type { SecretRow, SecretVersionRow } from './schema.js';

/** A secret with the metadata of its current version (no ciphertext). */
export interface SecretListRow {
  id: string;
  scope: string;
  name: string;
  current_version: number;
  deleted: number;
  updated_at: number;
  updated_by: string;
  digest: string | null;
  size: number | null;
  /** 1 when the current version is binary (see SecretVersionTable.binary). */
  binary?: number | null;
}

export async function findSecret(ex: Executor, projectId: string, scope: string, name: string): Promise<SecretRow | undefined> {
  return ex.selectFrom('secrets').selectAll().where('project_id', '=', projectId).where('scope', '=', scope).where('name', '=', name).executeTakeFirst();
}

/** The secrets of a project scope by name (for bulk writes). */
export async function findSecretsByNames(ex: Executor, projectId: string, scope: string, names: readonly string[]): Promise<SecretRow[]> {
  const out: SecretRow[] = [];
  for (let i = 0; i < names.length; i += 500) {
    const chunk = names.slice(i, i + 500);
    out.push(
      ...(await ex.selectFrom('secrets').selectAll().where('project_id', '=', projectId).where('scope', '=', scope).where('name', 'in', chunk).execute()),
    );
  }
  return out;
}

/** A secret's current version number, tombstone flag and keyed digest (null for a tombstone), read with `ex`. */
export async function findCurrentDigest(
  ex: Executor,
  secretId: string,
): Promise<{ current_version: number; deleted: number; digest: string | null } | undefined> {
  return ex
    .selectFrom('secrets as s')
    .innerJoin('secret_versions as v', (j) => j.onRef('v.secret_id', '=', 's.id').onRef('v.version', '=', 's.current_version'))
    .select(['s.current_version', 's.deleted', 'v.digest'])
    .where('s.id', '=', secretId)
    .executeTakeFirst();
}

export async function insertSecret(ex: Executor, row: SecretRow): Promise<void> {
  await ex.insertInto('secrets').values(row).execute();
}

/**
 * Moves a secret's current pointer from `fromVersion` to `fromVersion + 1`; returns false when
 * another writer moved it first (optimistic concurrency: the caller retries with a fresh seal).
 */
export async function advanceSecret(
  ex: Executor,
  id: string,
  fromVersion: number,
  patch: { deleted: number; updated_at: number; updated_by: string },
): Promise<boolean> {
  const r = await ex
    .updateTable('secrets')
    .set({ current_version: fromVersion + 1, ...patch })
    .where('id', '=', id)
    .where('current_version', '=', fromVersion)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** A version row to insert: `binary` may be left out (tombstones, and writers that do not know). */
export type NewSecretVersion = Omit<SecretVersionRow, 'binary' | 'fast_ciphertext'> & { binary?: number | null };

export async function insertVersions(ex: Executor, rows: readonly NewSecretVersion[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 300)
    await ex
      .insertInto('secret_versions')
      .values(rows.slice(i, i + 300))
      .execute();
}

/** Names of a project's live build secrets whose current value is binary (flyctl's --build-secret cannot carry them). */
export async function binaryBuildSecretNames(ex: Executor, projectId: string): Promise<string[]> {
  const rows = await ex
    .selectFrom('secrets as s')
    .innerJoin('secret_versions as v', (j) => j.onRef('v.secret_id', '=', 's.id').onRef('v.version', '=', 's.current_version'))
    .select('s.name')
    .where('s.project_id', '=', projectId)
    .where('s.scope', '=', 'build')
    .where('s.deleted', '=', 0)
    .where('v.binary', '=', 1)
    .orderBy('s.name')
    .execute();
  return rows.map((r) => r.name);
}

/** Metadata of every secret in a project (optionally one scope), current version joined. */
export async function listSecretMetadata(ex: Executor, projectId: string, scope?: string): Promise<SecretListRow[]> {
  let q = ex
    .selectFrom('secrets')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'secrets.id').onRef('secret_versions.version', '=', 'secrets.current_version'),
    )
    .select([
      'secrets.id',
      'secrets.scope',
      'secrets.name',
      'secrets.current_version',
      'secrets.deleted',
      'secrets.updated_at',
      'secrets.updated_by',
      'secret_versions.digest',
      'secret_versions.size',
      'secret_versions.binary',
    ])
    .where('secrets.project_id', '=', projectId);
  if (scope) q = q.where('secrets.scope', '=', scope);
  return q.orderBy('secrets.name').execute();
}

/**
 * Like listSecretMetadata for one scope, with the version that deployment `deploymentId` pinned of
 * each secret (null when none): the status of a whole scope in the same query (issue 18 §4).
 */
export async function listSecretMetadataPinned(
  ex: Executor,
  projectId: string,
  scope: string,
  deploymentId: string | null,
): Promise<Array<SecretListRow & { pinned_version: number | null }>> {
  return ex
    .selectFrom('secrets')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'secrets.id').onRef('secret_versions.version', '=', 'secrets.current_version'),
    )
    .leftJoin('deployment_pins', (j) => j.on('deployment_pins.deployment_id', '=', deploymentId ?? '').onRef('deployment_pins.secret_id', '=', 'secrets.id'))
    .select([
      'secrets.id',
      'secrets.scope',
      'secrets.name',
      'secrets.current_version',
      'secrets.deleted',
      'secrets.updated_at',
      'secrets.updated_by',
      'secret_versions.digest',
      'secret_versions.size',
      'secret_versions.binary',
      'deployment_pins.version as pinned_version',
    ])
    .where('secrets.project_id', '=', projectId)
    .where('secrets.scope', '=', scope)
    .orderBy('secrets.name')
    .execute();
}

export type VersionMetaRow = Omit<SecretVersionRow, 'ciphertext' | 'key_id' | 'binary' | 'fast_ciphertext'>;

export async function listVersions(ex: Executor, secretId: string): Promise<VersionMetaRow[]> {
  return ex
    .selectFrom('secret_versions')
    .select(['secret_id', 'version', 'kind', 'digest', 'size', 'created_at', 'created_by'])
    .where('secret_id', '=', secretId)
    .orderBy('version', 'desc')
    .execute();
}
