import type { TestContext } from 'node:test';
import { type Config, loadConfig, type ServerRole } from '../../src/config.js';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { type Keyring, masterKeyFromPrivate } from '../../src/crypto/keyring.js';
import { newId } from '../../src/crypto/tokens.js';
import type { Actor } from '../../src/services/actor.js';
import { verifyMasterKeys } from '../../src/services/bootstrap.js';
import { createServices, type Services } from '../../src/services/container.js';
import { type Database, migrateToLatest, openDatabase } from '../../src/store/db.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/store/schema.js';
import { insertUser } from '../../src/store/users.repository.js';
import { createPgDatabase, type DialectName } from './server.js';

/** A clock the test moves by hand: services read it through their injected `clock`. */
export interface FakeClock {
  (): number;
  /** Moves time forward by `ms`. */
  advance(ms: number): void;
}

/**
 * A fake clock starting at `start` (default: a fixed instant, so runs are repeatable). With `tick`,
 * every reading moves it on by that many milliseconds: time-ordered ids (audit events) then keep
 * the order of the writes, as they do under a real clock.
 */
/**
 * Argon2id at 1 MiB and one pass: the in-process tiers hash hundreds of passwords, at about 50 ms
 * each at the servers' cost. Spawned servers always hash at ARGON2_OPTIONS (no setting lowers it).
 */
export const TEST_PASSWORD_HASHING = { type: 2, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

export function fakeClock(start = Date.UTC(2026, 10, 29, 10, 0, 0), opts: { tick?: number } = {}): FakeClock {
  let now = start;
  const tick = opts.tick ?? 0;
  const clock = (() => {
    const t = now;
    now += tick;
    return t;
  }) as FakeClock;
  clock.advance = (ms: number) => {
    now += ms;
  };
  return clock;
}

export interface TestServices {
  db: Kysely<DB>;
  config: Config;
  clock: FakeClock;
  /** The master keyring; the services hold it only on roles all and release (never on api). */
  keyring: Keyring;
  services: Services;
  /** PostgreSQL only: the pool's use, as `serve` hands it to `buildApp` for /metrics. */
  poolStats: Database['poolStats'];
  /** A new user (inserted directly: no password hashing) and the actor it acts as. */
  user(email: string, opts?: { admin?: boolean }): Promise<Extract<Actor, { kind: 'user' }>>;
  /** Closes the services and the database (done by `t.after` when a test context was given). */
  close(): Promise<void>;
}

export interface TestServicesOptions {
  /** Default `all`. On `api` the services get no keyring, as `keyloft serve --role api`. */
  role?: ServerRole;
  clock?: FakeClock;
  /** Extra KEYLOFT_* settings, read by the real `loadConfig`. */
  env?: Record<string, string>;
  /** Default an in-memory SQLite database; `postgres` creates (and at close drops) a database of its own. */
  dialect?: DialectName;
}

/**
 * The services of one role, from the one composition root, over a fresh in-memory SQLite database
 * (migrated, a master key stored) with a fake clock; closed when the test ends.
 */
export async function testServices(t: Pick<TestContext, 'after'> | undefined, opts: TestServicesOptions = {}): Promise<TestServices> {
  const role = opts.role ?? 'all';
  const master = generateRawKeyPair().privateKey;
  const config = loadConfig(
    { KEYLOFT_LOG_LEVEL: 'silent', ...(role === 'api' ? {} : { KEYLOFT_MASTER_KEY: Buffer.from(master).toString('base64') }), ...(opts.env ?? {}) },
    { role },
  );
  const pg = opts.dialect === 'postgres' ? await createPgDatabase() : undefined;
  const database = openDatabase(pg?.url ?? ':memory:');
  await migrateToLatest(database.db);
  const clock = opts.clock ?? fakeClock();
  const keyring = await verifyMasterKeys(database.db, [masterKeyFromPrivate(master)], clock());
  const services = createServices({ db: database.db, config, keyring: role === 'api' ? undefined : keyring, clock, passwordHashing: TEST_PASSWORD_HASHING });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    services.close();
    await database.close();
    await pg?.drop();
  };
  t?.after(close);
  return {
    close,
    db: database.db,
    config,
    clock,
    keyring,
    services,
    poolStats: database.poolStats,
    async user(email, o = {}) {
      const id = newId('usr');
      await insertUser(database.db, {
        id,
        email,
        password_hash: 'unused: this user never signs in with a password',
        is_admin: o.admin ? 1 : 0,
        created_at: clock(),
      });
      return { kind: 'user', userId: id, email, isAdmin: o.admin ?? false, via: 'session', ip: null };
    },
  };
}
