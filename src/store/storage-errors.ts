import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import { KeyloftError } from '../domain/errors.js';
import { allowedWhenFull, type DiskReserve } from './disk-reserve.js';

/** PostgreSQL SQLSTATEs (and classes) that mean the database cannot take the request right now. */
const PG_UNAVAILABLE = /^(08|57P0[1-4]|53[023]00|53000|58)/;
/** Node socket errors on the way to the database. */
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
/** Messages of `pg` errors that carry no code: the connection ended, or could not be made in time. */
const PG_MESSAGES = /connection terminated|not queryable|timeout exceeded when trying to connect|connection timeout/i;

export type StorageFault = 'full' | 'unavailable';

/**
 * Whether a driver error is the storage failing (disk full, database unreachable), not the query:
 * `full` for SQLITE_FULL and PostgreSQL class 53100 (disk_full), `unavailable` for a lost or refused
 * connection, a server shutting down, or the database file not writable. Anything else: undefined.
 */
export function storageFault(err: unknown): StorageFault | undefined {
  if (err instanceof KeyloftError) return err.code === 'storage_full' ? 'full' : err.code === 'storage_unavailable' ? 'unavailable' : undefined;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'SQLITE_FULL' || code === '53100') return 'full';
  if (/^SQLITE_(IOERR|CANTOPEN|READONLY|BUSY|PROTOCOL|NOTADB)/.test(code)) return 'unavailable';
  if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return 'unavailable';
  if (NET_CODES.has(code)) return 'unavailable';
  if (!code && typeof e?.message === 'string' && PG_MESSAGES.test(e.message)) return 'unavailable';
  return undefined;
}

/** The error a request gets when the storage fails: 507 storage_full or 503 storage_unavailable, no driver detail. */
export function storageError(fault: StorageFault, cause?: unknown): KeyloftError {
  const e =
    fault === 'full'
      ? new KeyloftError(
          'storage_full',
          "the server's storage is full, so nothing was saved; ask the operator to free disk space on the database volume, then try again",
        )
      : new KeyloftError(
          'storage_unavailable',
          'the database is unavailable at the moment; try again shortly (if this was a change, check whether it was saved before repeating it)',
        );
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause, enumerable: false });
  return e;
}

/** What the storage watcher reports: the first failure of an outage, and the recovery. */
export type StorageEvent = { kind: 'down'; fault: StorageFault; code: string; message: string; blips: number } | { kind: 'up'; downForMs: number };

/** Connection losses within this long of a logged one are counted, not logged, unless they last. */
const QUIET_MS = 10_000;
const LASTING_MS = 2_000;

/**
 * Tracks whether the storage is failing, so an outage is logged once (at its first failure) and
 * its end once (at the first success after it), not once per request. A failover ends every
 * pooled connection within moments: losses soon after a logged one are counted into the next line
 * ("blips") unless they last longer than 2 s.
 */
export class StorageHealth {
  #downSince: number | undefined;
  #current: { fault: StorageFault; code: string; message: string } | undefined;
  #logged = false;
  #lastLoggedAt = -Infinity;
  #blips = 0;
  #timer: NodeJS.Timeout | undefined;
  #listener: ((e: StorageEvent) => void) | undefined;

  /** Where events go from now on (before, at start, the caller reports failures itself). */
  listen(fn: (e: StorageEvent) => void): void {
    this.#listener = fn;
  }

  get down(): boolean {
    return this.#downSince !== undefined;
  }

