import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { loadConfig } from '../../src/config.js';
import { KeyloftError } from '../../src/domain/errors.js';
import { errorStatus } from '../../src/http/plugins/errors.js';
import { generateRawKeyPair } from '../../src/crypto/keys.js';
import { masterKeyFromPrivate } from '../../src/crypto/keyring.js';
import { verifyMasterKeys } from '../../src/services/bootstrap.js';
import type { Actor } from '../../src/services/actor.js';
import { createServices, type Services } from '../../src/services/container.js';
import { createIssuerKeys } from '../../src/services/oidc-keys.js';
import { peekToken, verifyToken } from '../../src/services/oidc-verify.js';
import { type Database, migrateToLatest, openDatabase } from '../../src/store/db.js';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';

/** The exchange in process: real SQLite (in memory), a real issuer on 127.0.0.1, a clock the test moves. */
describe('OIDC exchange (services, in-memory SQLite, test issuer on 127.0.0.1)', () => {
  let database: Database;
  let services: Services;
  let issuer: TestIssuer;
  let other: TestIssuer;
  let admin: Actor;
  let now = Date.now();
  const clock = () => now;
  const audit = async () =>
    (await database.db.selectFrom('audit_events').selectAll().orderBy('id').execute()).map((r) => ({
      ...r,
      detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    }));

  const policy = (slug: string, p: Record<string, unknown>) => services.trustPolicies.create(admin, slug, { audience: 'keyloft', issuer: issuer.url, ...p });
  /** Runs the exchange and returns the refusal (or fails when it is accepted). */
  const refused = async (input: Record<string, unknown>): Promise<KeyloftError> => {
    try {
      await services.oidc.exchange({ project: 'alpha', environment: 'production', ...input } as never, '203.0.113.9');
    } catch (err) {
      assert.ok(err instanceof KeyloftError, String(err));
      return err;
    }
    assert.fail('the exchange was accepted');
  };
  const reasonOf = (e: KeyloftError) => `${errorStatus(e)} ${e.code}${e.details?.reason ? ` ${e.details.reason}` : ''}`;

  before(async () => {
    issuer = await startTestIssuer();
    other = await startTestIssuer();
    database = openDatabase(':memory:');
    await migrateToLatest(database.db);
    const keyring = await verifyMasterKeys(database.db, [masterKeyFromPrivate(generateRawKeyPair().privateKey)], now);
    const config = loadConfig({ KEYLOFT_DATABASE_URL: 'sqlite::memory:', KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true', KEYLOFT_LOG_LEVEL: 'silent' });
    services = createServices({ db: database.db, config, keyring, clock });
    const system: Actor = { kind: 'system', name: 'test', ip: null };
    const u = await services.users.createUser(system, { email: 'admin@example.com', password: 'a long enough password', isAdmin: true });
    admin = { kind: 'user', userId: u.id, email: u.email, isAdmin: true, via: 'token', ip: null };
    for (const slug of ['alpha', 'beta']) {
      await services.projects.create(admin, {
        slug,
        name: slug,
        secrets: [
          { name: 'DB_URL', scope: 'production', value: `${slug}-prod-value` },
          { name: 'DB_URL', scope: 'preview', value: `${slug}-preview-value` },
        ],
      });
    }
    await policy('alpha', { name: 'main', subject: 'repo:acme/shop:ref:refs/heads/main', environment: 'production' });
    await policy('alpha', { name: 'pulls', subject: 'repo:acme/shop:pull_request', environment: 'preview' });
    // A policy of another project, for another repository.
    await policy('beta', { name: 'beta-main', subject: 'repo:acme/other:ref:refs/heads/main', environment: 'production' });
  });
  after(async () => {
    services?.close();
    await database?.close();
    await issuer?.close();
    await other?.close();
  });
  beforeEach(() => {
    now += 10 * 60_000; // every test starts with the last fetch of any issuer over a minute ago
    issuer.setMode('ok');
  });

  test('a GitHub push token for main starts a production deployment as the policy; the ref defaults to the sha claim', async () => {
    const started = await services.oidc.exchange({ project: 'alpha', environment: 'production', idToken: await issuer.mint({ now }) }, '203.0.113.9');
    assert.equal(started.deployment.environment, 'production');
    assert.deepEqual(started.deployment.startedBy, { kind: 'trust_policy', name: 'main' });
    assert.equal(started.deployment.ref, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    assert.match(started.token, /^kldt_/);
    assert.deepEqual(
      started.pinned.runtime.map((p) => p.name),
      ['DB_URL'],
    );
    const listed = await services.trustPolicies.list(admin, 'alpha');
    assert.ok(listed.find((p) => p.name === 'main')!.lastUsedAt, 'last use is recorded');
    const ev = (await audit()).filter((e) => e.action === 'oidc.accepted').at(-1)!;
    assert.equal(ev.detail!.subject, 'repo:acme/shop:ref:refs/heads/main');
    assert.equal(ev.detail!.deployment, started.id);
  });

  test('a pull-request token starts the preview of its own PR; asking for another PR is refused', async () => {
    const t7 = await issuer.mint({ now, ref: 'refs/pull/7/merge' });
    const own = await services.oidc.exchange({ project: 'alpha', environment: 'preview', idToken: t7 }, null);
    assert.equal(own.deployment.pr, 7);
    assert.equal(own.project.app, 'alpha-pr-7');
    const same = await services.oidc.exchange({ project: 'alpha', environment: 'preview', pr: 7, idToken: t7 }, null);
    assert.equal(same.deployment.pr, 7);
    const e = await refused({ environment: 'preview', pr: 8, idToken: t7 });
    assert.equal(reasonOf(e), '403 oidc_pr_mismatch pr_mismatch');
  });

  test('a production request with a pull-request token is refused, even by a policy whose subject would match it', async () => {
    const t = await issuer.mint({ now, ref: 'refs/pull/7/merge' });
    assert.equal(reasonOf(await refused({ idToken: t })), '403 oidc_policy_mismatch');
    const lax = await policy('alpha', { name: 'lax', subject: 'repo:acme/shop:*', environment: 'production' });
    try {
      assert.equal(reasonOf(await refused({ idToken: t })), '403 oidc_pr_mismatch pull_request_token');
    } finally {
      await services.trustPolicies.remove(admin, 'alpha', lax.id);
    }
  });

  test('bad tokens are refused with 401 and a reason', async () => {
    const hsWithPublicKey = await new SignJWT({ sub: 'repo:acme/shop:ref:refs/heads/main' })
      .setProtectedHeader({ alg: 'HS256', kid: issuer.kid() })
      .setIssuer(issuer.url)
      .setAudience('keyloft')
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + 300)
      .sign(new TextEncoder().encode(JSON.stringify(issuer.publicJwk())));
    const none = new UnsecuredJWT({ sub: 'repo:acme/shop:ref:refs/heads/main' })
      .setIssuer(issuer.url)
      .setAudience('keyloft')
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + 300)
      .encode();
    const s = Math.floor(now / 1000);
    const valid = await issuer.mint({ now });
    const [h, p, sig] = valid.split('.');
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(base64url.decode(p!))), sub: 'repo:acme/shop:ref:refs/heads/main', repository: 'evil/x' }))}.${sig}`;
    const cases: Array<[string, Promise<string> | string, string]> = [
      ['wrong signature (another key, same kid)', issuer.mint({ now, foreignKey: true }), '401 oidc_token_invalid bad_signature'],
      ['a payload changed after signing', tampered, '401 oidc_token_invalid bad_signature'],
      ['unknown kid', issuer.mint({ now, kid: 'no-such-key' }), '401 oidc_token_invalid unknown_key'],
      ['alg: none', none, '401 oidc_token_invalid unsupported_algorithm'],
      ['HS256 with the public key as the secret', hsWithPublicKey, '401 oidc_token_invalid unsupported_algorithm'],
      ['expired beyond the 60 s leeway', issuer.mint({ now, iat: s - 700, nbf: s - 700, exp: s - 61 }), '401 oidc_token_invalid expired'],
      ['not valid for another 2 minutes', issuer.mint({ now, nbf: s + 120 }), '401 oidc_token_invalid not_yet_valid'],
      ['issued 2 minutes in the future', issuer.mint({ now, iat: s + 120 }), '401 oidc_token_invalid issued_in_future'],
      ['issuer not https', issuer.mint({ now, iss: 'http://issuer.example.com' }), '401 oidc_token_invalid issuer_not_allowed'],
      ['not a JWT', 'not-a-jwt', '401 oidc_token_invalid malformed'],
      ['a huge token (refused before parsing)', `${'a'.repeat(20_000)}.b.c`, '401 oidc_token_invalid too_large'],
    ];
    for (const [what, token, want] of cases) {
      const e = await refused({ idToken: await token });
      assert.equal(reasonOf(e), want, what);
      assert.equal(e.field, 'idToken', what);
    }
  });

  test('within the 60 s leeway, a just-expired or not-quite-valid token is accepted', async () => {
    const s = Math.floor(now / 1000);
    for (const t of [await issuer.mint({ now, iat: s - 600, nbf: s - 600, exp: s - 30 }), await issuer.mint({ now, nbf: s + 30, iat: s + 30 })]) {
      const started = await services.oidc.exchange({ project: 'alpha', environment: 'production', idToken: t }, null);
      assert.deepEqual(started.deployment.startedBy, { kind: 'trust_policy', name: 'main' });
    }
  });

  test('tokens no policy accepts get one 403 answer, whatever nearly matched', async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['wrong audience', { idToken: await issuer.mint({ now, aud: 'someone-else' }) }],
      ['another repository', { idToken: await issuer.mint({ now, repo: 'acme/shop-evil' }) }],
      ['another branch', { idToken: await issuer.mint({ now, ref: 'refs/heads/feature' }) }],
      ['an issuer no policy trusts', { idToken: await other.mint({ now }) }],
      ["a token only beta's policy accepts, sent for alpha", { idToken: await issuer.mint({ now, repo: 'acme/other' }) }],
      ['a project that does not exist', { project: 'nope', idToken: await issuer.mint({ now }) }],
      ['the preview policy for a production request', { idToken: await issuer.mint({ now, ref: 'refs/pull/3/merge' }) }],
    ];
    const messages = new Set<string>();
    for (const [what, input] of cases) {
      const e = await refused(input);
      assert.equal(reasonOf(e), '403 oidc_policy_mismatch', what);
      messages.add(`${e.message}|${JSON.stringify(e.details ?? null)}|${e.field}`);
    }
    assert.equal(messages.size, 1, 'every policy mismatch reads the same');
    assert.equal(other.fetches.jwks + other.fetches.discovery, 0, 'an issuer no policy names is never fetched');
    // The other project's own token works there.
    const beta = await services.oidc.exchange({ project: 'beta', environment: 'production', idToken: await issuer.mint({ now, repo: 'acme/other' }) }, null);
    assert.equal(beta.project.slug, 'beta');
  });

  test('claim patterns must all match', async () => {
    const p = await policy('alpha', {
      name: 'tagged',
      subject: 'repo:acme/shop:ref:refs/tags/*',
      environment: 'production',
      claims: { repository_owner: 'acme', workflow: 'deploy*' },
    });
    try {
      const ok = await services.oidc.exchange(
        { project: 'alpha', environment: 'production', idToken: await issuer.mint({ now, ref: 'refs/tags/v1.2.3' }) },
        null,
      );
      assert.deepEqual(ok.deployment.startedBy, { kind: 'trust_policy', name: 'tagged' });
      const wrong = await issuer.mint({ now, ref: 'refs/tags/v1.2.3', claims: { workflow: 'other' } });
      assert.equal(reasonOf(await refused({ idToken: wrong })), '403 oidc_policy_mismatch');
      const missing = await issuer.mint({ now, ref: 'refs/tags/v1.2.3', claims: { workflow: undefined } });
      assert.equal(reasonOf(await refused({ idToken: missing })), '403 oidc_policy_mismatch');
    } finally {
      await services.trustPolicies.remove(admin, 'alpha', p.id);
    }
    // Deleted: the same token is refused.
    assert.equal(reasonOf(await refused({ idToken: await issuer.mint({ now, ref: 'refs/tags/v1.2.3' }) })), '403 oidc_policy_mismatch');
  });

  test('a token replayed after its expiry is refused', async () => {
    const t = await issuer.mint({ now });
    assert.equal((await services.oidc.exchange({ project: 'alpha', environment: 'production', idToken: t }, null)).deployment.status, 'running');
    now += 300_000 + 61_000;
    assert.equal(reasonOf(await refused({ idToken: t })), '401 oidc_token_invalid expired');
  });

  test('every refusal is audited with issuer and subject, never the token', async () => {
    const t = await issuer.mint({ now, repo: 'acme/intruder' });
    await refused({ idToken: t });
    const evs = (await audit()).filter((e) => e.action === 'oidc.refused');
    const last = evs.at(-1)!;
    assert.equal(last.detail!.issuer, issuer.url);
    assert.equal(last.detail!.subject, 'repo:acme/intruder:ref:refs/heads/main');
    assert.equal(last.detail!.code, 'oidc_policy_mismatch');
    assert.equal(last.actor_ip, '203.0.113.9');
    assert.ok(last.project_id, 'filed under the project');
    assert.ok(evs.length >= 15, `only ${evs.length} refusals audited`);
    const all = JSON.stringify(await audit());
    assert.ok(!all.includes(t.split('.')[2]!), 'a token signature is in the audit log');
  });

  test('the issuer rotates its key: a new kid is accepted after one JWKS refresh, at most one refresh a minute', async () => {
    assert.ok(await services.oidc.exchange({ project: 'alpha', environment: 'production', idToken: await issuer.mint({ now }) }, null));
    const before = issuer.fetches.jwks;
    await issuer.rotate({ dropOld: true });
    now += 10_000;
    // Within a minute of the last fetch: no refresh, the new kid is unknown.
    assert.equal(reasonOf(await refused({ idToken: await issuer.mint({ now }) })), '401 oidc_token_invalid unknown_key');
    assert.equal(issuer.fetches.jwks, before, 'refreshed within a minute');
    now += 60_000;
    const started = await services.oidc.exchange({ project: 'alpha', environment: 'production', idToken: await issuer.mint({ now }) }, null);
    assert.deepEqual(started.deployment.startedBy, { kind: 'trust_policy', name: 'main' });
    assert.equal(issuer.fetches.jwks, before + 1, 'exactly one refresh');
    // Unknown kids do not make it fetch again within the minute.
    for (let i = 0; i < 5; i++) await refused({ idToken: await issuer.mint({ now, kid: `random-${i}` }) });
    assert.equal(issuer.fetches.jwks, before + 1);
  });

  test('a JWKS endpoint that is down answers 503 with a clear message, and is not hammered', async () => {
    // A fresh issuer with no cached keys.
    const down = await startTestIssuer();
    try {
      down.setMode('down');
      const p = await policy('alpha', { name: 'down', issuer: down.url, subject: 'repo:acme/shop:ref:refs/heads/main', environment: 'production' });
      const e = await refused({ idToken: await down.mint({ now }) });
      assert.equal(reasonOf(e), '503 oidc_issuer_unavailable');
      assert.match(e.message, /could not be fetched \(HTTP 503\)/);
      const fetched = down.fetches.discovery;
      assert.equal(reasonOf(await refused({ idToken: await down.mint({ now }) })), '503 oidc_issuer_unavailable');
      assert.equal(down.fetches.discovery, fetched, 'fetched again within a minute');
      // Back up a minute later: accepted.
      down.setMode('ok');
      now += 61_000;
      const started = await services.oidc.exchange({ project: 'alpha', environment: 'production', idToken: await down.mint({ now }) }, null);
      assert.deepEqual(started.deployment.startedBy, { kind: 'trust_policy', name: 'down' });
      await services.trustPolicies.remove(admin, 'alpha', p.id);
    } finally {
      await down.close();
    }
  });

  test('a JWKS with 1,000 keys is refused (503) and nothing of it is kept', async () => {
    const big = await startTestIssuer({ alg: 'ES256' });
    try {
      big.setMode({ junkKeys: 1000 });
      const p = await policy('alpha', { name: 'big', issuer: big.url, subject: 'repo:acme/shop:ref:refs/heads/main', environment: 'production' });
      const e = await refused({ idToken: await big.mint({ now }) });
      assert.equal(reasonOf(e), '503 oidc_issuer_unavailable');
      assert.match(e.message, /larger than 65536 bytes|more than the 100/);
      await services.trustPolicies.remove(admin, 'alpha', p.id);
    } finally {
      await big.close();
    }
  });
});

describe('issuer keys cache (bounds)', () => {
  test('a key set over the key-count bound is refused even when small in bytes', async () => {
    const iss = await startTestIssuer({ alg: 'ES256' });
    try {
      iss.setMode({ junkKeys: 11 });
      const keys = createIssuerKeys({ clock: Date.now, allowHttpLoopback: true, limits: { maxKeys: 10 } });
      await assert.rejects(
        keys.keysFor(iss.url, 'x'),
        (e: KeyloftError) => e.code === 'oidc_issuer_unavailable' && /11 keys, more than the 10/.test(e.message),
      );
      iss.setMode('ok');
      const fresh = createIssuerKeys({ clock: Date.now, allowHttpLoopback: true, limits: { maxKeys: 10 } });
      await fresh.keysFor(iss.url, iss.kid());
      assert.equal(fresh.stats().issuers, 1);
    } finally {
      await iss.close();
    }
  });

  test('the cache keeps at most maxIssuers issuers and maxCacheBytes bytes', async () => {
    const issuers = await Promise.all([0, 1, 2].map(() => startTestIssuer()));
    try {
      let t = Date.now();
      const keys = createIssuerKeys({ clock: () => t, allowHttpLoopback: true, limits: { maxIssuers: 2 } });
      for (const i of issuers) {
        t += 1000;
        await keys.keysFor(i.url, i.kid());
      }
      assert.equal(keys.stats().issuers, 2);
      const small = createIssuerKeys({ clock: () => t, allowHttpLoopback: true, limits: { maxCacheBytes: 1 } });
      await small.keysFor(issuers[0]!.url, issuers[0]!.kid());
      assert.equal(small.stats().issuers, 0);
    } finally {
      await Promise.all(issuers.map((i) => i.close()));
    }
  });

  test('verification itself accepts only RS256 and ES256, behind the header check (RS384 with a key published without alg)', async () => {
    const iss = await startTestIssuer({ omitAlg: true });
    try {
      const keys = createIssuerKeys({ clock: Date.now, allowHttpLoopback: true });
      const t = await iss.mint({ alg: 'RS384' });
      assert.throws(
        () => peekToken(t, true),
        (e: KeyloftError) => e.details?.reason === 'unsupported_algorithm',
      );
      await assert.rejects(
        verifyToken({ keys, clock: Date.now }, t, iss.url, iss.kid(), ['keyloft']),
        (e: KeyloftError) => e.details?.reason === 'unsupported_algorithm',
      );
      const ok = await verifyToken({ keys, clock: Date.now }, await iss.mint(), iss.url, iss.kid(), ['keyloft']);
      assert.equal(ok.iss, iss.url);
    } finally {
      await iss.close();
    }
  });

  test('http issuers are refused unless loopback is allowed, before anything is fetched', async () => {
    const iss = await startTestIssuer();
    try {
      const t = await iss.mint();
      assert.throws(
        () => peekToken(t, false),
        (e: KeyloftError) => e.details?.reason === 'issuer_not_allowed',
      );
      const keys = createIssuerKeys({ clock: Date.now, allowHttpLoopback: true });
      const peeked = peekToken(t, true);
      const claims = await verifyToken({ keys, clock: Date.now }, t, peeked.issuer, peeked.kid, ['keyloft']);
      assert.equal(claims.sub, 'repo:acme/shop:ref:refs/heads/main');
      assert.equal(iss.fetches.jwks, 1);
    } finally {
      await iss.close();
    }
  });
});
