import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

export type DialectName = 'sqlite' | 'postgres';

/** Admin connection for creating per-run test databases. Override with KEYLOFT_TEST_PG_URL. */
export const PG_ADMIN_URL = process.env.KEYLOFT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let pgChecked: Promise<boolean> | undefined;
/** Whether a PostgreSQL server is reachable (checked once per process). */
export function postgresAvailable(): Promise<boolean> {
  pgChecked ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return pgChecked;
}

/** The dialects to run a suite on; postgres is skipped (with a reason) when no server answers. */
export async function dialects(): Promise<Array<{ name: DialectName; skip: false | string }>> {
  const only = process.env.KEYLOFT_TEST_DIALECTS?.split(',');
  const pgOk = await postgresAvailable();
  return (['sqlite', 'postgres'] as const)
    .filter((d) => !only || only.includes(d))
    .map((name) => ({
      name,
      skip:
        name === 'postgres' && !pgOk
          ? `SKIPPED: no PostgreSQL reachable at ${PG_ADMIN_URL.replace(/\/\/[^@]*@/, '//')} (set KEYLOFT_TEST_PG_URL)`
          : (false as const),
    }));
}

/** A fresh PostgreSQL database for one test run, dropped by `drop()`. */
export async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `keyloft_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A storage location (data dir, and a database URL for postgres) that outlives server restarts. */
export interface TestStore {
  dialect: DialectName;
  dataDir: string;
  databaseUrl: string | undefined;
  cleanup(): Promise<void>;
}

export async function createStore(dialect: DialectName): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyloft-test-'));
  if (dialect === 'sqlite') {
    return { dialect, dataDir, databaseUrl: undefined, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const db = await createPgDatabase();
  // PostgreSQL has no generated default key: keyloft refuses to start when KEYLOFT_MASTER_KEY_FILE
  // names a missing file, so write a fresh master key there (mode 0600), as an operator would.
  writeFileSync(join(dataDir, 'master.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return {
    dialect,
    dataDir,
    databaseUrl: db.url,
    cleanup: async () => {
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const KEYLOFT_BIN = join(REPO_ROOT, 'bin/keyloft.js');

export interface TestServer {
  url: string;
  store: TestStore;
  process: ChildProcess;
  /** Everything the server printed (stdout and stderr). */
  output(): string;
  setupToken: string | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  role?: 'all' | 'api' | 'release';
  env?: Record<string, string | undefined>;
  /** Fail instead of resolving when the process exits before listening (returns its output). */
  expectFailure?: boolean;
}

/** Environment for a keyloft process on `store` (no inherited KEYLOFT_* settings). */
export function storeEnv(store: TestStore, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) env[k] = v;
  env.KEYLOFT_DATA_DIR = store.dataDir;
  env.KEYLOFT_PORT = '0';
  env.KEYLOFT_HOST = '127.0.0.1';
  if (store.databaseUrl) {
    env.KEYLOFT_DATABASE_URL = store.databaseUrl;
    // PostgreSQL has no embedded key file default; keep the key in the data dir.
    env.KEYLOFT_MASTER_KEY_FILE = join(store.dataDir, 'master.key');
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Starts the real `keyloft serve` process on a free port and waits until it listens. */
export function startServer(store: TestStore, opts: StartOptions = {}): Promise<TestServer> {
  const args = [KEYLOFT_BIN, 'serve'];
  if (opts.role) args.push('--role', opts.role);
  const child = spawn(process.execPath, args, { env: storeEnv(store, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in 60 s:\n${out}`));
    }, 60_000); // generous: CI machines may run several suites at once
    const onData = () => {
      const m = /keyloft \w+ listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const setup = /\b(klsetup_[A-Za-z0-9_-]+)/.exec(out);
      resolvePromise({
        url: m[1]!,
        store,
        process: child,
        output: () => out,
        setupToken: setup?.[1],
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      if (opts.expectFailure) reject(Object.assign(new Error('exited'), { code, output: out }));
      else reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
}

/** Runs `keyloft serve` expecting it to refuse to start; resolves with its exit code and output. */
export async function expectStartFailure(store: TestStore, opts: StartOptions = {}): Promise<{ code: number | null; output: string }> {
  try {
    const s = await startServer(store, { ...opts, expectFailure: true });
    await s.stop();
    throw new Error(`server started but was expected to refuse:\n${s.output()}`);
  } catch (err) {
    const e = err as { code?: number | null; output?: string };
    if (e.output === undefined) throw err;
    return { code: e.code ?? null, output: e.output };
  }
}
