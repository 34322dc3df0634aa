import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';
import { dialects } from '../helpers/server.js';
import { call, inProcess, type InProcess, OWNER, setupOwner } from '../helpers/inproc.js';

/**
 * Sign-in protections (issue 12 §2, SPEC "Sign-in protections"), in process over each engine
 * with an injected clock: login CSRF, lockout per (account, address), trusted proxies, the
 * setup token race, the absolute session lifetime and the sweep, authentication before validation.
 */
const XFF = (ip: string) => ({ 'x-forwarded-for': ip });
const OWNER_HOME = '198.51.100.7';
const ATTACKER = '203.0.113.5';

for (const d of await dialects()) {
  describe(`sign-in protections (${d.name})`, { skip: d.skip }, () => {
    it('login CSRF: a form-encoded sign-in or setup, from a foreign or opaque Origin, sets no cookie', async () => {
      const ip = await inProcess(d.name);
      try {
        const form = `email=${encodeURIComponent(OWNER.email)}&password=${encodeURIComponent(OWNER.password)}`;
        const setupForm = `setupToken=${encodeURIComponent(ip.setupToken)}&${form}`;
        for (const origin of ['https://evil.example', 'null']) {
          const r = await ip.app.inject({
            method: 'POST',
            url: '/api/v1/setup',
            headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
            payload: setupForm,
          });
          assert.ok(r.statusCode === 403 || r.statusCode === 415, `setup form from ${origin}: ${r.statusCode}`);
          assert.equal(r.headers['set-cookie'], undefined);
        }
        // Form-encoded without an Origin (an old browser): still refused, JSON only.
        const noOrigin = await ip.app.inject({
          method: 'POST',
          url: '/api/v1/setup',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: setupForm,
        });
        assert.equal(noOrigin.statusCode, 415);
        assert.equal(JSON.parse(noOrigin.body).error.code, 'unsupported_media_type');
        // JSON from an opaque origin is refused too.
        const opaqueJson = await call(ip.app, 'POST', '/api/v1/setup', { setupToken: ip.setupToken, ...OWNER }, { origin: 'null' });
        assert.equal(opaqueJson.status, 403);
        assert.equal(opaqueJson.cookie, undefined);
        assert.equal(await ip.services.users.needsSetup(), true, 'a refused setup created nobody');

        await setupOwner(ip);
        for (const origin of ['https://evil.example', 'null']) {
          for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
            const payload = type.startsWith('multipart') ? `--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n${OWNER.email}\r\n--x--\r\n` : form;
            const r = await ip.app.inject({ method: 'POST', url: '/api/v1/session', headers: { 'content-type': type, origin }, payload });
            assert.ok(r.statusCode === 403 || r.statusCode === 415, `${type} from ${origin}: ${r.statusCode}`);
            assert.equal(r.headers['set-cookie'], undefined, `${type} from ${origin} set a cookie`);
          }
        }
        // The API's own clients (no Origin, JSON) and the same origin still sign in.
        assert.equal((await call(ip.app, 'POST', '/api/v1/session', OWNER)).status, 200);
        assert.equal((await call(ip.app, 'POST', '/api/v1/session', OWNER, { origin: 'http://localhost:8080', host: 'localhost:8080' })).status, 200);
      } finally {
        await ip.close();
      }
    });

    it('setup token race: 10 parallel setups with the one token make exactly one admin', async () => {
      const ip = await inProcess(d.name);
      try {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            call(ip.app, 'POST', '/api/v1/setup', { setupToken: ip.setupToken, email: `racer${i}@example.com`, password: 'a long enough password' }),
          ),
        );
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
        assert.ok(
          statuses.every((s) => s === 201 || s === 409),
          `statuses: ${statuses.join(',')}`,
        );
        assert.equal(results.filter((r) => r.cookie).length, 1);
        const admin = await setupLogin(ip, results.find((r) => r.status === 201)!.body.user.email);
        assert.equal((await call(ip.app, 'GET', '/api/v1/users', undefined, admin)).body.users.length, 1);
      } finally {
        await ip.close();
      }
    });

    describe('lockout per (account, address) behind a trusted proxy', () => {
      let ip: InProcess;
      let admin: { authorization: string };
      const attempt = (email: string, password: string, from: string) => call(ip.app, 'POST', '/api/v1/session', { email, password }, XFF(from));
      before(async () => {
        ip = await inProcess(d.name, { KEYLOFT_TRUST_PROXY: '127.0.0.1' });
        admin = await setupOwner(ip);
      });
      after(async () => ip?.close());

      it("an attacker's failures from one address do not stop the owner from an address they signed in from before", async () => {
        assert.equal((await attempt(OWNER.email, OWNER.password, OWNER_HOME)).status, 200);
        const answers: string[] = [];
        for (let i = 0; i < 12; i++) answers.push(String((await attempt(OWNER.email, `guess ${i}`, ATTACKER)).status));
        assert.deepEqual(answers.slice(0, 5), ['401', '401', '401', '401', '401']);
        assert.ok(
          answers.slice(5).every((s) => s === '429'),
          answers.join(','),
        );
        // Even the right password is refused from the attacker's address...
        const locked = await attempt(OWNER.email, OWNER.password, ATTACKER);
        assert.equal(locked.status, 429);
        assert.equal(locked.body.error.code, 'locked_out');
        assert.equal(locked.cookie, undefined);
        // ...but the owner signs in from home.
        const home = await attempt(OWNER.email, OWNER.password, OWNER_HOME);
        assert.equal(home.status, 200, home.text);
        assert.ok(home.cookie);
      });

      it('a spread-out attack holds back new addresses but never a known-good one; an unknown account answers the same', async () => {
        const victim = 'victim@example.com';
        assert.equal((await call(ip.app, 'POST', '/api/v1/users', { email: victim, password: 'victim password 123' }, admin)).status, 201);
        assert.equal((await attempt(victim, 'victim password 123', OWNER_HOME)).status, 200);
        const run = async (email: string) => {
          const seen: string[] = [];
          for (let a = 0; a < 5; a++)
            for (let i = 0; i < 4; i++) {
              const r = await attempt(email, `spread ${a}-${i}`, `192.0.2.${10 + a}`);
              seen.push(`${r.status} ${r.body.error.code} ${r.body.error.message}`);
            }
          const fresh = await attempt(email, 'victim password 123', '192.0.2.200');
          seen.push(`${fresh.status} ${fresh.body.error?.code} ${fresh.body.error?.message}`);
          return seen;
        };
        const known = await run(victim);
        const unknown = await run('nobody-at-all@example.com');
        assert.deepEqual(unknown, known, 'an unknown account must answer exactly as a real one');
        assert.match(known.at(-1)!, /^429 locked_out/);
        assert.equal((await attempt(victim, 'victim password 123', OWNER_HOME)).status, 200, 'the known-good address still signs in');
      });

      it('delays grow with each further failure of the pair', async () => {
        const from = '192.0.2.99';
        const email = 'grow@example.com';
        assert.equal((await call(ip.app, 'POST', '/api/v1/users', { email, password: 'grow password 123' }, admin)).status, 201);
        for (let i = 0; i < 5; i++) assert.equal((await attempt(email, 'x', from)).status, 401);
        assert.match((await attempt(email, 'x', from)).body.error.message, /in 1 minute\b/);
        ip.clock.advance(61_000);
        assert.equal((await attempt(email, 'x', from)).status, 401);
        assert.match((await attempt(email, 'x', from)).body.error.message, /in 2 minutes/);
        ip.clock.advance(121_000);
        assert.equal((await attempt(email, 'x', from)).status, 401);
        assert.match((await attempt(email, 'x', from)).body.error.message, /in 4 minutes/);
      });

      it('an instance admin unlocks an account (API); others may not; the users list shows the lock', async () => {
        const list = async () =>
          (await call(ip.app, 'GET', '/api/v1/users', undefined, admin)).body.users as Array<{ id: string; email: string; locked: boolean }>;
        for (let i = 0; i < 6; i++) await attempt(OWNER.email, 'again', ATTACKER);
        const owner = (await list()).find((u) => u.email === OWNER.email)!;
        assert.equal(owner.locked, true);
        const victimSession = await attempt('victim@example.com', 'victim password 123', OWNER_HOME);
        const victimHeaders = { cookie: victimSession.cookie!, 'x-csrf-token': victimSession.body.csrfToken };
        assert.equal((await call(ip.app, 'POST', `/api/v1/users/${owner.id}/unlock`, undefined, victimHeaders)).status, 403);
        assert.equal((await attempt(OWNER.email, OWNER.password, ATTACKER)).status, 429);
        const r = await call(ip.app, 'POST', `/api/v1/users/${owner.id}/unlock`, undefined, admin);
        assert.equal(r.status, 200, r.text);
        assert.equal((await list()).find((u) => u.email === OWNER.email)!.locked, false);
        assert.equal((await attempt(OWNER.email, OWNER.password, ATTACKER)).status, 200);
        assert.equal((await call(ip.app, 'POST', '/api/v1/users/usr_nope/unlock', undefined, admin)).status, 404);
      });
    });

    it('KEYLOFT_TRUST_PROXY: a direct client cannot forge its address (lockout and audit), a hop count takes the proxy-appended one', async () => {
      for (const env of [{}, { KEYLOFT_TRUST_PROXY: '10.0.0.1' }] as Array<Record<string, string>>) {
        const ip = await inProcess(d.name, env);
        try {
          await setupOwner(ip);
          for (let i = 0; i < 5; i++) await call(ip.app, 'POST', '/api/v1/session', { email: OWNER.email, password: 'x' }, XFF(`192.0.2.${i}`));
          const r = await call(ip.app, 'POST', '/api/v1/session', { email: OWNER.email, password: 'x' }, XFF('192.0.2.250'));
          assert.equal(r.status, 429, `a forged X-Forwarded-For escaped the lockout (${JSON.stringify(env)})`);
          const ips = await ip.db.selectFrom('audit_events').select('actor_ip').where('action', '=', 'session.login_failed').execute();
          assert.ok(ips.length > 0 && ips.every((e) => e.actor_ip === '127.0.0.1'), JSON.stringify(ips));
        } finally {
          await ip.close();
        }
      }
      const hop = await inProcess(d.name, { KEYLOFT_TRUST_PROXY: '1' });
      try {
        await setupOwner(hop);
        await call(hop.app, 'POST', '/api/v1/session', { email: OWNER.email, password: 'x' }, XFF('192.0.2.66, 203.0.113.9'));
        const ips = await hop.db.selectFrom('audit_events').select('actor_ip').where('action', '=', 'session.login_failed').execute();
        assert.deepEqual(
          ips.map((e) => e.actor_ip),
          ['203.0.113.9'],
          'the client-written left entry must be ignored',
        );
      } finally {
        await hop.close();
      }
    });

    it('sessions end after KEYLOFT_SESSION_MAX_HOURS however active they are; the sweep prunes expired ones', async () => {
      const ip = await inProcess(d.name, { KEYLOFT_SESSION_MAX_HOURS: '168' }, { sweepIntervalMs: 20 });
      try {
        await setupOwner(ip);
        const s = await call(ip.app, 'POST', '/api/v1/session', OWNER);
        const me = () => call(ip.app, 'GET', '/api/v1/me', undefined, { cookie: s.cookie! });
        for (let h = 0; h < 167; h += 6) {
          assert.equal((await me()).status, 200, `hour ${h}`);
          ip.clock.advance(6 * 3_600_000);
        }
        ip.clock.advance(3_600_000); // 169 h after sign-in, last seen 1 h ago: idle-valid, past the absolute limit
        assert.equal((await me()).status, 401);
        // An idle session past its expiry is pruned by the background sweep, without any request.
        const idle = await call(ip.app, 'POST', '/api/v1/session', OWNER);
        assert.ok(idle.cookie);
        ip.clock.advance(13 * 3_600_000);
        const count = async () =>
          Number(
            (
              await ip.db
                .selectFrom('sessions')
                .select((eb) => eb.fn.countAll().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          );
        for (let i = 0; i < 200 && (await count()) > 0; i++) await new Promise((r) => setTimeout(r, 25));
        assert.equal(await count(), 0);
      } finally {
        await ip.close();
      }
    });

    it('authenticates before validating: every route that needs a caller answers an anonymous one 401, never field details', async () => {
      const ip = await inProcess(d.name);
      try {
        const doc = JSON.parse((await ip.app.inject({ method: 'GET', url: '/api/openapi.json' })).body) as {
          paths: Record<string, Record<string, { security?: unknown[] }>>;
        };
        let checked = 0;
        for (const [template, methods] of Object.entries(doc.paths)) {
          for (const [m, op] of Object.entries(methods)) {
            if (!op.security?.length) continue;
            const url = `/api${template.replace(/^\/api/, '').replace(/\{(\w+)\}/g, (_, p: string) => (p === 'scopeImport' ? 'bogus:import' : `%00${p}`))}`;
            for (const payload of ['{"bogus": 1, "name": 7, "email": []}', 'not json']) {
              const r = await ip.app.inject({
                method: m.toUpperCase() as 'POST',
                url,
                headers: { 'content-type': 'application/json' },
                payload: m === 'get' || m === 'delete' ? undefined : payload,
              });
              const body = JSON.parse(r.body) as { error: { code: string; field: string | null } };
              assert.equal(r.statusCode, 401, `${m.toUpperCase()} ${template}: ${r.statusCode} ${r.body}`);
              assert.equal(body.error.code, 'unauthenticated');
              assert.equal(body.error.field, null, `${m.toUpperCase()} ${template} named a field`);
            }
            checked++;
          }
        }
        assert.ok(checked >= 25, `only ${checked} authenticated routes in the OpenAPI document`);
      } finally {
        await ip.close();
      }
    });
  });
}

