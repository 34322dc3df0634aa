import { sql } from 'kysely';
import type { Executor } from './executor.js';
import type { ApiTokenRow, SessionRow, UserRow } from './schema.js';

export async function countUsers(ex: Executor): Promise<number> {
  const r = await ex.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertUser(ex: Executor, row: UserRow): Promise<void> {
  await ex.insertInto('users').values(row).execute();
}

export async function findUserByEmail(ex: Executor, email: string): Promise<UserRow | undefined> {
  return ex.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserById(ex: Executor, id: string): Promise<UserRow | undefined> {
  return ex.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listUsers(ex: Executor): Promise<Pick<UserRow, 'id' | 'email' | 'is_admin' | 'created_at'>[]> {
  return ex.selectFrom('users').select(['id', 'email', 'is_admin', 'created_at']).orderBy('email').execute();
}

export async function insertSession(ex: Executor, row: SessionRow): Promise<void> {
  await ex.insertInto('sessions').values(row).execute();
}

/** A live session and its user. */
export async function findSession(ex: Executor, idHash: string): Promise<(SessionRow & { email: string; is_admin: number; disabled_at: number | null }) | undefined> {
  return ex
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('sessions')
    .select(['users.email', 'users.is_admin', 'users.disabled_at'])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
}

export async function touchSession(ex: Executor, idHash: string, now: number, expiresAt: number): Promise<void> {
  await ex.updateTable('sessions').set({ last_seen_at: now, expires_at: expiresAt }).where('id_hash', '=', idHash).execute();
}

export async function deleteSession(ex: Executor, idHash: string): Promise<void> {
  await ex.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteExpiredSessions(ex: Executor, now: number): Promise<void> {
  await ex.deleteFrom('sessions').where('expires_at', '<', now).execute();
}

export async function insertApiToken(ex: Executor, row: ApiTokenRow): Promise<void> {
  await ex.insertInto('api_tokens').values(row).execute();
}

export async function findApiTokenByHash(ex: Executor, hash: string): Promise<(ApiTokenRow & { email: string; is_admin: number; disabled_at: number | null }) | undefined> {
  return ex
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .selectAll('api_tokens')
    .select(['users.email', 'users.is_admin', 'users.disabled_at'])
    .where('api_tokens.token_hash', '=', hash)
    .executeTakeFirst();
}

export async function listApiTokens(ex: Executor, userId: string): Promise<ApiTokenRow[]> {
  return ex.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('created_at', 'desc').execute();
}

export async function revokeApiToken(ex: Executor, userId: string, id: string, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('api_tokens')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function touchApiToken(ex: Executor, id: string, now: number): Promise<void> {
  await ex.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
}

export async function getSetting(ex: Executor, key: string): Promise<string | undefined> {
  const r = await ex.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return r?.value;
}

export async function putSetting(ex: Executor, key: string, value: string): Promise<void> {
  await ex
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

export async function deleteSetting(ex: Executor, key: string): Promise<void> {
  await ex.deleteFrom('settings').where('key', '=', key).execute();
}

export interface ThrottleRow {
  key: string;
  failures: number;
  window_start: number;
  locked_until: number;
}

export async function getThrottles(ex: Executor, keys: readonly string[]): Promise<ThrottleRow[]> {
  return ex.selectFrom('login_throttle').selectAll().where('key', 'in', keys).execute();
}

export async function putThrottle(ex: Executor, row: ThrottleRow): Promise<void> {
  await ex
    .insertInto('login_throttle')
    .values(row)
    .onConflict((oc) => oc.column('key').doUpdateSet({ failures: row.failures, window_start: row.window_start, locked_until: row.locked_until }))
    .execute();
}

/**
 * Counts one failed sign-in for `key` in a single statement, so concurrent failures (on any
 * instance) are never lost: a new window starts when the current one is older than `windowMs`,
 * and reaching `limit` failures locks the key until `now + lockMs`.
 */
export async function recordLoginFailure(ex: Executor, key: string, now: number, policy: { limit: number; windowMs: number; lockMs: number }): Promise<void> {
  const stale = now - policy.windowMs;
  const lockedUntil = now + policy.lockMs;
  const failures = sql<number>`case when login_throttle.window_start < cast(${stale} as bigint) then 1 else login_throttle.failures + 1 end`;
  await ex
    .insertInto('login_throttle')
    .values({ key, failures: 1, window_start: now, locked_until: policy.limit <= 1 ? lockedUntil : 0 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        failures,
        window_start: sql<number>`case when login_throttle.window_start < cast(${stale} as bigint) then cast(${now} as bigint) else login_throttle.window_start end`,
        locked_until: sql<number>`case when (${failures}) >= ${policy.limit} then cast(${lockedUntil} as bigint) else cast(0 as bigint) end`,
      }),
    )
    .execute();
}

export async function clearThrottle(ex: Executor, key: string): Promise<void> {
  await ex.deleteFrom('login_throttle').where('key', '=', key).execute();
}
