import { type Kysely, PostgresAdapter, type RawBuilder, sql, type Transaction } from 'kysely';
import type { DB } from './schema.js';

/** What every repository function takes: the database or the transaction it runs in. */
export type Executor = Kysely<DB> | Transaction<DB>;

/** Bytes from a blob column (better-sqlite3 and pg both return Buffers). */
export function bytes(b: Uint8Array): Uint8Array {
  return b;
}

/** True for a unique-constraint violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * A text column in code point order, for an ORDER BY that matches JavaScript's `<` on strings:
 * SQLite's default (BINARY) collation is; PostgreSQL's database default may not be, so its "C"
 * collation (byte order, which is code point order in UTF-8) is named there.
 */
export function inCodePointOrder(ex: Executor, column: string): RawBuilder<unknown> {
  return isPostgres(ex) ? sql`${sql.ref(column)} collate "C"` : sql`${sql.ref(column)}`;
}

/** Whether `ex` runs on PostgreSQL (else SQLite), for the few statements written per engine. */
export function isPostgres(ex: Executor): boolean {
  return ex.getExecutor().adapter instanceof PostgresAdapter;
}
