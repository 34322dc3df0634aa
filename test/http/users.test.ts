import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../helpers/server.js';
import { call, inProcess, type InProcess, OWNER, setupOwner } from '../helpers/inproc.js';

/**
 * User administration (issue 15 item 2) and self-service (item 3) over the API and the pages,
 * in process with an injected clock, on each engine: disable/enable, instance admins (never the
 * last one), one-time reset links, password change, own sessions, token expiry and read-only.
 */
for (const d of await dialects()) {
  describe(`user administration and account (${d.name})`, { skip: d.skip }, () => {
    let ip: InProcess;
    let admin: { authorization: string };
    const PW = 'bob password 12345';
    const signIn = async (email: string, password: string) => {
      const s = await call(ip.app, 'POST', '/api/v1/session', { email, password });
      return s.cookie ? { cookie: s.cookie, 'x-csrf-token': s.body.csrfToken as string } : undefined;
    };
    const tokenFor = async (h: Record<string, string>, body: Record<string, unknown> = { name: 't' }) => {
      const r = await call(ip.app, 'POST', '/api/v1/tokens', body, h);
      assert.equal(r.status, 201, r.text);
      return { authorization: `Bearer ${r.body.token}`, id: r.body.id as string, info: r.body };
    };
    const userId = async (email: string) =>
      ((await call(ip.app, 'GET', '/api/v1/users', undefined, admin)).body.users as Array<{ id: string; email: string }>).find((u) => u.email === email)!.id;
    const hashOf = async (email: string) =>
      (await ip.db.selectFrom('users').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow()).password_hash;

    before(async () => {
      ip = await inProcess(d.name);
      admin = await setupOwner(ip);
      assert.equal((await call(ip.app, 'POST', '/api/v1/users', { email: 'bob@example.com', password: PW }, admin)).status, 201);
    });
    after(async () => ip?.close());

    it('lists users with last sign-in, locked, disabled and projects; only instance admins may', async () => {
      const bob = (await signIn('bob@example.com', PW))!;
      assert.equal((await call(ip.app, 'POST', '/api/v1/projects', { slug: 'bobs', name: 'Bob' }, bob)).status, 201);
      const r = await call(ip.app, 'GET', '/api/v1/users', undefined, admin);
      assert.equal(r.status, 200);
      const row = r.body.users.find((u: { email: string }) => u.email === 'bob@example.com');
      assert.deepEqual(
        { ...row, id: undefined, createdAt: undefined },
        {
          id: undefined,
          createdAt: undefined,
          email: 'bob@example.com',
          isAdmin: false,
          lastLoginAt: new Date(ip.clock()).toISOString(),
          locked: false,
          disabled: false,
          projects: ['bobs'],
        },
      );
      assert.ok(!r.text.includes('password_hash') && !r.text.includes('$argon2'));
      assert.equal((await call(ip.app, 'GET', '/api/v1/users', undefined, bob)).status, 403);
    });

    it('disabling stops sessions and tokens at once; sign-in says disabled only to the right password; enabling lets them in again', async () => {
      const bob = (await signIn('bob@example.com', PW))!;
      const tok = await tokenFor(bob);
      const id = await userId('bob@example.com');
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, { authorization: tok.authorization })).status, 200);
      const r = await call(ip.app, 'POST', `/api/v1/users/${id}/disable`, undefined, admin);
      assert.equal(r.status, 200, r.text);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, bob)).status, 401);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, { authorization: tok.authorization })).status, 401);
      const wrong = await call(ip.app, 'POST', '/api/v1/session', { email: 'bob@example.com', password: 'not it at all' });
      assert.equal(wrong.status, 401);
      const right = await call(ip.app, 'POST', '/api/v1/session', { email: 'bob@example.com', password: PW });
      assert.equal(right.status, 403);
      assert.equal(right.body.error.code, 'account_disabled');
      assert.equal(right.cookie, undefined);
      assert.equal((await call(ip.app, 'POST', `/api/v1/users/${id}/enable`, undefined, admin)).status, 200);
      assert.ok(await signIn('bob@example.com', PW));
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, { authorization: tok.authorization })).status, 401, 'old tokens stay revoked');
    });

    it('an account marked disabled in the database (by another instance, mid-request) is refused even with a live session or token', async () => {
      const bob = (await signIn('bob@example.com', PW))!;
      const tok = await tokenFor(bob);
      await ip.db.updateTable('users').set({ disabled_at: ip.clock() }).where('email', '=', 'bob@example.com').execute();
      try {
        assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, bob)).status, 401);
        assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, { authorization: tok.authorization })).status, 401);
      } finally {
        await ip.db.updateTable('users').set({ disabled_at: null }).where('email', '=', 'bob@example.com').execute();
      }
    });

    it('refuses disabling yourself, disabling or unmaking the last instance admin; another admin can be made and unmade', async () => {
      const ownerId = await userId(OWNER.email);
      const self = await call(ip.app, 'POST', `/api/v1/users/${ownerId}/disable`, undefined, admin);
      assert.equal(self.status, 400);
      assert.equal(self.body.error.field, 'id');
      assert.match(self.body.error.message, /your own account/);
      const last = await call(ip.app, 'PUT', `/api/v1/users/${ownerId}/admin`, { isAdmin: false }, admin);
      assert.equal(last.status, 409);
      assert.equal(last.body.error.code, 'last_admin');
      const lastDisable = await ip.services.userAdmin.disable({ kind: 'system', name: 'operator', ip: null }, ownerId).catch((e: { code: string }) => e.code);
      assert.equal(lastDisable, 'last_admin');
      const bobId = await userId('bob@example.com');
      assert.equal((await call(ip.app, 'PUT', `/api/v1/users/${bobId}/admin`, { isAdmin: true }, admin)).body.isAdmin, true);
      const bob = (await signIn('bob@example.com', PW))!;
      assert.equal((await call(ip.app, 'GET', '/api/v1/users', undefined, bob)).status, 200);
      assert.equal((await call(ip.app, 'PUT', `/api/v1/users/${bobId}/admin`, { isAdmin: false }, admin)).status, 200);
      assert.equal((await call(ip.app, 'GET', '/api/v1/users', undefined, bob)).status, 403, 'unmade at once');
      const users = (await call(ip.app, 'GET', '/api/v1/users', undefined, admin)).body.users as Array<{ email: string; isAdmin: boolean; disabled: boolean }>;
      assert.deepEqual(
        users.filter((u) => u.isAdmin && !u.disabled).map((u) => u.email),
        [OWNER.email],
      );
    });

    it('a reset link works once, for an hour; a weak password names the rule; a used, expired or forged link is one clear page and changes nothing', async () => {
      const bobId = await userId('bob@example.com');
      const other = (await signIn('bob@example.com', PW))!;
      const r = await call(ip.app, 'POST', `/api/v1/users/${bobId}/password-reset`, undefined, admin);
      assert.equal(r.status, 201, r.text);
      const url = new URL(r.body.url);
      const token = url.searchParams.get('token')!;
      assert.match(token, /^klreset_[A-Za-z0-9_-]{43}$/);
      const stored = await ip.db.selectFrom('password_resets').select('token_hash').execute();
      assert.ok(
        stored.every((s) => !s.token_hash.includes(token)),
        'stored hashed',
      );
      const page = await ip.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Set a new password/);
      const pre = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
      const preCookie = ([] as string[])
        .concat(page.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('keyloft_pre='))!
        .split(';')[0]!;
      const post = (tok: string, password: string) =>
        ip.app.inject({
          method: 'POST',
          url: '/reset-password',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: preCookie },
          payload: new URLSearchParams({ _csrf: pre, token: tok, password, password2: password }).toString(),
        });
      const before = await hashOf('bob@example.com');
      const weak = await post(token, 'short');
      assert.equal(weak.statusCode, 400);
      assert.match(weak.body, /password must be at least 10 characters/);
      assert.equal(await hashOf('bob@example.com'), before);
      const forged = await post('klreset_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'a brand new password');
      assert.equal(forged.statusCode, 410);
      assert.match(forged.body, /Link not valid/);
      assert.equal(await hashOf('bob@example.com'), before);
      const ok = await post(token, 'a brand new password');
      assert.equal(ok.statusCode, 303);
      assert.equal(ok.headers.location, '/login');
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, other)).status, 401, 'every session ended');
      assert.ok(await signIn('bob@example.com', 'a brand new password'));
      const changed = await hashOf('bob@example.com');
      const used = await post(token, 'yet another password');
      assert.equal(used.statusCode, 410);
      assert.equal(await hashOf('bob@example.com'), changed);
      assert.equal((await ip.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` })).statusCode, 410);
      // expired
      const late = await call(ip.app, 'POST', `/api/v1/users/${bobId}/password-reset`, undefined, admin);
      ip.clock.advance(61 * 60_000);
      const lateToken = new URL(late.body.url).searchParams.get('token')!;
      assert.equal((await post(lateToken, 'expired link password')).statusCode, 410);
      assert.equal(await hashOf('bob@example.com'), changed);
      assert.equal((await call(ip.app, 'POST', `/api/v1/users/${bobId}/password-reset`, undefined, other)).status, 401);
    });

    it('changing your password needs the current one, keeps the rule, ends your other sessions only', async () => {
      const pw = 'a brand new password';
      const mine = (await signIn('bob@example.com', pw))!;
      const other = (await signIn('bob@example.com', pw))!;
      const tok = await tokenFor(mine);
      const wrong = await call(ip.app, 'PUT', '/api/v1/me/password', { current: 'not my password', new: 'whatever long enough' }, mine);
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error.field, 'current');
      const weak = await call(ip.app, 'PUT', '/api/v1/me/password', { current: pw, new: 'short' }, mine);
      assert.equal(weak.status, 400);
      assert.equal(weak.body.error.field, 'new');
      assert.match(weak.body.error.message, /at least 10 characters/);
      const ok = await call(ip.app, 'PUT', '/api/v1/me/password', { current: pw, new: 'the third password' }, mine);
      assert.equal(ok.status, 200, ok.text);
      assert.ok(ok.body.sessionsEnded >= 1);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, mine)).status, 200);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, other)).status, 401);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, { authorization: tok.authorization })).status, 200);
    });

    it("lists and ends your own sessions, never anyone else's", async () => {
      const a = (await signIn('bob@example.com', 'the third password'))!;
      const b = (await signIn('bob@example.com', 'the third password'))!;
      const list = (await call(ip.app, 'GET', '/api/v1/me/sessions', undefined, a)).body.sessions as Array<{ id: string; current: boolean; ip: string }>;
      assert.ok(list.length >= 2);
      assert.equal(list.filter((s) => s.current).length, 1);
      assert.equal(list[0]!.ip, '127.0.0.1');
      const ownerSessions = (await call(ip.app, 'GET', '/api/v1/me/sessions', undefined, (await signIn(OWNER.email, OWNER.password))!)).body.sessions as Array<{
        id: string;
      }>;
      assert.equal((await call(ip.app, 'DELETE', `/api/v1/me/sessions/${ownerSessions[0]!.id}`, undefined, a)).status, 404);
      const bId = list.find((s) => !s.current)!.id;
      const firstOther = list.filter((s) => !s.current);
      for (const s of firstOther) assert.equal((await call(ip.app, 'DELETE', `/api/v1/me/sessions/${s.id}`, undefined, a)).status, 204);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, b)).status, 401);
      assert.equal((await call(ip.app, 'GET', '/api/v1/me', undefined, a)).status, 200);
      assert.equal((await call(ip.app, 'DELETE', `/api/v1/me/sessions/${bId}`, undefined, a)).status, 404);
    });

    it('personal tokens: an expiry ends them; a read-only token reads but every write and start route refuses it', async () => {
      const owner = (await signIn(OWNER.email, OWNER.password))!;
      const short = await tokenFor(owner, { name: 'short', expiresInDays: 1 });
      assert.ok(short.info.expiresAt);
      assert.equal((await call(ip.app, 'GET', '/api/v1/projects', undefined, { authorization: short.authorization })).status, 200);
      const bad = await call(ip.app, 'POST', '/api/v1/tokens', { name: 'x', expiresInDays: 0 }, owner);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'expiresInDays');
      const ro = await tokenFor(owner, { name: 'ro', readOnly: true });
      assert.equal(ro.info.readOnly, true);
      const roH = { authorization: ro.authorization };
      assert.equal((await call(ip.app, 'GET', '/api/v1/projects', undefined, roH)).status, 200);
      const doc = JSON.parse((await ip.app.inject({ method: 'GET', url: '/api/openapi.json' })).body) as {
        paths: Record<string, Record<string, { security?: unknown[] }>>;
      };
      let writes = 0;
      for (const [template, methods] of Object.entries(doc.paths)) {
        for (const [m, op] of Object.entries(methods)) {
          if (m === 'get' || !op.security?.length) continue;
          const url = `/api${template.replace(/^\/api/, '').replace(/\{(\w+)\}/g, (_, p: string) => (p === 'scopeImport' ? 'production:import' : p === 'scope' ? 'production' : p === 'slug' ? 'bobs' : 'x'))}`;
          const r = await call(ip.app, m.toUpperCase(), url, m === 'delete' ? undefined : {}, roH);
          assert.equal(r.status, 403, `${m.toUpperCase()} ${template}: ${r.status} ${r.text}`);
          assert.equal(r.body.error.code, 'read_only_token');
          writes++;
        }
      }
      assert.ok(writes >= 15, `write routes: ${writes}`);
      ip.clock.advance(25 * 3_600_000);
      assert.equal((await call(ip.app, 'GET', '/api/v1/projects', undefined, { authorization: short.authorization })).status, 401);
      assert.equal((await call(ip.app, 'GET', '/api/v1/projects', undefined, roH)).status, 200);
    });
  });
}