  failed(fault: StorageFault, err: unknown): void {
    if (this.#downSince !== undefined) return;
    const now = Date.now();
    this.#downSince = now;
    const e = err as { code?: unknown; message?: unknown };
    // Driver messages name hosts and SQL states, never values (parameters are not part of them).
    this.#current = { fault, code: typeof e?.code === 'string' ? e.code : 'none', message: String(e?.message ?? err).slice(0, 200) };
    this.#logged = false;
    if (now - this.#lastLoggedAt >= QUIET_MS) {
      this.#logDown();
      return;
    }
    this.#blips++;
    this.#timer = setTimeout(() => this.#logDown(), LASTING_MS);
    this.#timer.unref();
  }

  ok(): void {
    if (this.#downSince === undefined) return;
    const downForMs = Date.now() - this.#downSince;
    this.#downSince = undefined;
    clearTimeout(this.#timer);
    if (this.#logged) this.#listener?.({ kind: 'up', downForMs });
  }

  #logDown(): void {
    if (this.#downSince === undefined || this.#logged || !this.#current) return;
    this.#logged = true;
    this.#lastLoggedAt = Date.now();
    const blips = this.#blips;
    this.#blips = 0;
    this.#listener?.({ kind: 'down', ...this.#current, blips });
  }
}

/** What a guarded dialect reports to: the outage watcher, and the disk reserve of the embedded database. */
interface Guard {
  health: StorageHealth;
  reserve: DiskReserve | undefined;
}

/** Runs `fn`; a storage failure becomes a storage_full / storage_unavailable KeyloftError, other errors pass unchanged. */
async function guarded<T>(g: Guard, fn: () => Promise<T>): Promise<T> {
  try {
    const r = await fn();
    // While the reserve is in use the disk is still full, however many reads succeed.
    if (!g.reserve?.full) g.health.ok();
    return r;
  } catch (err) {
    const fault = storageFault(err);
    if (!fault || err instanceof KeyloftError) throw err;
    g.health.failed(fault, err);
    if (fault === 'full') g.reserve?.exhausted();
    throw storageError(fault, err);
  }
}

class GuardedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly g: Guard,
  ) {}

  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    // On a full disk (reserve in use) people's changes are refused before they reach the disk.
    if (this.g.reserve?.full && !allowedWhenFull(q)) return Promise.reject(storageError('full'));
    return guarded(this.g, () => this.inner.executeQuery<R>(q));
  }

  async *streamQuery<R>(q: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(q, chunkSize);
    } catch (err) {
      const fault = storageFault(err);
      if (!fault || err instanceof KeyloftError) throw err;
      this.g.health.failed(fault, err);
      throw storageError(fault, err);
    }
  }
}

const inner = (c: DatabaseConnection): DatabaseConnection => (c instanceof GuardedConnection ? c.inner : c);

class GuardedDriver implements Driver {
  constructor(
    private readonly driver: Driver,
    private readonly g: Guard,
  ) {}
  init() {
    return guarded(this.g, () => this.driver.init());
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new GuardedConnection(await guarded(this.g, () => this.driver.acquireConnection()), this.g);
  }
  beginTransaction(c: DatabaseConnection, s: TransactionSettings) {
    return guarded(this.g, () => this.driver.beginTransaction(inner(c), s));
  }
  commitTransaction(c: DatabaseConnection) {
    return guarded(this.g, () => this.driver.commitTransaction(inner(c)));
  }
  /**
   * A rollback that fails because the connection is gone (PostgreSQL: the driver discards it) or
   * because SQLite already rolled back after SQLITE_FULL is not reported: the error that caused the
   * rollback is the one the caller gets.
   */
  async rollbackTransaction(c: DatabaseConnection) {
    try {
      await this.driver.rollbackTransaction(inner(c));
    } catch (err) {
      const fault = storageFault(err);
      if (fault) {
        this.g.health.failed(fault, err);
        return;
      }
      if (/no transaction is active/i.test(String((err as { message?: unknown })?.message))) return;
      throw err;
    }
  }
  releaseConnection(c: DatabaseConnection) {
    return this.driver.releaseConnection(inner(c));
  }
  destroy() {
    return this.driver.destroy();
  }
}

/**
 * A dialect whose every query reports storage failures as domain errors (507 storage_full,
 * 503 storage_unavailable) and to `health`; query errors (constraints, syntax) pass unchanged.
 */
export function guardDialect(dialect: Dialect, health: StorageHealth, reserve?: DiskReserve): Dialect {
  return {
    createDriver: () => new GuardedDriver(dialect.createDriver(), { health, reserve }),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
