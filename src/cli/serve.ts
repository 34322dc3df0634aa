import type { FastifyInstance } from 'fastify';
import { type Config, ConfigError, loadConfig } from '../config.js';
import type { Keyring } from '../crypto/keyring.js';
import { buildApp } from '../http/app.js';
import { loadMasterKeys, requireStoredMasterKey, StartupError, verifyMasterKeys } from '../services/bootstrap.js';
import { createServices, type Services } from '../services/container.js';
import { RESERVE_BYTES } from '../store/disk-reserve.js';
import { type Database, DatabaseUnreachableError, migrateToLatest, openDatabase, waitForDatabase } from '../store/db.js';

// For scripts/bundle.mjs, which starts dist/bundle/serve.cjs once to make its code cache.
export { loadConfig };

export interface Running {
  app: FastifyInstance;
  url: string;
  services: Services;
  /** Starts a shutdown: /readyz answers 503 from now on; requests are still served. */
  drain(): void;
  close(): Promise<void>;
}

/** Opens the database, checks keys for the role, builds the app and listens. */
export async function startServer(config: Config, out: { print: (line: string) => void } = { print: (l) => process.stdout.write(`${l}\n`) }): Promise<Running> {
  const database: Database = openDatabase(config.databaseUrl, { preparedStatements: config.databasePreparedStatements });
  try {
    // A database that is still starting (or failing over) is waited for, with backoff, not given up on at once.
    await waitForDatabase(database.db, {
      timeoutMs: config.dbConnectTimeoutS * 1000,
      onRetry: ({ attempt, delayMs, reason }) =>
        out.print(
          `keyloft: the database is not reachable yet (${reason}); attempt ${attempt}, retrying in ${(delayMs / 1000).toFixed(1)} s (giving up after KEYLOFT_DB_CONNECT_TIMEOUT_S=${config.dbConnectTimeoutS} s)`,
        ),
    });
    await migrateToLatest(database.db);
    let keyring: Keyring | undefined;
    if (config.role === 'api') {
      await requireStoredMasterKey(database.db);
    } else {
      const { keys, generatedFile } = await loadMasterKeys(config, database.db);
      keyring = await verifyMasterKeys(database.db, keys, Date.now());
      if (generatedFile) out.print(`keyloft: generated a new master key at ${generatedFile} (mode 0600). Back it up: without it no secret can be released.`);
    }
    // The api role has no keyring: its services hold no private key and never read the master key file.
    const services = createServices({ db: database.db, config, keyring });
    let draining = false;
    let app: FastifyInstance;
    try {
      app = await buildApp({ config, services, draining: () => draining, ...(database.poolStats ? { poolStats: database.poolStats } : {}) });
    } catch (err) {
      services.close();
      throw err;
    }
    // One line when the storage starts failing and one when it answers again, not one per request.
    const log = app.log;
    if (database.reserveSpace && !database.reserveSpace())
      log.warn({ bytes: RESERVE_BYTES }, 'no room for the disk reserve next to the database: on a full disk releases will be refused too');
    database.naming?.listen((err) =>
      log.warn(
        { code: (err as { code?: unknown }).code },
        'the database connection lost a prepared statement (a pooler in transaction mode that does not keep them?): the hot queries now run unnamed; set KEYLOFT_DATABASE_PREPARED_STATEMENTS=false to start that way',
      ),
    );
    database.health.listen((e) => {
      if (e.kind === 'down')
        log.error(
          { fault: e.fault, code: e.code, reason: e.message, ...(e.blips ? { shortLossesSinceLastLine: e.blips } : {}) },
          e.fault === 'full'
            ? 'storage full: writes are refused (507 storage_full) until space is freed'
            : 'database unavailable: requests answer 503 storage_unavailable until it is back',
        );
      else log.warn({ downForMs: e.downForMs }, 'database available again');
    });
    try {
      await app.listen({ port: config.port, host: config.host });
    } catch (err) {
      await app.close();
      services.close();
      throw err;
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    if (config.role !== 'release') {
      const setupToken = await services.users.issueSetupToken();
      if (setupToken) {
        out.print(`keyloft: no user exists yet. Open ${url}/setup and enter this one-time setup token:`);
        out.print(`  ${setupToken}`);
      }
    }
    out.print(`keyloft ${config.role} listening on ${url}`);
    return {
      app,
      url,
      services,
      drain: () => {
        draining = true;
      },
      close: async () => {
        await app.close();
        services.close();
        await database.close();
      },
    };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

/** `keyloft serve`: start, then drain and stop on SIGTERM / SIGINT. */
export async function serveCommand(opts: { role?: string; port?: string; host?: string }): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyloft: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  let running: Running;
  try {
    running = await startServer(config);
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`keyloft: refusing to start: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof DatabaseUnreachableError) {
      process.stderr.write(
        `keyloft: could not start: ${err.message} within KEYLOFT_DB_CONNECT_TIMEOUT_S=${config.dbConnectTimeoutS} s; check KEYLOFT_DATABASE_URL and that the database is up, or raise KEYLOFT_DB_CONNECT_TIMEOUT_S\n`,
      );
      process.exit(1);
    }
    const e = err as { code?: string; message?: string };
    process.stderr.write(
      `keyloft: could not start: ${e.code === 'EADDRINUSE' ? `port ${config.port} is already in use (set KEYLOFT_PORT or --port)` : (e.message ?? String(err))}\n`,
    );
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining requests');
    running.drain();
    new Promise((r) => setTimeout(r, config.shutdownGraceMs))
      .then(() => running.close())
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
