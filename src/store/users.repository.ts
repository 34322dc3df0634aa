import type { Executor } from './executor.js';
import { Precompiled } from './precompiled.js';
import type { Insertable } from 'kysely';
import type { ApiTokenRow, SessionRow, UserRow, UserTable } from './schema.js';

export async function countUsers(ex: Executor): Promise<number> {
  const r = await ex
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertUser(ex: Executor, row: Insertable<UserTable>): Promise<void> {
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
export async function findSession(
  ex: Executor,
  idHash: string,
): Promise<(SessionRow & { email: string; is_admin: number; disabled_at: number | null }) | undefined> {
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

/** Deletes sessions past their expiry; the number deleted. */
export async function deleteExpiredSessions(ex: Executor, now: number): Promise<number> {
  const r = await ex.deleteFrom('sessions').where('expires_at', '<', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function insertApiToken(ex: Executor, row: ApiTokenRow): Promise<void> {
  await ex.insertInto('api_tokens').values(row).execute();
}

/**
 * Precompiled: every request with a personal API token runs it (store/precompiled.ts). Its columns
 * are named, not `api_tokens.*`: so it runs as a named prepared statement on PostgreSQL (pg-prepared.ts).
 */
const API_TOKEN_BY_HASH = new Precompiled(1, (ex: Executor, hash: string) =>
  ex
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select([
      'api_tokens.id',
      'api_tokens.user_id',
      'api_tokens.name',
      'api_tokens.token_hash',
      'api_tokens.created_at',
      'api_tokens.last_used_at',
      'api_tokens.revoked_at',
      'api_tokens.expires_at',
      'api_tokens.read_only',
    ])
    .select(['users.email', 'users.is_admin', 'users.disabled_at'])
    .where('api_tokens.token_hash', '=', hash),
);

export async function findApiTokenByHash(
  ex: Executor,
  hash: string,
): Promise<(ApiTokenRow & { email: string; is_admin: number; disabled_at: number | null }) | undefined> {
  return (await API_TOKEN_BY_HASH.execute(ex, hash)).rows[0];
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

export async function clearThrottle(ex: Executor, key: string): Promise<void> {
  await ex.deleteFrom('login_throttle').where('key', '=', key).execute();
}
