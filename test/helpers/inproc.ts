import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/store/schema.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { masterKeyFromPrivate } from '../../src/crypto/keyring.js';
import { verifyMasterKeys } from '../../src/services/bootstrap.js';
import { createServices, type Services } from '../../src/services/container.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { createPgDatabase, type DialectName } from './server.js';
import { type FakeClock, fakeClock, TEST_PASSWORD_HASHING } from './services.js';

export interface InProcess {
  app: FastifyInstance;
  services: Services;
  /** The database beside the app, for what the API does not show (audit addresses, row counts). */
  db: Kysely<DB>;
  clock: FakeClock;
  /** The one-time setup token (printed at first start by `serve`). */
  setupToken: string;
  close(): Promise<void>;
}

/**
 * The whole HTTP app (role api, no keys) built in this process over a fresh database on `dialect`,
 * with an injected clock; requests go through `app.inject`. Always `close()` it.
 */
export async function inProcess(dialect: DialectName, env: Record<string, string> = {}, opts: { sweepIntervalMs?: number } = {}): Promise<InProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'keyloft-inproc-'));
  const pg = dialect === 'postgres' ? await createPgDatabase() : undefined;
  const config = loadConfig({
    KEYLOFT_DATA_DIR: dir,
    KEYLOFT_LOG_LEVEL: 'silent',
    KEYLOFT_ROLE: 'api',
    ...(pg ? { KEYLOFT_DATABASE_URL: pg.url } : {}),
    ...env,
  });
  const database = openDatabase(config.databaseUrl, { preparedStatements: config.databasePreparedStatements });
  const clock = fakeClock(Date.UTC(2026, 10, 29, 9, 0, 0));
  try {
    await migrateToLatest(database.db);
    // A stored master public key, as a first `serve` leaves it: the api role can then create projects.
    await verifyMasterKeys(database.db, [masterKeyFromPrivate(generateRawKeyPair().privateKey)], clock());
    const services = createServices({ db: database.db, config, keyring: undefined, clock, passwordHashing: TEST_PASSWORD_HASHING });
    const app = await buildApp({ config, services, clock, ...(opts.sweepIntervalMs ? { sweepIntervalMs: opts.sweepIntervalMs } : {}) });
    const setupToken = (await services.users.issueSetupToken())!;
    return {
      app,
      services,
      db: database.db,
      clock,
      setupToken,
      close: async () => {
        await app.close();
        services.close();
        await database.close();
        await pg?.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await database.close();
    await pg?.drop();
    throw err;
  }
}

/** JSON request through inject; returns status, parsed body and the session cookie set, if any. */
export async function call(app: FastifyInstance, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await app.inject({
    method: method as 'GET',
    url,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  let json: any;
  try {
    json = r.body ? JSON.parse(r.body) : undefined;
  } catch {
    json = undefined;
  }
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((c) => c.startsWith('keyloft_session=') && !c.startsWith('keyloft_session=;'));
  return { status: r.statusCode, body: json, text: r.body, cookie: setCookie?.split(';')[0], headers: r.headers };
}

export const OWNER = { email: 'owner@example.com', password: 'owner password 1234' };

/** Runs setup (the owner becomes the first instance admin) and returns a personal token header. */
export async function setupOwner(ip: InProcess): Promise<{ authorization: string }> {
  const s = await call(ip.app, 'POST', '/api/v1/setup', { setupToken: ip.setupToken, ...OWNER });
  if (s.status !== 201) throw new Error(`setup failed: ${s.text}`);
  const t = await call(ip.app, 'POST', '/api/v1/tokens', { name: 'owner' }, { cookie: s.cookie!, 'x-csrf-token': s.body.csrfToken });
  if (t.status !== 201) throw new Error(`token failed: ${t.text}`);
  return { authorization: `Bearer ${t.body.token}` };
}
