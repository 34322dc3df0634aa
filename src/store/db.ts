import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import { createRequire } from 'node:module';
import type PgModule from 'pg';
import * as m0001 from './migrations/2026-11-26-0001-initial.js';
import * as m0003 from './migrations/2026-11-29-0003-release-rights.js';
import * as m0004 from './migrations/2026-11-29-0004-trust-policies.js';
import * as m0005newuser from './migrations/2026-11-29-0005-newuser.js';
import * as m0007 from './migrations/2026-11-29-0007-pending-imports.js';
import * as m0008 from './migrations/2026-11-29-0008-people.js';
import type { DB } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database: the Kysely instance, which engine it is, and how to close it. */
export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** PostgreSQL only: the connection pool's current use (for /metrics). */
  poolStats?: () => PoolStats;
  close(): Promise<void>;
}

/** A snapshot of a connection pool: open connections, idle ones, queued requests, the cap. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

let pgModule: typeof PgModule | undefined;
/** `pg`, loaded on first use: the embedded SQLite default never pays for it at start. */
function loadPg(): typeof PgModule {
  if (!pgModule) {
    pgModule = createRequire(import.meta.url)('pg') as typeof PgModule;
    // bigint (int8) columns hold millisecond timestamps: read them as numbers, not strings.
    pgModule.types.setTypeParser(20, (v: string) => Number(v));
  }
  return pgModule;
}

/** Opens `url`: `postgres://…` / `postgresql://…`, or a SQLite file path (optionally `sqlite:` / `file:` prefixed). */
export function openDatabase(url: string, opts: { poolSize?: number } = {}): Database {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pg = loadPg();
    const max = opts.poolSize ?? 10;
    const pool = new pg.Pool({ connectionString: url, max });
    // An idle client error must not crash the process; the pool replaces the client.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    const poolStats = (): PoolStats => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max });
    return { db, dialect: 'postgres', poolStats, close: () => db.destroy() };
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/, '');
  // The data directory holds the database and (on the embedded default) the master key: owner only.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before the response that acknowledges it.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/**
 * Kysely prepares every query anew; better-sqlite3 statements can be reused, so keep them by SQL
 * text (bounded, least recently prepared first out). Safe on the one connection Kysely serialises:
 * `all`/`run` are synchronous, and a streaming `iterate` holds the connection until it is done.
 */
function withStatementCache(sqlite: SQLite.Database, max = 500): { prepare(sql: string): SQLite.Statement; close(): void } {
  const statements = new Map<string, SQLite.Statement>();
  return {
    prepare(sql: string) {
      let s = statements.get(sql);
      if (s) return s;
      s = sqlite.prepare(sql);
      if (statements.size >= max) statements.delete(statements.keys().next().value!);
      statements.set(sql, s);
      return s;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}

const MIGRATIONS: Record<string, Migration> = {
  '2026-11-26-0001-initial': m0001,
  '2026-11-29-0003-release-rights': m0003,
  '2026-11-29-0004-trust-policies': m0004,
  '2026-11-29-0005-newuser': m0005newuser,
  '2026-11-29-0007-pending-imports': m0007,
  '2026-11-29-0008-people': m0008,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** Applies every pending migration (Kysely takes a lock, so several instances may start at once). */
export async function migrateToLatest(db: Kysely<DB>): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
