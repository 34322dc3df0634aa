import { type Executor, inCodePointOrder, isPostgres } from './executor.js';
import { type Insertable, sql } from 'kysely';
import type { DeploymentRow, DeploymentTable } from './schema.js';

export async function openPreviewPrs(ex: Executor, projectId: string): Promise<number[]> {
  const rows = await ex.selectFrom('previews').select('pr').where('project_id', '=', projectId).where('closed_at', 'is', null).orderBy('pr').execute();
  return rows.map((r) => r.pr);
}

/** The last succeeded deployment of a project, of one environment (any when null) and pull request. */
function lastSucceeded(ex: Executor, projectId: string, env: string | null, pr: number | null): Promise<{ id: string } | undefined> {
  let q = ex.selectFrom('deployments').select('id').where('project_id', '=', projectId).where('status', '=', 'succeeded');
  if (env) q = q.where('environment', '=', env);
  if (pr !== null) q = q.where('pr', '=', pr);
  return q.orderBy('completed_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Id of the last succeeded deployment whose pins say whether a production (`production`) or build (`any`) secret is deployed. */
export async function lastSucceededDeploymentOf(ex: Executor, projectId: string, environment: 'production' | 'any'): Promise<string | undefined> {
  return (await lastSucceeded(ex, projectId, environment === 'any' ? null : environment, null))?.id;
}

/**
 * The version of one secret that the last succeeded deployment (of production, or of any
 * environment for a build secret) pinned, in one query; undefined when none did.
 */
export async function pinnedInLastSucceeded(ex: Executor, projectId: string, environment: 'production' | 'any', secretId: string): Promise<number | undefined> {
  let last = ex.selectFrom('deployments').select('id').where('project_id', '=', projectId).where('status', '=', 'succeeded');
  if (environment !== 'any') last = last.where('environment', '=', environment);
  const r = await ex
    .selectFrom('deployment_pins')
    .select('version')
    .where('secret_id', '=', secretId)
    .where('deployment_id', '=', last.orderBy('completed_at', 'desc').orderBy('id', 'desc').limit(1))
    .executeTakeFirst();
  return r?.version;
}

/** Ids of the last succeeded deployment: production, any environment (for build secrets), and per open preview PR. */
export async function lastSucceededDeployments(
  ex: Executor,
  projectId: string,
  prs: readonly number[],
): Promise<{ production: string | undefined; build: string | undefined; previews: Map<number, string> }> {
  const last = (env: string | null, pr: number | null) => lastSucceeded(ex, projectId, env, pr);
  const [production, build] = await Promise.all([last('production', null), last(null, null)]);
  const previews = new Map<number, string>();
  for (const pr of prs) {
    const d = await last('preview', pr);
    if (d) previews.set(pr, d.id);
  }
  return { production: production?.id, build: build?.id, previews };
}

/** Pinned versions by deployment id, then secret id. */
export async function pinsOf(ex: Executor, deploymentIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  if (deploymentIds.length === 0) return out;
  const rows = await ex
    .selectFrom('deployment_pins')
    .select(['deployment_id', 'secret_id', 'version'])
    .where('deployment_id', 'in', [...new Set(deploymentIds)])
    .execute();
  for (const r of rows) {
    let m = out.get(r.deployment_id);
    if (!m) {
      m = new Map();
      out.set(r.deployment_id, m);
    }
    m.set(r.secret_id, r.version);
  }
  return out;
}

export async function insertDeployment(ex: Executor, row: Insertable<DeploymentTable>): Promise<void> {
  await ex.insertInto('deployments').values(row).execute();
}

/** What a new deployment pins: the scopes it takes, and the override scope whose names replace `preview`'s. */
export interface PinSelection {
  projectId: string;
  /** The environment, `build` unless build secrets are withheld, and the pull request's override scope. */
  scopes: readonly string[];
  /** A preview's override scope (`preview#<pr>`): a live override hides the `preview` secret of the same name. */
  overrideScope: string | null;
}

/**
 * Pins the current version of every live (not deleted) secret of `sel.scopes` in a new deployment,
 * in one `INSERT … SELECT`: the set is computed by the database, in the statement's own snapshot,
 * with no row passing through JavaScript. A build secret pins as `build`, every other as `runtime`;
 * a `preview` secret is left out when a live override of its name exists in `sel.overrideScope`
 * (the override wins by name). Returns how many were pinned.
 */
export async function pinCurrentVersions(ex: Executor, deploymentId: string, sel: PinSelection): Promise<number> {
  const { overrideScope } = sel;
  const r = await ex
    .insertInto('deployment_pins')
    .columns(['deployment_id', 'secret_id', 'kind', 'version'])
    .expression((eb) => {
      let q = eb
        .selectFrom('secrets as s')
        .select([
          sql<string>`${deploymentId}`.as('deployment_id'),
          's.id',
          sql<string>`case when ${sql.ref('s.scope')} = ${sql.lit('build')} then ${sql.lit('build')} else ${sql.lit('runtime')} end`.as('kind'),
          's.current_version',
        ])
        .where('s.project_id', '=', sel.projectId)
        .where('s.scope', 'in', sel.scopes)
        .where('s.deleted', '=', 0);
      if (overrideScope !== null) {
        q = q.where((w) =>
          w.or([
            w('s.scope', '!=', 'preview'),
            w.not(
              w.exists(
                w
                  .selectFrom('secrets as o')
                  .select(sql.lit(1).as('one'))
                  .whereRef('o.project_id', '=', 's.project_id')
                  .where('o.scope', '=', overrideScope)
                  .whereRef('o.name', '=', 's.name')
                  .where('o.deleted', '=', 0),
              ),
            ),
          ]),
        );
      }
      return q;
    })
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0);
}

/**
 * A deployment's pins with their secrets' names and scopes, by name in code point order (the
 * database sorts; a caller's own sort of the rows then finds them in order, at almost no cost).
 */
export async function pinNames(ex: Executor, deploymentId: string): Promise<Array<{ kind: string; version: number; name: string; scope: string }>> {
  return ex
    .selectFrom('deployment_pins')
    .innerJoin('secrets', 'secrets.id', 'deployment_pins.secret_id')
    .select(['deployment_pins.kind', 'deployment_pins.version', 'secrets.name', 'secrets.scope'])
    .where('deployment_pins.deployment_id', '=', deploymentId)
    .orderBy(inCodePointOrder(ex, 'secrets.name'))
    .execute();
}

/**
 * Names of the runtime pins of deployment `before` whose secret deployment `after` does not pin: a
 * superset of the names `after` dropped, which the caller narrows by the names `after` pins (an
 * override and its preview default are two secrets of one name). The secrets are compared by id
 * in the pins' primary-key index (an EXCEPT of two index ranges, computed once), so only the few
 * that differ are looked up. A pin's kind follows its secret's scope (`build` pins as build, every
 * other scope as runtime), which never changes: `after` pins a secret `before` pinned with the
 * same kind, and a runtime pin is one whose secret is not of `build`. In no particular order.
 */
export async function runtimeNamesNotRepinned(ex: Executor, before: string, after: string): Promise<string[]> {
  const ids = (id: string) => ex.selectFrom('deployment_pins').select('secret_id').where('deployment_id', '=', id);
  const rows = await ex
    .selectFrom(ids(before).except(ids(after)).as('gone'))
    .innerJoin('secrets as s', 's.id', 'gone.secret_id')
    .select('s.name')
    .where('s.scope', '!=', 'build')
    .execute();
  return rows.map((r) => r.name);
}

export async function findDeployment(ex: Executor, id: string): Promise<DeploymentRow | undefined> {
  return ex.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findDeploymentByTokenHash(ex: Executor, hash: string): Promise<DeploymentRow | undefined> {
  return ex.selectFrom('deployments').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export async function listDeployments(
  ex: Executor,
  projectId: string,
  q: { environment?: string | undefined; limit: number; pr?: number | undefined; before?: { createdAt: number; id: string } | undefined },
): Promise<DeploymentRow[]> {
  let query = ex.selectFrom('deployments').selectAll().where('project_id', '=', projectId);
  if (q.environment) query = query.where('environment', '=', q.environment);
  if (q.pr !== undefined) query = query.where('pr', '=', q.pr);
  // Keyset pagination in the list's own order (created_at desc, id desc): the rows after `before`.
  const before = q.before;
  if (before) {
    query = query.where((eb) => eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

/** Running, unexpired deployments started by one deploy key (trust policy, person): what the per-key limit counts. */
export async function countRunningStartedBy(ex: Executor, startedById: string, now: number): Promise<number> {
  const r = await ex
    .selectFrom('deployments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('started_by_id', '=', startedById)
    .where('status', '=', 'running')
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Marks running deployments past their expiry as expired (and drops their token). */
export async function expireDeployments(ex: Executor, now: number, projectId?: string): Promise<void> {
  let q = ex.updateTable('deployments').set({ status: 'expired', token_hash: null }).where('status', '=', 'running').where('expires_at', '<=', now);
  if (projectId) q = q.where('project_id', '=', projectId);
  await q.execute();
}

/** Ends a running deployment; false when it was not running any more. */
export async function finishDeployment(ex: Executor, id: string, status: string, now: number, reason: string | null = null): Promise<boolean> {
  const r = await ex
    .updateTable('deployments')
    .set({ status, completed_at: now, token_hash: null, failure_reason: reason })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Current, live (not deleted) secrets of the given scopes: what a new deployment pins. */
export async function currentSecretsForPinning(
  ex: Executor,
  projectId: string,
  scopes: readonly string[],
): Promise<Array<{ id: string; scope: string; name: string; current_version: number }>> {
  return ex
    .selectFrom('secrets')
    .select(['id', 'scope', 'name', 'current_version'])
    .where('project_id', '=', projectId)
    .where('scope', 'in', scopes)
    .where('deleted', '=', 0)
    .orderBy('name')
    .execute();
}

export interface PinWithName {
  secret_id: string;
  kind: string;
  version: number;
  name: string;
  scope: string;
}

export async function pinsWithNames(ex: Executor, deploymentId: string): Promise<PinWithName[]> {
  return ex
    .selectFrom('deployment_pins')
    .innerJoin('secrets', 'secrets.id', 'deployment_pins.secret_id')
    .select(['deployment_pins.secret_id', 'deployment_pins.kind', 'deployment_pins.version', 'secrets.name', 'secrets.scope'])
    .where('deployment_pins.deployment_id', '=', deploymentId)
    .orderBy('secrets.name')
    .execute();
}

export interface PinnedCiphertext extends PinWithName {
  ciphertext: Uint8Array | null;
  key_id: string | null;
  /** The fast form under the key pair's data key, once a release wrote it. */
  fast_ciphertext: Uint8Array | null;
}

/**
 * The pinned versions of a deployment with their ciphertexts and fast forms, in one query, by name
 * in code point order (release path only).
 */
export async function pinnedCiphertexts(ex: Executor, deploymentId: string): Promise<PinnedCiphertext[]> {
  return ex
    .selectFrom('deployment_pins')
    .innerJoin('secrets', 'secrets.id', 'deployment_pins.secret_id')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'deployment_pins.secret_id').onRef('secret_versions.version', '=', 'deployment_pins.version'),
    )
    .select([
      'deployment_pins.secret_id',
      'deployment_pins.kind',
      'deployment_pins.version',
      'secrets.name',
      'secrets.scope',
      'secret_versions.ciphertext',
      'secret_versions.key_id',
      'secret_versions.fast_ciphertext',
    ])
    .where('deployment_pins.deployment_id', '=', deploymentId)
    .orderBy(inCodePointOrder(ex, 'secrets.name'))
    .execute();
}

/**
 * Stores a key pair's first data key (release path) if it still has none and is still wrapped
 * under `masterKeyId`; false when another instance (or a master key rotation) got there first.
 */
export async function storeDataKey(ex: Executor, keyPairId: string, masterKeyId: string, wrapped: Uint8Array): Promise<boolean> {
  const r = await ex
    .updateTable('project_keys')
    .set({ wrapped_data_key: wrapped })
    .where('id', '=', keyPairId)
    .where('master_key_id', '=', masterKeyId)
    .where('wrapped_data_key', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Stores fast forms (release path), each only while its version is still sealed to the key pair
 * whose data key sealed it (a project key rotation moves the row and clears the fast form) and has
 * none yet. One UPDATE … FROM a VALUES list per 250 rows (not one statement, and on PostgreSQL one
 * round trip, per row); the caller runs it in one transaction: all are written, or none.
 */
export async function storeFastForms(ex: Executor, rows: ReadonlyArray<{ secretId: string; version: number; keyId: string; fast: Uint8Array }>): Promise<void> {
  // PostgreSQL types a VALUES list from its parameters: name the integer and bytea columns (a
  // cast to bytea would turn a blob into a number on SQLite, whose columns take any type).
  const pg = isPostgres(ex);
  for (let i = 0; i < rows.length; i += 250) {
    const values = sql.join(
      rows
        .slice(i, i + 250)
        .map((r) =>
          pg
            ? sql`(${r.secretId}, cast(${r.version} as integer), ${r.keyId}, cast(${r.fast} as bytea))`
            : sql`(${r.secretId}, ${r.version}, ${r.keyId}, ${r.fast})`,
        ),
    );
    await sql`with x (secret_id, version, key_id, fast) as (values ${values})
      update secret_versions set fast_ciphertext = x.fast from x
      where secret_versions.secret_id = x.secret_id and secret_versions.version = x.version
        and secret_versions.key_id = x.key_id and secret_versions.fast_ciphertext is null`.execute(ex);
  }
}

export async function openPreview(ex: Executor, projectId: string, pr: number, now: number): Promise<void> {
  await ex
    .insertInto('previews')
    .values({ project_id: projectId, pr, opened_at: now, closed_at: null })
    .onConflict((oc) => oc.columns(['project_id', 'pr']).doUpdateSet({ closed_at: null }))
    .execute();
}

export async function closePreview(ex: Executor, projectId: string, pr: number, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('previews')
    .set({ closed_at: now })
    .where('project_id', '=', projectId)
    .where('pr', '=', pr)
    .where('closed_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
