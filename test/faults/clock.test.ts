import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { masterKeyFromPrivate } from '../../src/crypto/keyring.js';
import { verifyMasterKeys } from '../../src/services/bootstrap.js';
import { CLOCK_SKEW_MS, nonDecreasingClock } from '../../src/services/clock.js';
import { createServices, type Services } from '../../src/services/container.js';
import { type Database, migrateToLatest, openDatabase } from '../../src/store/db.js';
import { writeFigures } from '../security/support.js';

/**
 * Clock jumps, in the service tier with a fake clock: a deploy token or a session must not live
 * longer (in real time) than its lifetime when the clock moves back, by any amount.
 */
const MIN = 60_000;
const TTL_MIN = 30;
const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);

describe('clock jumps (service tier, fake clock)', () => {
  let database: Database;
  let services: Services;
  /** The wall clock (it jumps) and real elapsed time (it does not). */
  let now = T0;
  let real = 0;
  let keyToken: string;

  before(async () => {
    database = openDatabase(':memory:');
    await migrateToLatest(database.db);
    await verifyMasterKeys(database.db, [masterKeyFromPrivate(new Uint8Array(randomBytes(32)))], now);
    const config = loadConfig({ KEYLOFT_DEPLOY_TOKEN_TTL_MINUTES: String(TTL_MIN), KEYLOFT_SESSION_TTL_HOURS: '1', KEYLOFT_SESSION_MAX_HOURS: '3' });
    services = createServices({
      db: database.db,
      config,
      keyring: undefined,
      clock: nonDecreasingClock(
        () => now,
        () => real,
      ),
    });
    const setupToken = (await services.users.issueSetupToken())!;
    const s = await services.users.setup({ setupToken, email: 'admin@example.com', password: 'correct horse battery staple' }, null);
    const admin = (await services.auth.session(s.token, null))!.actor;
    await services.projects.create(admin, { slug: 'clock', name: 'clock', secrets: [{ name: 'A', scope: 'production', value: 'a' }] });
    // Creating a deploy key hands out the power to release: the admin needs the grant first.
    await services.projects.updateMember(admin, 'clock', 'admin@example.com', { release: true });
    keyToken = (await services.deployKeys.create(admin, 'clock', 'ci')).token;
  });
  after(async () => {
    await database?.close();
  });

  async function startDeployment(): Promise<string> {
    const key = (await services.deployKeys.keyActor(keyToken, null))!;
    return (await services.deployments.start(key, 'clock', { environment: 'production' })).token;
  }

  /**
   * Real time runs minute by minute from the issue; at `jumpAfterMin` the clock is set back by
   * `backMin`. Returns the real minutes during which `valid()` held.
   */
  async function realLifetime(valid: () => Promise<boolean>, backMin: number, jumpAfterMin = 1): Promise<number> {
    const issued = now;
    const realAtIssue = real;
    let accepted = 0;
    for (let m = 0; m <= 4 * 60; m++) {
      real = realAtIssue + m * MIN;
      now = issued + m * MIN - (m >= jumpAfterMin ? backMin * MIN : 0);
      if (await valid()) accepted = m + 1;
    }
    // The wall clock set right again (NTP), five hours on.
    real = realAtIssue + 5 * 60 * MIN;
    now = issued + 5 * 60 * MIN;
    return accepted;
  }

  it(`a deploy token lives no longer than its TTL (${TTL_MIN} min) when the clock moves back, by a little or a lot`, async () => {
    const lifetimes: Record<string, number> = {};
    for (const backMin of [0, 0.5, 10, 120]) {
      const token = await startDeployment();
      const valid = async () => (await services.deployments.tokenActor(token, null)) !== undefined;
      const lived = await realLifetime(valid, backMin);
      lifetimes[`back ${backMin} min`] = lived;
      // Minute resolution: accepted during real minutes 0..TTL-1, expired at exactly TTL.
      assert.equal(lived, TTL_MIN, `back ${backMin} min: the token was accepted for ${lived} real minutes`);
    }
    writeFigures('faults-clock', { deployTokenRealMinutes: lifetimes });
  });

  it('a session lives no longer than its absolute lifetime when the clock moves back', async () => {
    const lifetimes: Record<string, number> = {};
    for (const backMin of [0, 0.5, 10, 120]) {
      const s = await services.users.login('admin@example.com', 'correct horse battery staple', '127.0.0.1');
      // Used every minute: the sliding lifetime (1 h) is what a person sees; with no clock jump it never ends while used.
      const valid = async () => (await services.auth.session(s.token, null)) !== undefined;
      const lived = await realLifetime(valid, backMin);
      lifetimes[`back ${backMin} min`] = lived;
      // Used every minute, the idle lifetime (1 h) never ends it; the absolute one (KEYLOFT_SESSION_MAX_HOURS=3)
      // does, after exactly 3 real hours, whatever the clock did.
      assert.equal(lived, 3 * 60, `back ${backMin} min: accepted ${lived} real minutes`);
    }
    writeFigures('faults-clock', { sessionRealMinutesWhileUsed: lifetimes });
  });

  it('a session left idle after a jump back is not extended by the jump', async () => {
    for (const backMin of [0.5, 10, 120]) {
      const s = await services.users.login('admin@example.com', 'correct horse battery staple', '127.0.0.1');
      const issued = now;
      const realAtIssue = real;
      assert.ok(await services.auth.session(s.token, null));
      now = issued - backMin * MIN;
      real = realAtIssue + 59 * MIN;
      now += 59 * MIN;
      assert.ok(await services.auth.session(s.token, null), `back ${backMin} min: still valid after 59 idle minutes`);
      real += 62 * MIN;
      now += 62 * MIN;
      assert.equal(await services.auth.session(s.token, null), undefined, `back ${backMin} min: ended 1 h after its last use, in real time`);
      real += MIN;
      now = issued + 3 * 60 * MIN;
    }
  });

  it('another process whose clock is behind by more than the tolerated skew refuses tokens and sessions issued "in the future"', async () => {
    const token = await startDeployment();
    const s = await services.users.login('admin@example.com', 'correct horse battery staple', '127.0.0.1');
    const config = loadConfig({ KEYLOFT_DEPLOY_TOKEN_TTL_MINUTES: String(TTL_MIN), KEYLOFT_SESSION_TTL_HOURS: '1', KEYLOFT_SESSION_MAX_HOURS: '3' });
    for (const behind of [2 * CLOCK_SKEW_MS, 60 * MIN]) {
      const other = createServices({ db: database.db, config, keyring: undefined, clock: () => now - behind });
      assert.equal(await other.deployments.tokenActor(token, null), undefined, `behind by ${behind / MIN} min: deploy token refused`);
      assert.equal(await other.auth.session(s.token, null), undefined, `behind by ${behind / MIN} min: session refused`);
    }
    const close = createServices({ db: database.db, config, keyring: undefined, clock: () => now - CLOCK_SKEW_MS / 2 });
    assert.ok(await close.deployments.tokenActor(token, null), 'within the skew: accepted');
    assert.ok(await close.auth.session(s.token, null), 'within the skew: accepted');
  });
});