describe('KEYLOFT_TRUST_PROXY configuration', () => {
  it('refuses "true" with a message naming the setting; takes a hop count or proxy addresses/CIDRs', () => {
    assert.throws(
      () => loadConfig({ KEYLOFT_TRUST_PROXY: 'true' }),
      (e: unknown) => e instanceof ConfigError && /KEYLOFT_TRUST_PROXY/.test(e.message),
    );
    for (const bad of ['yes', '0', '300.1.1.1', '10.0.0.0/33', 'example.com']) {
      assert.throws(
        () => loadConfig({ KEYLOFT_TRUST_PROXY: bad }),
        (e: unknown) => e instanceof ConfigError && /KEYLOFT_TRUST_PROXY/.test(e.message),
        bad,
      );
    }
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ KEYLOFT_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ KEYLOFT_TRUST_PROXY: '10.0.0.0/8, fd00::/8,loopback' }).trustProxy, ['10.0.0.0/8', 'fd00::/8', 'loopback']);
    assert.equal(loadConfig({}).sessionMaxHours, 168);
    assert.throws(() => loadConfig({ KEYLOFT_SESSION_MAX_HOURS: '0' }), /KEYLOFT_SESSION_MAX_HOURS/);
  });
});

async function setupLogin(ip: InProcess, email: string): Promise<{ authorization: string }> {
  const s = await call(ip.app, 'POST', '/api/v1/session', { email, password: 'a long enough password' });
  const t = await call(ip.app, 'POST', '/api/v1/tokens', { name: 't' }, { cookie: s.cookie!, 'x-csrf-token': s.body.csrfToken });
  return { authorization: `Bearer ${t.body.token}` };
}
