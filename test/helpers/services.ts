import type { TestContext } from 'node:test';
import { type Config, loadConfig, type ServerRole } from '../../src/config.js';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { type Keyring, masterKeyFromPrivate } from '../../src/crypto/keyring.js';
import { newId } from '../../src/crypto/tokens.js';
import type { Actor } from '../../src/services/actor.js';
import { verifyMasterKeys } from '../../src/services/bootstrap.js';
import { createServices, type Services } from '../../src/services/container.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/store/schema.js';
import { insertUser } from '../../src/store/users.repository.js';

/** A clock the test moves by hand: services read it through their injected `clock`. */
export interface FakeClock {
  (): number;
  /** Moves time forward by `ms`. */
  advance(ms: number): void;
}

/** A fake clock starting at `start` (default: a fixed instant, so runs are repeatable). */
export function fakeClock(start = Date.UTC(2026, 10, 29, 10, 0, 0)): FakeClock {
  let now = start;
  const clock = (() => now) as FakeClock;
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
  /** A new user (inserted directly: no password hashing) and the actor it acts as. */
  user(email: string, opts?: { admin?: boolean }): Promise<Extract<Actor, { kind: 'user' }>>;
}

export interface TestServicesOptions {
  /** Default `all`. On `api` the services get no keyring, as `keyloft serve --role api`. */
  role?: ServerRole;
  clock?: FakeClock;
  /** Extra KEYLOFT_* settings, read by the real `loadConfig`. */
  env?: Record<string, string>;
}

/**
 * The services of one role, from the one composition root, over a fresh in-memory SQLite database
 * (migrated, a master key stored) with a fake clock; closed when the test ends.
 */
export async function testServices(t: Pick<TestContext, 'after'>, opts: TestServicesOptions = {}): Promise<TestServices> {
  const role = opts.role ?? 'all';
  const master = generateRawKeyPair().privateKey;
  const config = loadConfig(
    { KEYLOFT_LOG_LEVEL: 'silent', ...(role === 'api' ? {} : { KEYLOFT_MASTER_KEY: Buffer.from(master).toString('base64') }), ...(opts.env ?? {}) },
    { role },
  );
  const database = openDatabase(':memory:');
  await migrateToLatest(database.db);
  const clock = opts.clock ?? fakeClock();
  const keyring = await verifyMasterKeys(database.db, [masterKeyFromPrivate(master)], clock());
  const services = createServices({ db: database.db, config, keyring: role === 'api' ? undefined : keyring, clock });
  t.after(async () => {
    services.close();
    await database.close();
  });
  return {
    db: database.db,
    config,
    clock,
    keyring,
    services,
    async user(email, o = {}) {
      const id = newId('usr');
      await insertUser(database.db, { id, email, password_hash: 'unused: this user never signs in with a password', is_admin: o.admin ? 1 : 0, created_at: clock() });
      return { kind: 'user', userId: id, email, isAdmin: o.admin ?? false, via: 'session', ip: null };
    },
  };
}
