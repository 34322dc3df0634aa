import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';

/**
 * Backup and restore of the embedded SQLite database. A backup holds what the database holds:
 * ciphertext, wrapped project keys and the master *public* key — never the master private key,
 * which must be backed up on its own.
 */

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Tables whose presence marks a keyloft database. */
const REQUIRED_TABLES = ['kysely_migration', 'master_keys', 'projects', 'secret_versions'];

export interface BackupInfo {
  file: string;
  bytes: number;
  /** Master key ids whose private keys open this backup's values. */
  masterKeyIds: string[];
  migrations: number;
}

function integrity(db: SQLite.Database, what: string): void {
  const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
  if (problems.length > 0) throw new BackupError(`${what} failed the integrity check: ${problems.slice(0, 5).join('; ')}`);
}

function describe(db: SQLite.Database, file: string, what: string): BackupInfo {
  const tables = new Set((db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>).map((t) => t.name));
  const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0) throw new BackupError(`${what} is not a keyloft database (missing table${missing.length > 1 ? 's' : ''} ${missing.join(', ')})`);
  const masterKeyIds = (db.prepare('select id from master_keys order by created_at').all() as Array<{ id: string }>).map((r) => r.id);
  const migrations = (db.prepare('select count(*) as n from kysely_migration').get() as { n: number }).n;
  return { file, bytes: statSync(file).size, masterKeyIds, migrations };
}

/**
 * Online, consistent copy of the live database at `dbPath` into `out` (SQLite's backup API: a
 * server may keep running and writing; the copy is of one moment). The copy is a single file
 * (rollback journal, no WAL), mode 0600, checked with `PRAGMA integrity_check`.
 */
export async function backupSqlite(dbPath: string, out: string, opts: { force?: boolean } = {}): Promise<BackupInfo> {
  if (!existsSync(dbPath)) throw new BackupError(`there is no database at ${dbPath} (check KEYLOFT_DATA_DIR / KEYLOFT_DATABASE_URL)`);
  if (existsSync(out) && !opts.force) throw new BackupError(`${out} already exists; choose another file or pass --force to overwrite it`);
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  rmSync(tmp, { force: true });
  const source = new SQLite(dbPath, { readonly: true, fileMustExist: true });
  try {
    source.pragma('busy_timeout = 5000');
    describe(source, dbPath, `the database at ${dbPath}`);
    await source.backup(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err instanceof BackupError ? err : new BackupError(`the backup failed: ${(err as Error).message}`);
  } finally {
    source.close();
  }
  chmodSync(tmp, 0o600);
  const copy = new SQLite(tmp, { fileMustExist: true });
  let info: BackupInfo;
  try {
    copy.pragma('journal_mode = DELETE');
    integrity(copy, 'the backup');
    info = describe(copy, tmp, 'the backup');
  } catch (err) {
    copy.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  copy.close();
  renameSync(tmp, out);
  return { ...info, file: out, bytes: statSync(out).size };
}

/** True when another connection (a running server) has the database open. */
function inUse(dbPath: string): boolean {
  const db = new SQLite(dbPath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    // Leaving WAL mode needs the only connection to the database: a server holding it open
    // makes this fail with SQLITE_BUSY. (The file is replaced next, so its mode does not matter.)
    db.pragma('journal_mode = DELETE');
    return false;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY' || (err as { code?: string }).code === 'SQLITE_LOCKED') return true;
    throw err;
  } finally {
    db.close();
  }
}

/**
 * Replaces the database at `dbPath` with the backup `from`. Checks the backup first (integrity
 * and keyloft tables); refuses when the target exists unless `force`, and always refuses while a
 * server has the target open. The swap is a rename, so a failure leaves the old database whole.
 */
export async function restoreSqlite(from: string, dbPath: string, opts: { force?: boolean } = {}): Promise<BackupInfo> {
  if (!existsSync(from)) throw new BackupError(`the backup ${from} does not exist`);
  const src = new SQLite(from, { readonly: true, fileMustExist: true });
  try {
    integrity(src, `the backup ${from}`);
    describe(src, from, `the backup ${from}`);
  } catch (err) {
    throw err instanceof BackupError ? err : new BackupError(`${from} cannot be read as a SQLite database: ${(err as Error).message}`);
  } finally {
    src.close();
  }
  if (existsSync(dbPath)) {
    if (!opts.force) throw new BackupError(`a database already exists at ${dbPath}; pass --force to replace it (stop every server using it first)`);
    if (inUse(dbPath)) throw new BackupError(`the database at ${dbPath} is in use (a keyloft server has it open); stop the server, then restore`);
  }
  mkdirSync(dirname(dbPath), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(dbPath), `.${basename(dbPath)}.restore-${process.pid}`);
  rmSync(tmp, { force: true });
  const source = new SQLite(from, { readonly: true, fileMustExist: true });
  try {
    await source.backup(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new BackupError(`the restore failed: ${(err as Error).message}`);
  } finally {
    source.close();
  }
  chmodSync(tmp, 0o600);
  const copy = new SQLite(tmp, { fileMustExist: true });
  let info: BackupInfo;
  try {
    integrity(copy, 'the restored copy');
    copy.pragma('journal_mode = WAL');
    info = describe(copy, tmp, 'the restored copy');
  } catch (err) {
    copy.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  copy.close();
  // The old database's WAL and shared-memory files belong to it, not to the restored copy.
  for (const suffix of ['-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  renameSync(tmp, dbPath);
  for (const suffix of ['-wal', '-shm']) if (existsSync(`${tmp}${suffix}`)) rmSync(`${tmp}${suffix}`, { force: true });
  return { ...info, file: dbPath, bytes: statSync(dbPath).size };
}
