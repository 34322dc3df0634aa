import { CompiledQuery, sql } from 'kysely';
import type { Executor } from './executor.js';
import { preparedOnPostgres } from './pg-prepared.js';
import { Precompiled } from './precompiled.js';
import { activeKeyIdOf } from './projects.repository.js';
import type { AuditEventRow, SecretRow } from './schema.js';
import type { NewSecretVersion } from './secrets.repository.js';

/**
 * What one secret write reads inside its transaction, in one query: the project by slug with the
 * person's membership role in it, the scope's active key pair (id and public key), the secret with
 * its current version's keyed digest, size and binary flag, and the version of it that the last
 * succeeded deployment of its environment pinned (production and build scopes; null otherwise).
 */
export interface SecretWriteContext {
  id: string;
  slug: string;
  digest_key: Uint8Array;
  role: string;
  key_id: string | null;
  key_public: Uint8Array | null;
  s_id: string | null;
  s_current_version: number | null;
  s_deleted: number | null;
  s_created_at: number | null;
  s_updated_at: number | null;
  s_updated_by: string | null;
  v_digest: string | null;
  v_size: number | null;
  v_binary: number | null;
  pinned_version: number | null;
}

/** Where the pinned version comes from: production's last deployment, any environment's (build secrets), or none. */
export type PinSource = 'production' | 'any' | 'none';

function contextQuery(pins: PinSource) {
  return new Precompiled(6, (ex: Executor, slug: string, userId: string, keyScope: string, scope: string, name: string, environment: string) =>
    ex
      .selectFrom('projects')
      .innerJoin('memberships as m', (j) => j.onRef('m.project_id', '=', 'projects.id').on('m.user_id', '=', userId))
      .leftJoin('project_keys as k', (j) => j.on((eb) => eb('k.id', '=', activeKeyIdOf(eb, keyScope))))
      .leftJoin('secrets as s', (j) => j.onRef('s.project_id', '=', 'projects.id').on('s.scope', '=', scope).on('s.name', '=', name))
      .leftJoin('secret_versions as v', (j) => j.onRef('v.secret_id', '=', 's.id').onRef('v.version', '=', 's.current_version'))
      .select([
        'projects.id',
        'projects.slug',
        'projects.digest_key',
        'm.role',
        'k.id as key_id',
        'k.public_key as key_public',
        's.id as s_id',
        's.current_version as s_current_version',
        's.deleted as s_deleted',
        's.created_at as s_created_at',
        's.updated_at as s_updated_at',
        's.updated_by as s_updated_by',
        'v.digest as v_digest',
        'v.size as v_size',
        'v.binary as v_binary',
      ])
      .select((eb) => {
        if (pins === 'none') return sql<number | null>`null`.as('pinned_version');
        let last = eb.selectFrom('deployments as d').select('d.id').whereRef('d.project_id', '=', 'projects.id').where('d.status', '=', 'succeeded');
        if (pins === 'production') last = last.where('d.environment', '=', environment);
        return eb
          .selectFrom('deployment_pins as dp')
          .select('dp.version')
          .whereRef('dp.secret_id', '=', 's.id')
          .where('dp.deployment_id', '=', last.orderBy('d.completed_at', 'desc').orderBy('d.id', 'desc').limit(1))
          .as('pinned_version');
      })
      .where('projects.slug', '=', slug),
  );
}

const CONTEXT: Record<PinSource, ReturnType<typeof contextQuery>> = {
  production: contextQuery('production'),
  any: contextQuery('any'),
  none: contextQuery('none'),
};

/** See SecretWriteContext; undefined when there is no such project or the person is no member of it. */
export async function secretWriteContext(
  ex: Executor,
  slug: string,
  userId: string,
  keyScope: string,
  scope: string,
  name: string,
  pins: PinSource,
): Promise<SecretWriteContext | undefined> {
  const q = CONTEXT[pins];
  const r = await q.execute(ex, slug, userId, keyScope, scope, name, 'production');
  return r.rows[0] as SecretWriteContext | undefined;
}

