import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { TestStore } from './server.js';

/**
 * The one raw-SQL helper of the spawned suites: runs a statement directly against a test store's
 * database (SQLite file or PostgreSQL), beside the running server, for what the API cannot do
 * (tampering, faults). Write it with `$1, $2…` placeholders; they become `?` on SQLite.
 * Returns the rows a query reads and how many rows a statement changed.
 */
async function run<T>(store: TestStore, text: string, params: unknown[]): Promise<{ rows: T[]; changes: number }> {
  if (store.databaseUrl) {
    const c = new pg.Client({ connectionString: store.databaseUrl });
    await c.connect();
    try {
      const r = await c.query(text, params);
      return { rows: r.rows as T[], changes: r.rowCount ?? 0 };
    } finally {
      await c.end();
    }
  }
  const db = new Database(join(store.dataDir, 'keyloft.db'));
  try {
    db.pragma('busy_timeout = 5000');
    const stmt = db.prepare(text.replace(/\$\d+/g, '?'));
    if (stmt.reader) return { rows: stmt.all(...params) as T[], changes: 0 };
    return { rows: [], changes: stmt.run(...params).changes };
  } finally {
    db.close();
  }
}

/** Rows a query reads from the store's database. */
export async function dbQuery<T = Record<string, unknown>>(store: TestStore, text: string, params: unknown[] = []): Promise<T[]> {
  return (await run<T>(store, text, params)).rows;
}

/** Runs a statement on the store's database; returns the number of rows it changed. */
export async function storeExec(store: TestStore, text: string, params: unknown[] = []): Promise<number> {
  return (await run(store, text, params)).changes;
}
