import type { Executor } from './executor.js';
import type { PendingImportRow } from './schema.js';

/** Queries of the pending dashboard imports (sealed .env text between review and Confirm). */

export async function insertPendingImport(ex: Executor, row: PendingImportRow): Promise<void> {
  await ex.insertInto('pending_imports').values(row).execute();
}

/**
 * Removes and returns the pending import `id` of this session if it has not expired: a second
 * Confirm (double submit, replay) finds nothing.
 */
export async function takePendingImport(ex: Executor, id: string, sessionHash: string, now: number): Promise<PendingImportRow | undefined> {
  const row = await ex
    .selectFrom('pending_imports')
    .selectAll()
    .where('id', '=', id)
    .where('session_hash', '=', sessionHash)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return undefined;
  const r = await ex.deleteFrom('pending_imports').where('id', '=', id).where('session_hash', '=', sessionHash).executeTakeFirst();
  return Number(r.numDeletedRows) === 1 ? row : undefined;
}

/** Removes every pending import of one session (logout). */
export async function deletePendingImportsOfSession(ex: Executor, sessionHash: string): Promise<number> {
  const r = await ex.deleteFrom('pending_imports').where('session_hash', '=', sessionHash).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Removes expired pending imports, and those whose session has ended (expired). */
export async function deleteExpiredPendingImports(ex: Executor, now: number): Promise<number> {
  const r = await ex
    .deleteFrom('pending_imports')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('session_hash', 'in', eb.selectFrom('sessions').select('id_hash').where('expires_at', '<=', now))]))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** How many pending imports one session holds (a bound on what one session may stage). */
export async function countPendingImportsOfSession(ex: Executor, sessionHash: string): Promise<number> {
  const r = await ex
    .selectFrom('pending_imports')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('session_hash', '=', sessionHash)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
