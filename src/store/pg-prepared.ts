import { createHash } from 'node:crypto';
import type PgModule from 'pg';
import { storageError } from './storage-errors.js';

/**
 * PostgreSQL: the SQL texts run as named prepared statements (extended protocol Parse once per
 * connection, then only Bind/Execute), by statement name. PostgreSQL parses and plans an unnamed
 * statement on every run: for a set's context query and its one-statement write that was most of
 * their time (≈ 0.6 ms of planning against 0.15 ms of execution for the context query).
 *
 * Only fixed texts are registered (Precompiled queries, the set's write statements), so the map
 * and each connection's statements stay a handful. A text with a `*` is never named: its result
 * columns are the table's, and after a column is added (a newer release migrating while this one
 * runs) PostgreSQL refuses to run the cached plan ("cached plan must not change result type")
 * until the connection closes. With explicit columns an added column only makes it plan again.
 */
const names = new Map<string, string>();

/** Runs `text` as a named prepared statement on PostgreSQL connections that name statements (see namePreparedStatements). */
export function preparedOnPostgres(text: string): void {
  if (text.includes('*') || names.has(text)) return;
  names.set(text, `kl_${createHash('sha256').update(text).digest('hex').slice(0, 20)}`);
}

/** The statement name of `text`; undefined when it runs unnamed. */
export function preparedName(text: string): string | undefined {
  return names.get(text);
}

/**
 * Whether a pool names its statements. A connection pooler in transaction mode that does not keep
 * prepared statements (PgBouncer before 1.21, or with max_prepared_statements = 0) hands a keyloft
 * connection a different server connection from one transaction to the next: a statement that
 * keyloft parsed on one is missing on the other (SQLSTATE 26000), or one parsed by another keyloft
 * connection is already there (42P05). The first such error turns naming off for the whole pool,
 * once, and is reported to `listen`ers; the operator can then set
 * KEYLOFT_DATABASE_PREPARED_STATEMENTS=false to skip the first failure.
 */
export class StatementNaming {
  #on: boolean;
  #listeners: Array<(err: Error) => void> = [];

  constructor(on: boolean) {
    this.#on = on;
  }

  get on(): boolean {
    return this.#on;
  }

  /** Called once, when naming is turned off because of `err`. */
  listen(fn: (err: Error) => void): void {
    this.#listeners.push(fn);
  }

  turnOff(err: Error): void {
    if (!this.#on) return;
    this.#on = false;
    for (const fn of this.#listeners) fn(err);
  }
}

/** The SQLSTATEs of a named statement that the server connection does not have, or already has. */
const POOLER_CODES = new Set(['26000', '42P05']);

/**
 * Makes `client` send the registered texts as named statements while `naming` is on (pg keeps which
 * names each connection has parsed). Kysely's pg driver calls `client.query(text, values)`; other
 * calls pass through.
 *
 * When a named statement fails because the server connection behind the pool is not the one it was
 * parsed on (POOLER_CODES), naming is turned off for the pool. The failed statement did not run
 * (the error comes at Parse or Bind): outside a transaction it is sent again, unnamed, at once;
 * inside one the transaction is already aborted, so the error goes to the caller (a 503 for the one
 * request, as for any lost connection) and the next transaction runs unnamed.
 */
export function namePreparedStatements(client: PgModule.PoolClient, naming: StatementNaming): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let inTransaction = false;
  (client as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (typeof config === 'string') {
      // Kysely's pg driver opens and ends transactions with these texts on the connection.
      // (`rollback to <savepoint>` stays inside the transaction.)
      const head = config.trimStart().slice(0, 12).toLowerCase();
      if (head.startsWith('begin') || head.startsWith('start tra')) inTransaction = true;
      else if (/^(commit|end)\b/.test(head) || (/^rollback\b/.test(head) && !/^rollback\s+to\b/.test(head))) inTransaction = false;
    }
    const name = naming.on && typeof config === 'string' && typeof callback !== 'function' ? names.get(config) : undefined;
    if (name === undefined) return query(config, values, callback);
    const inTx = inTransaction;
    return (query({ name, text: config, values }) as Promise<unknown>).catch((err: { code?: unknown }) => {
      if (!POOLER_CODES.has(String(err?.code))) throw err;
      naming.turnOff(err as Error);
      if (inTx) throw storageError('unavailable', err);
      return query(config, values);
    });
  };
}
