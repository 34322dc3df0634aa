import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import { createRequire } from 'node:module';
import type PgModule from 'pg';
import * as m0001 from './migrations/2026-11-26-0001-initial.js';
import * as m0002signin from './migrations/2026-11-29-0002-signin.js';
import * as m0003 from './migrations/2026-11-29-0003-release-rights.js';
import * as m0004 from './migrations/2026-11-29-0004-trust-policies.js';
import * as m0005newuser from './migrations/2026-11-29-0005-newuser.js';
import * as m0007 from './migrations/2026-11-29-0007-pending-imports.js';
import * as m0008 from './migrations/2026-11-29-0008-people.js';
import * as m0009 from './migrations/2026-11-29-0009-data-keys.js';
import * as m0010 from './migrations/2026-11-29-0010-pin-references.js';
import type { DB } from './schema.js';
import { DiskReserve } from './disk-reserve.js';
import { namePreparedStatements, StatementNaming } from './pg-prepared.js';
import { guardDialect, StorageHealth, storageFault } from './storage-errors.js';

export type Dialect = 'sqlite' | 'postgres';

/** SQLite's page cache per connection, in KiB (`PRAGMA cache_size`; docs/OPERATIONS.md "Memory"). */
export const SQLITE_CACHE_KIB = 4096;

/** An open database: the Kysely instance, which engine it is, and how to close it. */
export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** Whether the storage is failing now; reports an outage's start and end once each. */
  health: StorageHealth;
  /** Embedded SQLite only: creates the disk reserve next to the file (`keyloft serve` does, once started). */
  reserveSpace?: () => boolean;
  /** PostgreSQL only: the connection pool's current use (for /metrics). */
  poolStats?: () => PoolStats;
  /** PostgreSQL only: whether the hot queries run as named prepared statements (turned off once a pooler loses them). */
  naming?: StatementNaming;
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

let sqliteModule: typeof SQLite | undefined;
/** better-sqlite3, loaded on first use: a server on PostgreSQL never loads the native module. */
function loadSqlite(): typeof SQLite {
  sqliteModule ??= createRequire(import.meta.url)('better-sqlite3') as typeof SQLite;
  return sqliteModule;
}

/**
 * Opens `url`: `postgres://…` / `postgresql://…`, or a SQLite file path (optionally `sqlite:` / `file:` prefixed).
 * `preparedStatements` (PostgreSQL, default true): the hot queries as named prepared statements (pg-prepared.ts).
 */
export function openDatabase(url: string, opts: { poolSize?: number; connectTimeoutMs?: number; preparedStatements?: boolean } = {}): Database {
  const health = new StorageHealth();
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pg = loadPg();
    const max = opts.poolSize ?? 10;
    // A bounded wait for a connection: an unreachable database fails requests with 503 instead of hanging them.
    const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000 });
    // A connection the server ends (restart, failover, pg_terminate_backend) emits 'error' on its
    // client, idle or checked out; unheard, that event ends the process. The pool drops the client
    // and opens a new one on the next query; the outage is reported once through `health`.
    const onError = (err: Error) => health.failed(storageFault(err) ?? 'unavailable', err);
    pool.on('error', onError);
    const naming = new StatementNaming(opts.preparedStatements ?? true);
    pool.on('connect', (client) => {
      client.on('error', onError);
      if (naming.on) namePreparedStatements(client, naming);
    });
    const db = new Kysely<DB>({ dialect: guardDialect(new PostgresDialect({ pool }), health) });
    const poolStats = (): PoolStats => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max });
    return { db, dialect: 'postgres', health, poolStats, naming, close: () => db.destroy() };
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/, '');
  // The data directory holds the database and (on the embedded default) the master key: owner only.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sqlite = new (loadSqlite())(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before the response that acknowledges it.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Bounded page cache (better-sqlite3 builds SQLite with 16 MiB per connection; it filled under
  // the 16-client W4 load, 17 MB of the server's peak). Pages beyond it are read from the kernel's
  // page cache of the file, which a small machine can reclaim.
  sqlite.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
  // A reserve of disk space next to the file keeps releases and sign-ins working on a full disk (disk-reserve.ts).
  const reserve = path === ':memory:' ? undefined : new DiskReserve(dirname(path), () => health.ok());
  const db = new Kysely<DB>({ dialect: guardDialect(new SqliteDialect({ database: withStatementCache(sqlite) }), health, reserve) });
  return {
    db,
    dialect: 'sqlite',
    health,
    ...(reserve ? { reserveSpace: () => reserve.create() } : {}),
    close: async () => {
      reserve?.close();
      await db.destroy();
    },
  };
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

