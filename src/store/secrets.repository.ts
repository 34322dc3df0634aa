import { sql } from 'kysely';
import { type Executor, isPostgres } from './executor.js';
import { Precompiled } from './precompiled.js';
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

const INSERT_SECRET = new Precompiled(9, (ex: Executor, ...a: unknown[]) =>
  ex.insertInto('secrets').values({
    id: a[0] as string,
    project_id: a[1] as string,
    scope: a[2] as string,
    name: a[3] as string,
    current_version: a[4] as number,
    deleted: a[5] as number,
    created_at: a[6] as number,
    updated_at: a[7] as number,
    updated_by: a[8] as string,
  }),
);

export async function insertSecret(ex: Executor, row: SecretRow): Promise<void> {
  await INSERT_SECRET.execute(
    ex,
    row.id,
    row.project_id,
    row.scope,
    row.name,
    row.current_version,
    row.deleted,
    row.created_at,
    row.updated_at,
    row.updated_by,
  );
}

const ADVANCE_SECRET = new Precompiled(6, (ex: Executor, id: string, from: number, to: number, deleted: number, updatedAt: number, updatedBy: string) =>
  ex
    .updateTable('secrets')
    .set({ current_version: to, deleted, updated_at: updatedAt, updated_by: updatedBy })
    .where('id', '=', id)
    .where('current_version', '=', from),
);

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
  const r = await ADVANCE_SECRET.execute(ex, id, fromVersion, fromVersion + 1, patch.deleted, patch.updated_at, patch.updated_by);
  return Number(r.numAffectedRows) === 1;
}

/** A version row to insert: `binary` may be left out (tombstones, and writers that do not know). */
export type NewSecretVersion = Omit<SecretVersionRow, 'binary' | 'fast_ciphertext'> & { binary?: number | null };

const INSERT_VERSION = new Precompiled(10, (ex: Executor, ...a: unknown[]) =>
  ex.insertInto('secret_versions').values({
    secret_id: a[0] as string,
    version: a[1] as number,
    kind: a[2] as string,
    ciphertext: a[3] as Uint8Array | null,
    key_id: a[4] as string | null,
    digest: a[5] as string | null,
    size: a[6] as number | null,
    binary: a[7] as number | null,
    created_at: a[8] as number,
    created_by: a[9] as string,
  }),
);

export async function insertVersions(ex: Executor, rows: readonly NewSecretVersion[]): Promise<void> {
  const [v] = rows;
  if (rows.length === 1 && v) {
    // One row (every single write): the precompiled statement; `binary` left out is null, its default.
    await INSERT_VERSION.execute(ex, v.secret_id, v.version, v.kind, v.ciphertext, v.key_id, v.digest, v.size, v.binary ?? null, v.created_at, v.created_by);
    return;
  }
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
 * What says whether a scope's list is still the same (listScopeStamps): a secret's listed metadata
 * changes only with its current version (every write moves it; a version's digest, size and kind
 * never change), and its status only with that version and the pins of the last succeeded
 * deployment, which are written with the deployment and never change.
 */
export interface ScopeStampRow {
  id: string;
  current_version: number;
  deleted: number;
  updated_at: number;
  /** The last succeeded deployment whose pins give the status (of production, or of any environment for build); null when none. */
  last_deployment: string | null;
}

/** One secret of a scope's list (listScopeMeta): what its line of the answer shows, and its status's input. */
export interface ScopeMetaRow extends ScopeStampRow {
  name: string;
  updated_by: string;
  /** The keyed digest cut to its first `digestLength` characters (the short form shown); null for a tombstone. */
  digest: string | null;
  size: number | null;
  binary: number | null;
  /** The version that `last_deployment` pinned; null when none did. */
  pinned_version: number | null;
}

/**
 * The production or build scope of a project, name order, each secret with the version that the
 * last succeeded deployment pinned (production: of production; build: of any environment), in one
 * statement (issue 18 §4). Only the columns the answer shows, the digest already cut to its short
 * form (`digestLength` characters).
 *
 * The pin, by the pins' primary key (deployment, secret): on SQLite a left join, on PostgreSQL a
 * subquery per row. PostgreSQL without table statistics (a new database, before autovacuum's
 * first ANALYZE) planned the join as a scan of every pin of the deployment for each secret (0.1 s
 * for 1,000 secrets); a subquery per row is one index lookup whatever the statistics. On SQLite
 * the join is the cheaper of the two (by ~0.2 ms for 1,000).
 *
 * With `ids`, only those secrets of the scope (a kept answer's changed ones, ScopeListCache).
 */
export async function listScopeMeta(
  ex: Executor,
  projectId: string,
  scope: 'production' | 'build',
  digestLength: number,
  ids?: readonly string[],
): Promise<ScopeMetaRow[]> {
  const lastId = lastSucceededId(ex, projectId, scope);
  let q = ex
    .selectFrom('secrets')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'secrets.id').onRef('secret_versions.version', '=', 'secrets.current_version'),
    )
    .select([
      'secrets.id',
      'secrets.name',
      'secrets.current_version',
      'secrets.deleted',
      'secrets.updated_at',
      'secrets.updated_by',
      sql<string | null>`substr(secret_versions.digest, 1, ${sql.lit(digestLength)})`.as('digest'),
      'secret_versions.size',
      'secret_versions.binary',
      lastId.as('last_deployment'),
    ])
    .where('secrets.project_id', '=', projectId)
    .where('secrets.scope', '=', scope)
    .orderBy('secrets.name');
  if (ids) {
    if (ids.length === 0) return [];
    q = q.where('secrets.id', 'in', ids);
  }
  if (!isPostgres(ex)) {
    return q
      .leftJoin('deployment_pins', (j) => j.on('deployment_pins.deployment_id', '=', lastId).onRef('deployment_pins.secret_id', '=', 'secrets.id'))
      .select('deployment_pins.version as pinned_version')
      .execute();
  }
  return q
    .select((eb) =>
      eb
        .selectFrom('deployment_pins')
        .select('deployment_pins.version')
        .where('deployment_pins.deployment_id', '=', lastId)
        .whereRef('deployment_pins.secret_id', '=', 'secrets.id')
        .as('pinned_version'),
    )
    .execute();
}

/**
 * listScopeMeta's rows with only what tells whether the scope's list changed (ScopeStampRow), in
 * the same order: no version row, no pin, one string per secret (its id).
 */
export async function listScopeStamps(ex: Executor, projectId: string, scope: 'production' | 'build'): Promise<ScopeStampRow[]> {
  const lastId = lastSucceededId(ex, projectId, scope);
  return ex
    .selectFrom('secrets')
    .select(['secrets.id', 'secrets.current_version', 'secrets.deleted', 'secrets.updated_at', lastId.as('last_deployment')])
    .where('secrets.project_id', '=', projectId)
    .where('secrets.scope', '=', scope)
    .orderBy('secrets.name')
    .execute();
}

/** The id of the last succeeded deployment whose pins give a production (of production) or build (of any environment) secret's status, as a subquery. */
function lastSucceededId(ex: Executor, projectId: string, scope: 'production' | 'build') {
  let last = ex
    .selectFrom('deployments')
    .select('deployments.id')
    .where('deployments.project_id', '=', projectId)
    .where('deployments.status', '=', 'succeeded');
  if (scope === 'production') last = last.where('deployments.environment', '=', 'production');
  return last.orderBy('deployments.completed_at', 'desc').orderBy('deployments.id', 'desc').limit(1);
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
