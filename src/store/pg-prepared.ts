import { createHash } from 'node:crypto';
import type PgModule from 'pg';

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
 * Makes `client` send the registered texts as named statements (pg keeps which names each
 * connection has parsed). Kysely's pg driver calls `client.query(text, values)`; other calls pass through.
 */
export function namePreparedStatements(client: PgModule.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    const name = typeof config === 'string' && typeof callback !== 'function' ? names.get(config) : undefined;
    return name === undefined ? query(config, values, callback) : query({ name, text: config, values });
  };
}
