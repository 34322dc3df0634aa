import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { TestStore } from './server.js';

/**
 * Runs one statement directly against a test store's database (SQLite file or PostgreSQL),
 * beside the running server. For simulating what the API cannot do quickly, e.g. time passing.
 * Write the statement with `$1, $2…` placeholders; they become `?` on SQLite.
 */
export async function storeExec(store: TestStore, sql: string, params: unknown[] = []): Promise<number> {
  if (store.databaseUrl) {
    const c = new pg.Client({ connectionString: store.databaseUrl });
    await c.connect();
    try {
      const r = await c.query(sql, params);
      return r.rowCount ?? 0;
    } finally {
      await c.end();
    }
  }
  const db = new Database(join(store.dataDir, 'keyloft.db'));
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare(sql.replace(/\$\d+/g, '?')).run(...params).changes;
  } finally {
    db.close();
  }
}

/** Moves a deployment's expiry into the past, as if its token lifetime had run out. */
export async function expireDeploymentNow(store: TestStore, deploymentId: string): Promise<void> {
  const n = await storeExec(store, 'update deployments set expires_at = $1 where id = $2', [Date.now() - 1000, deploymentId]);
  if (n !== 1) throw new Error(`deployment ${deploymentId} not found in the store`);
}
