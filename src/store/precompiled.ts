import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import { type Executor, isPostgres } from './executor.js';
import { preparedOnPostgres } from './pg-prepared.js';

type Slot = { arg: number } | { value: unknown };

/**
 * A hot query built and compiled by Kysely once per database engine, then run with each call's
 * arguments bound to the same SQL text (Kysely's "splitting build, compile and execute" recipe):
 * no query building or compiling per call (≈ 30–60 µs each on the write path), and on SQLite the
 * statement cache (db.ts) finds the prepared statement by that text; on PostgreSQL it runs as a
 * named prepared statement (pg-prepared.ts; not a text with a `*`).
 *
 * `build` receives a unique marker in place of every argument; a marker it uses must become a bound
 * parameter (no `in` lists, no argument used as an identifier or inlined in a `sql` fragment; the
 * compile checks that none reached the SQL text). Constants the builder binds itself (a
 * `limit(1)`) stay as they were compiled; an argument the builder does not use is ignored.
 * The SQL is compiled once, so a Kysely plugin's transformQuery does not see later runs (keyloft's
 * databases have none; transformResult still runs on every result).
 */
export class Precompiled<A extends readonly unknown[], R> {
  readonly #build: (ex: Executor, ...args: A) => Compilable<R>;
  readonly #arity: number;
  /** Per dialect adapter: one per Kysely instance, shared by its transactions. */
  readonly #compiled = new WeakMap<object, { query: CompiledQuery<R>; slots: Slot[] }>();

  constructor(arity: number, build: (ex: Executor, ...args: A) => Compilable<R>) {
    this.#arity = arity;
    this.#build = build;
  }

  #compile(ex: Executor): { query: CompiledQuery<R>; slots: Slot[] } {
    const adapter = ex.getExecutor().adapter;
    let c = this.#compiled.get(adapter);
    if (c) return c;
    const markers = Array.from({ length: this.#arity }, (_, i) => `\u0000precompiled argument ${i}\u0000`);
    const query = this.#build(ex, ...(markers as unknown as A)).compile();
    const slots: Slot[] = query.parameters.map((p) => {
      const i = typeof p === 'string' ? markers.indexOf(p) : -1;
      return i >= 0 ? { arg: i } : { value: p };
    });
    // A marker in the SQL text would be an argument inlined once and for all: refuse it.
    if (markers.some((m) => query.sql.includes(m))) throw new Error('a precompiled query must bind its arguments as parameters');
    c = { query, slots };
    // PostgreSQL: parsed and planned once per connection, not on every run.
    if (isPostgres(ex)) preparedOnPostgres(query.sql);
    this.#compiled.set(adapter, c);
    return c;
  }

  /** Runs the query with `args` on `ex` (the database or a transaction). */
  execute(ex: Executor, ...args: A): Promise<QueryResult<R>> {
    const { query, slots } = this.#compile(ex);
    const parameters = slots.map((s) => ('arg' in s ? args[s.arg] : s.value));
    return ex.executeQuery<R>({ query: query.query, queryId: query.queryId, sql: query.sql, parameters });
  }
}