/** The secret row of a write context (undefined: no such secret yet). */
export function contextSecret(c: SecretWriteContext, projectId: string, scope: string, name: string): SecretRow | undefined {
  if (c.s_id === null) return undefined;
  return {
    id: c.s_id,
    project_id: projectId,
    scope,
    name,
    current_version: c.s_current_version!,
    deleted: c.s_deleted!,
    created_at: c.s_created_at!,
    updated_at: c.s_updated_at!,
    updated_by: c.s_updated_by!,
  };
}

/**
 * The authorization a set needs, checked by its PostgreSQL write statement itself: the project
 * (its id, still under the slug), the person's membership with one of `roles`, and `key_id` still
 * the scope's active key pair. Nothing is written unless it holds in the statement's snapshot.
 */
export interface SetCheck {
  slug: string;
  userId: string;
  roles: readonly string[];
  keyScope: string;
}

const AUTHORIZED = `ok as (
    select 1 from "projects" as "p" inner join "memberships" as "m" on "m"."project_id" = "p"."id"
    where "p"."id" = $2 and "p"."slug" = $18 and "m"."user_id" = $19 and "m"."role" = any($20)
      and $10 = (
        select "k"."id" from "project_keys" as "k"
        where "k"."project_id" = "p"."id" and "k"."scope" = $21 and "k"."retired_at" is null
        order by "k"."created_at" desc limit 1
      )
  )`;

const VERSION_AND_AUDIT = `v as (
    insert into "secret_versions" ("secret_id", "version", "kind", "ciphertext", "key_id", "digest", "size", "binary", "created_at", "created_by")
    select "s"."id", $7, $8, $9, $10, $11, $12, $13, $5, $6 from "s"
  )
  insert into "audit_events" ("id", "at", "project_id", "actor", "actor_ip", "action", "scope", "name", "version", "detail")
  select $14, $5, $2, $6, $15, $16, $3, $4, $7, $17 from "s"
  returning "id"`;

/** Inserts the secret (version 1). */
const PG_CREATE = `with ${AUTHORIZED}, s as (
    insert into "secrets" ("id", "project_id", "scope", "name", "current_version", "deleted", "created_at", "updated_at", "updated_by")
    select $1, $2, $3, $4, $7, 0, $5, $5, $6 from "ok"
    returning "id"
  ), ${VERSION_AND_AUDIT}`;

/** Moves the secret from version $22 to $7 (compare-and-set: no row when another writer moved it). */
const PG_ADVANCE = `with ${AUTHORIZED}, s as (
    update "secrets" set "current_version" = $7, "deleted" = 0, "updated_at" = $5, "updated_by" = $6
    where "id" = $1 and "current_version" = $22 and exists (select 1 from "ok")
    returning "id"
  ), ${VERSION_AND_AUDIT}`;

// Parsed and planned once per connection (pg-prepared.ts): planning these was most of their time.
preparedOnPostgres(PG_CREATE);
preparedOnPostgres(PG_ADVANCE);

/**
 * PostgreSQL: a set's three writes — the secret (inserted, or moved from `fromVersion` by
 * compare-and-set), its version and its audit event — in one statement (data-modifying CTEs),
 * with the set's authorization (`check`) in the same statement: one round trip, atomic on its own
 * or inside the caller's transaction. The version and the event are inserted only with the
 * secret's row: false when the authorization no longer holds, the key pair is no longer the
 * active one, or the compare-and-set found another version (nothing written). A create that
 * collides with another writer's throws the unique violation.
 */
export async function writeSetPg(
  ex: Executor,
  projectId: string,
  scope: string,
  fromVersion: number | undefined,
  v: NewSecretVersion,
  event: AuditEventRow,
  check: SetCheck,
): Promise<boolean> {
  const params = [
    v.secret_id,
    projectId,
    scope,
    event.name,
    v.created_at,
    v.created_by,
    v.version,
    v.kind,
    v.ciphertext,
    v.key_id,
    v.digest,
    v.size,
    v.binary ?? null,
    event.id,
    event.actor_ip,
    event.action,
    event.detail,
    check.slug,
    check.userId,
    check.roles,
    check.keyScope,
  ];
  const r =
    fromVersion === undefined
      ? await ex.executeQuery(CompiledQuery.raw(PG_CREATE, params))
      : await ex.executeQuery(CompiledQuery.raw(PG_ADVANCE, [...params, fromVersion]));
  return r.rows.length === 1;
}
