// Invitations over the API on both engines: created by an admin (the same answer whether or not the
// email has an account), accepted once with a password that follows the setup rule, and refused
// with one clear 410 when used, revoked, expired or forged — nothing created then.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Running } from '../../src/cli/serve.js';
import type { DB } from '../../src/store/schema.js';
import { Api, createUser, loginToken } from '../helpers/client.js';
import { createStore, dialects, type TestServer, type TestStore } from '../helpers/server.js';
import { acceptAnon, startPeopleServer, tokenOf } from './support.js';

const PW = 'a long new password';

for (const d of await dialects()) {
  describe(`${d.name}: invitations`, { skip: d.skip }, () => {
    let store: TestStore;
    let running: Running;
    let url: string;
    let admin: Api;
    let server: TestServer;
    let db: Kysely<DB>;
    const slug = `inv-${randomBytes(3).toString('hex')}`;
    const P = `/api/v1/projects/${slug}`;

    before(async () => {
      store = await createStore(d.name);
      ({ running, url, admin, server, db } = await startPeopleServer(store));
      assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Invite Me' })).status, 201);
    });
    after(async () => {
      await running?.close();
      await store?.cleanup();
    });

    it('an admin invites; the link is listed as pending without its token; a new person sets a password and lands in the project with the role', async () => {
      const r = await admin.post(`${P}/invitations`, { email: 'New.Person@Example.com', role: 'member' });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(Object.keys(r.body).sort(), ['emailed', 'expiresAt', 'id', 'url']);
      assert.equal(r.body.emailed, false);
      const token = tokenOf(r.body.url);
      assert.ok(r.body.url.startsWith(`${url}/invitations/`), r.body.url);
      const days = (Date.parse(r.body.expiresAt) - Date.now()) / 86_400_000;
      assert.ok(days > 6.9 && days <= 7, `expires in ${days} days`);

      const list = await admin.get(`${P}/invitations`);
      assert.equal(list.status, 200);
      assert.equal(list.body.invitations.length, 1);
      assert.equal(list.body.invitations[0].email, 'new.person@example.com');
      assert.ok(!list.text.includes(token), 'the list never holds the token');
      const row = await db.selectFrom('invitations').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
      assert.notEqual(row.token_hash, token, 'stored hashed');
      assert.ok(!JSON.stringify(row).includes(token.slice(6)), 'no part of the token in the row');

      const ok = await acceptAnon(url, token, { password: PW });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body.project, { slug });
      assert.equal(ok.body.role, 'member');
      assert.equal(ok.body.accountCreated, true);
      assert.match(ok.headers.get('set-cookie') ?? '', /keyloft_session=/);
      const person = await loginToken(server, 'new.person@example.com', PW);
      assert.equal((await person.get(P)).body.project.role, 'member');
      assert.equal((await admin.get(`${P}/invitations`)).body.invitations.length, 0, 'no longer pending');

      const again = await acceptAnon(url, token, { password: PW });
      assert.equal(again.status, 410, again.text);
      assert.equal(again.body.error.code, 'invitation_invalid');
      assert.match(again.body.error.message, /already been used/);
    });

    it('a weak password is refused naming the rule, and nothing is created', async () => {
      const token = tokenOf((await admin.post(`${P}/invitations`, { email: 'weak@example.com', role: 'viewer' })).body.url);
      const weak = await acceptAnon(url, token, { password: 'short' });
      assert.equal(weak.status, 400, weak.text);
      assert.equal(weak.body.error.code, 'validation_failed');
      assert.equal(weak.body.error.field, 'password');
      assert.match(weak.body.error.message, /at least 10 characters/);
      const missing = await acceptAnon(url, token, {});
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error.field, 'password');
      assert.equal(await db.selectFrom('users').select('id').where('email', '=', 'weak@example.com').executeTakeFirst(), undefined);
      assert.equal(
        (await admin.get(`${P}/invitations`)).body.invitations.filter((i: { email: string }) => i.email === 'weak@example.com').length,
        1,
        'still pending',
      );
    });

    it('a revoked, expired or forged link gets one clear 410 and creates nothing', async () => {
      const revoked = await admin.post(`${P}/invitations`, { email: 'revoked@example.com', role: 'viewer' });
      assert.equal((await admin.delete(`${P}/invitations/${revoked.body.id}`)).status, 204);
      assert.equal((await admin.delete(`${P}/invitations/${revoked.body.id}`)).status, 404, 'revoking twice: not pending');
      const r1 = await acceptAnon(url, tokenOf(revoked.body.url), { password: PW });
      assert.equal(r1.status, 410);
      assert.match(r1.body.error.message, /revoked/);

      const expired = await admin.post(`${P}/invitations`, { email: 'expired@example.com', role: 'viewer' });
      await db
        .updateTable('invitations')
        .set({ expires_at: Date.now() - 1 })
        .where('id', '=', expired.body.id)
        .execute();
      const r2 = await acceptAnon(url, tokenOf(expired.body.url), { password: PW });
      assert.equal(r2.status, 410);
      assert.match(r2.body.error.message, /expired/);

      for (const forged of [`klinv_${randomBytes(32).toString('base64url')}`, 'klinv_short', 'klt_notaninvite']) {
        const r3 = await acceptAnon(url, forged, { password: PW });
        assert.equal(r3.status, 410, `${forged}: ${r3.text}`);
        assert.equal(r3.body.error.code, 'invitation_invalid');
      }
      for (const email of ['revoked@example.com', 'expired@example.com']) {
        assert.equal(await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst(), undefined, email);
      }
    });

    it('a signed-in person with the invited email accepts; someone signed in with another email is refused', async () => {
      const alice = await createUser(server, admin, 'alice@example.com');
      const bob = await createUser(server, admin, 'bob@example.com');
      const inv = await admin.post(`${P}/invitations`, { email: 'alice@example.com', role: 'viewer' });
      const token = tokenOf(inv.body.url);
      const asBob = await bob.post(`/api/v1/invitations/${token}/accept`, {});
      assert.equal(asBob.status, 403, asBob.text);
      assert.equal(asBob.body.error.code, 'invitation_other_email');
      assert.equal((await bob.get(P)).status, 404, 'bob got nothing');
      const anonExisting = await acceptAnon(url, token, { password: PW });
      assert.equal(anonExisting.status, 409, 'an account exists: sign in first');
      const asAlice = await alice.post(`/api/v1/invitations/${token}/accept`, {});
      assert.equal(asAlice.status, 200, asAlice.text);
      assert.equal(asAlice.body.accountCreated, false);
      assert.equal((await alice.get(P)).body.project.role, 'viewer');
    });

    it('only an admin of the project invites, lists or revokes; others get 403, outsiders 404', async () => {
      const viewer = await loginToken(server, 'alice@example.com', 'another long password');
      assert.equal((await viewer.post(`${P}/invitations`, { email: 'x@example.com', role: 'admin' })).status, 403);
      assert.equal((await viewer.get(`${P}/invitations`)).status, 403);
      const outsider = await createUser(server, admin, 'outsider@example.com');
      assert.equal((await outsider.post(`${P}/invitations`, { email: 'x@example.com', role: 'admin' })).status, 404);
      const bad = await admin.post(`${P}/invitations`, { email: 'not-an-email', role: 'member' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'email');
      assert.equal((await new Api(url).post(`${P}/invitations`, { email: 'x@example.com', role: 'member' })).status, 401);
    });

    it('inviting an email with an account and one without gives indistinguishable answers', async () => {
      await createUser(server, admin, 'has-account@example.com');
      const a = await admin.post(`${P}/invitations`, { email: 'has-account@example.com', role: 'member' });
      const b = await admin.post(`${P}/invitations`, { email: 'no-account@example.com', role: 'member' });
      assert.equal(a.status, b.status);
      assert.deepEqual(Object.keys(a.body).sort(), Object.keys(b.body).sort());
      assert.equal(a.body.emailed, b.body.emailed);
    });

    it('adding a non-member by email answers the same whether or not an account exists (an unknown email is invited)', async () => {
      await createUser(server, admin, 'known@example.com');
      const known = await admin.post(`${P}/members`, { email: 'known@example.com', role: 'viewer' });
      const unknown = await admin.post(`${P}/members`, { email: 'unknown@example.com', role: 'viewer' });
      assert.equal(known.status, 201, known.text);
      assert.equal(unknown.status, known.status, unknown.text);
      const shape = (b: any) => ({ ...b, member: { ...b.member, email: '<email>', addedAt: '<time>' } });
      assert.deepEqual(shape(unknown.body), shape(known.body));
      assert.deepEqual(Object.keys(unknown.body.member).sort(), Object.keys(known.body.member).sort());
      // Asked again: both "updated" (the invitation's role changes like a membership's).
      const known2 = await admin.post(`${P}/members`, { email: 'known@example.com', role: 'member' });
      const unknown2 = await admin.post(`${P}/members`, { email: 'unknown@example.com', role: 'member' });
      assert.equal(known2.status, 200);
      assert.deepEqual(shape(unknown2.body), shape(known2.body));
      assert.equal(unknown2.status, known2.status);
      const pending = (await admin.get(`${P}/invitations`)).body.invitations.find((i: { email: string }) => i.email === 'unknown@example.com');
      assert.equal(pending?.role, 'member', 'the unknown email is a pending invitation');
      assert.equal(await db.selectFrom('users').select('id').where('email', '=', 'unknown@example.com').executeTakeFirst(), undefined);
    });

    it('an invitation with release: true yields a membership with the release grant (and one without, none)', async () => {
      const withGrant = await admin.post(`${P}/invitations`, { email: 'releaser@example.com', role: 'member', release: true });
      assert.equal(withGrant.status, 201, withGrant.text);
      assert.equal((await admin.get(`${P}/invitations`)).body.invitations.find((i: { email: string }) => i.email === 'releaser@example.com').release, true);
      assert.equal((await acceptAnon(url, tokenOf(withGrant.body.url), { password: PW })).status, 200);
      const plain = await admin.post(`${P}/invitations`, { email: 'plain@example.com', role: 'member' });
      assert.equal((await acceptAnon(url, tokenOf(plain.body.url), { password: PW })).status, 200);
      const members = (await admin.get(`${P}/members`)).body.members as Array<{ email: string; release: boolean }>;
      assert.equal(members.find((m) => m.email === 'releaser@example.com')?.release, true);
      assert.equal(members.find((m) => m.email === 'plain@example.com')?.release, false);
    });

    it('the Members form answers the same for an email with an account and one without', async () => {
      await createUser(server, admin, 'form-known@example.com');
      const login = await fetch(`${url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'admin@example.com', password: 'correct horse battery staple' }),
      });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const { csrfToken } = (await login.json()) as { csrfToken: string };
      const post = async (email: string) => {
        const r = await fetch(`${url}/projects/${slug}/settings/members`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrfToken, email, role: 'viewer' }).toString(),
          redirect: 'manual',
        });
        const flash = /keyloft_flash=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1] ?? '';
        const text = Buffer.from(decodeURIComponent(flash), 'base64url').toString('utf8').replace(email, '<email>');
        return { status: r.status, location: r.headers.get('location'), text };
      };
      const known = await post('form-known@example.com');
      const unknown = await post('form-unknown@example.com');
      assert.equal(known.status, 303);
      assert.deepEqual(unknown, known);
      assert.match(known.text, /member_added/);
    });

    it('the invitation routes are in the OpenAPI document, with request and response schemas', async () => {
      const doc = (await admin.get('/api/openapi.json')).body as {
        paths: Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>;
      };
      for (const [path, method, status] of [
        ['/api/v1/projects/{slug}/invitations', 'post', '201'],
        ['/api/v1/projects/{slug}/invitations', 'get', '200'],
        ['/api/v1/projects/{slug}/invitations/{id}', 'delete', '204'],
        ['/api/v1/invitations/{token}/accept', 'post', '200'],
      ] as const) {
        const op = doc.paths[path]?.[method];
        assert.ok(op, `${method} ${path}`);
        assert.ok(op.responses?.[status], `${method} ${path} ${status}`);
        if (method === 'post') assert.ok(op.requestBody, `${method} ${path} has a body schema`);
      }
      assert.ok(doc.paths['/api/v1/invitations/{token}/accept']!.post!.responses!['410'], 'the 410 is documented');
    });

    it('two parallel accepts of one link: exactly one account', async () => {
      const token = tokenOf((await admin.post(`${P}/invitations`, { email: 'race@example.com', role: 'viewer' })).body.url);
      const results = await Promise.all(Array.from({ length: 5 }, () => acceptAnon(url, token, { password: PW })));
      assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
      const n = await db.selectFrom('users').select('id').where('email', '=', 'race@example.com').execute();
      assert.equal(n.length, 1);
      // Signed in (no account to create, so only the link's one-time use stops the others).
      const racer = await createUser(server, admin, 'racer@example.com');
      const t2 = tokenOf((await admin.post(`${P}/invitations`, { email: 'racer@example.com', role: 'viewer' })).body.url);
      const signedIn = await Promise.all(Array.from({ length: 5 }, () => racer.post(`/api/v1/invitations/${t2}/accept`, {})));
      assert.equal(signedIn.filter((r) => r.status === 200).length, 1, signedIn.map((r) => r.status).join(','));
      assert.ok(signedIn.filter((r) => r.status !== 200).every((r) => r.status === 410));
    });
  });
}
