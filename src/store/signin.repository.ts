import { sql } from 'kysely';
import type { Executor } from './executor.js';
import type { PasswordResetRow, SessionRow } from './schema.js';

/** Whether the account signed in successfully from `ip` before. */
export async function isKnownAddress(ex: Executor, userId: string, ip: string): Promise<boolean> {
  const r = await ex.selectFrom('login_addresses').select('ip').where('user_id', '=', userId).where('ip', '=', ip).executeTakeFirst();
  return r !== undefined;
}

/** Remembers a successful sign-in of `userId` from `ip` (and when). */
export async function rememberAddress(ex: Executor, userId: string, ip: string, now: number): Promise<void> {
  await ex
    .insertInto('login_addresses')
    .values({ user_id: userId, ip, last_at: now })
    .onConflict((oc) => oc.columns(['user_id', 'ip']).doUpdateSet({ last_at: now }))
    .execute();
}

/**
 * Counts one failed sign-in for `key` in a single statement (concurrent failures on any instance
 * are never lost) and returns the new count within the window. A new window starts when the
 * current one is older than `windowMs`.
 */
export async function countFailure(ex: Executor, key: string, account: string | null, now: number, windowMs: number): Promise<number> {
  const stale = now - windowMs;
  const r = await ex
    .insertInto('login_throttle')
    .values({ key, failures: 1, window_start: now, locked_until: 0, account })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        failures: sql<number>`case when login_throttle.window_start < cast(${stale} as bigint) then 1 else login_throttle.failures + 1 end`,
        window_start: sql<number>`case when login_throttle.window_start < cast(${stale} as bigint) then cast(${now} as bigint) else login_throttle.window_start end`,
      }),
    )
    .returning('failures')
    .executeTakeFirstOrThrow();
  return Number(r.failures);
}

/** Locks `key` until `until`, never shortening a longer lock set by a parallel failure. */
export async function lockUntil(ex: Executor, key: string, until: number): Promise<void> {
  await ex
    .updateTable('login_throttle')
    .set({ locked_until: sql<number>`case when locked_until < cast(${until} as bigint) then cast(${until} as bigint) else locked_until end` })
    .where('key', '=', key)
    .execute();
}

/** Throttle rows of an account that are locked at `now`. */
export async function lockedRowsOf(ex: Executor, account: string, now: number): Promise<number> {
  const r = await ex
    .selectFrom('login_throttle')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account', '=', account)
    .where('locked_until', '>', now)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Accounts (emails) with a lock in force at `now`. */
export async function lockedAccounts(ex: Executor, now: number): Promise<Set<string>> {
  const rows = await ex.selectFrom('login_throttle').select('account').distinct().where('account', 'is not', null).where('locked_until', '>', now).execute();
  return new Set(rows.map((r) => r.account!));
}

/** Clears every throttle row of an account (its own and its (account, address) pairs); the number removed. */
export async function clearAccountThrottles(ex: Executor, account: string): Promise<number> {
  const r = await ex.deleteFrom('login_throttle').where('account', '=', account).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Prunes spent or expired reset links and stale throttle rows (expired sessions: deleteExpiredSessions). */
export async function sweepSpent(ex: Executor, now: number, throttleStaleBefore: number): Promise<void> {
  await ex
    .deleteFrom('password_resets')
    .where((eb) => eb.or([eb('expires_at', '<', now), eb('used_at', 'is not', null)]))
    .execute();
  await ex.deleteFrom('login_throttle').where('window_start', '<', throttleStaleBefore).where('locked_until', '<', now).execute();
}

/** A person's live sessions, newest first. */
export async function listSessionsOf(ex: Executor, userId: string, now: number): Promise<SessionRow[]> {
  return ex.selectFrom('sessions').selectAll().where('user_id', '=', userId).where('expires_at', '>', now).orderBy('created_at', 'desc').execute();
}

/** Ends one session of a user. */
export async function deleteSessionOf(ex: Executor, userId: string, idHash: string): Promise<void> {
  await ex.deleteFrom('sessions').where('id_hash', '=', idHash).where('user_id', '=', userId).execute();
}

/** Ends every session of a user, except `keepIdHash` when given; the number ended. */
export async function deleteSessionsOf(ex: Executor, userId: string, keepIdHash?: string): Promise<number> {
  let q = ex.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepIdHash) q = q.where('id_hash', '!=', keepIdHash);
  return Number((await q.executeTakeFirst()).numDeletedRows);
}

/** Revokes every live API token of a user; the number revoked. */
export async function revokeTokensOf(ex: Executor, userId: string, now: number): Promise<number> {
  const r = await ex.updateTable('api_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function setPasswordHash(ex: Executor, userId: string, hash: string): Promise<void> {
  await ex.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute();
}

export async function setDisabled(ex: Executor, userId: string, at: number | null): Promise<boolean> {
  const r = await ex.updateTable('users').set({ disabled_at: at }).where('id', '=', userId).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function setAdmin(ex: Executor, userId: string, isAdmin: boolean): Promise<void> {
  await ex
    .updateTable('users')
    .set({ is_admin: isAdmin ? 1 : 0 })
    .where('id', '=', userId)
    .execute();
}

export async function setLastLogin(ex: Executor, userId: string, at: number): Promise<void> {
  await ex.updateTable('users').set({ last_login_at: at }).where('id', '=', userId).execute();
}

/** Instance admins that are not disabled. */
export async function countActiveAdmins(ex: Executor): Promise<number> {
  const r = await ex
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('is_admin', '=', 1)
    .where('disabled_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Every user with the slugs of their projects (no password hash). */
export async function listUsersWithProjects(
  ex: Executor,
): Promise<
  Array<{ id: string; email: string; is_admin: number; created_at: number; disabled_at: number | null; last_login_at: number | null; projects: string[] }>
> {
  const users = await ex.selectFrom('users').select(['id', 'email', 'is_admin', 'created_at', 'disabled_at', 'last_login_at']).orderBy('email').execute();
  const members = await ex
    .selectFrom('memberships')
    .innerJoin('projects', 'projects.id', 'memberships.project_id')
    .select(['memberships.user_id', 'projects.slug'])
    .orderBy('projects.slug')
    .execute();
  const byUser = new Map<string, string[]>();
  for (const m of members) byUser.set(m.user_id, [...(byUser.get(m.user_id) ?? []), m.slug]);
  return users.map((u) => ({ ...u, projects: byUser.get(u.id) ?? [] }));
}

export async function insertPasswordReset(ex: Executor, row: PasswordResetRow): Promise<void> {
  await ex.insertInto('password_resets').values(row).execute();
}

/** A reset link by its token hash (whatever its state). */
export async function findPasswordReset(ex: Executor, tokenHash: string): Promise<PasswordResetRow | undefined> {
  return ex.selectFrom('password_resets').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** Marks a reset link used, only if it is still unused and unexpired: true for exactly one caller. */
export async function consumePasswordReset(ex: Executor, id: string, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('password_resets')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Voids every unused reset link of a user (a newer link or a disable replaces them). */
export async function voidPasswordResetsOf(ex: Executor, userId: string, now: number): Promise<void> {
  await ex.updateTable('password_resets').set({ used_at: now }).where('user_id', '=', userId).where('used_at', 'is', null).execute();
}

/** Deletes the setup token only if it is still the one given: true for exactly one caller. */
export async function consumeSetting(ex: Executor, key: string, value: string): Promise<boolean> {
  const r = await ex.deleteFrom('settings').where('key', '=', key).where('value', '=', value).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}