/**
 * Waits until the database answers, retrying with backoff (0.5 s doubling to 5 s) while it is
 * unreachable, for at most `timeoutMs`. Errors that are not the storage being unreachable (wrong
 * password, missing database) are thrown at once. Throws a DatabaseUnreachableError at the deadline.
 */
export async function waitForDatabase(
  db: Kysely<DB>,
  opts: { timeoutMs: number; onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void; sleep?: (ms: number) => Promise<void> },
): Promise<void> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + opts.timeoutMs;
  let delayMs = 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`select 1`.execute(db);
      return;
    } catch (err) {
      if (storageFault(err) !== 'unavailable') throw err;
      const reason = driverReason(err);
      const left = deadline - Date.now();
      if (left <= 0) throw new DatabaseUnreachableError(reason, attempt);
      const wait = Math.min(delayMs, left);
      opts.onRetry?.({ attempt, delayMs: wait, reason });
      await sleep(wait);
      delayMs = Math.min(delayMs * 2, 5000);
    }
  }
}

/** The database did not answer within KEYLOFT_DB_CONNECT_TIMEOUT_S. */
export class DatabaseUnreachableError extends Error {
  constructor(
    readonly reason: string,
    readonly attempts: number,
  ) {
    super(`the database did not answer (${reason}) after ${attempts} attempt${attempts === 1 ? '' : 's'}`);
    this.name = 'DatabaseUnreachableError';
  }
}

/** The driver's code or first words for a log line: no host credentials (a URL is never part of pg's messages). */
function driverReason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const e = cause as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' && e.code ? e.code : String(e.message ?? 'unknown error').slice(0, 120);
}

/** Every migration, by name (Kysely applies them in name order). */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '2026-11-26-0001-initial': m0001,
  '2026-11-29-0002-signin': m0002signin,
  '2026-11-29-0003-release-rights': m0003,
  '2026-11-29-0004-trust-policies': m0004,
  '2026-11-29-0005-newuser': m0005newuser,
  '2026-11-29-0007-pending-imports': m0007,
  '2026-11-29-0008-people': m0008,
  '2026-11-29-0009-data-keys': m0009,
  '2026-11-29-0010-pin-references': m0010,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/**
 * The names of the applied migrations, in one query; undefined when the table is not there yet
 * (a new database). Kysely's migrator keeps them in `kysely_migration`.
 */
async function appliedMigrations(db: Kysely<DB>): Promise<Set<string> | undefined> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    return new Set(rows.map((r) => r.name));
  } catch {
    return undefined;
  }
}

/**
 * Applies every pending migration (Kysely takes a lock, so several instances may start at once).
 * A restart with nothing pending is one query: when exactly the known migrations are applied, the
 * migrator (which creates its tables, takes its lock and reads them again) is not run at all; any
 * other case (new database, pending or unknown migrations) goes through it as before.
 */
export async function migrateToLatest(db: Kysely<DB>): Promise<void> {
  const applied = await appliedMigrations(db);
  if (applied && applied.size === Object.keys(MIGRATIONS).length && Object.keys(MIGRATIONS).every((name) => applied.has(name))) return;
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
