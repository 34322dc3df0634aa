/**
 * The dashboard's .env review keeps the pasted text on the server (issue 12 §5): sealed in
 * `pending_imports` under a key derived from the session cookie's secret, ten minutes, bound to
 * the session, used once. The Confirm form posts only the pending id.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Api, bootstrap, createUser } from '../helpers/client.js';
import { type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';
import { valuesInTables } from '../helpers/fixtures.js';

const rnd = () => randomBytes(8).toString('hex');

interface Session {
  cookie: string;
  csrf: string;
}

for (const d of await dialects()) {
  describe(`${d.name}: pending dashboard imports`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    const slug = `pend-${rnd().slice(0, 6)}`;

    const signIn = async (email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<Session> => {
      const res = await server.fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      assert.equal(res.status, 200);
      return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
    };
    const post = async (s: Session, path: string, fields: Record<string, string>) => {
      const res = await server.fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: s.csrf, ...fields }).toString(),
        redirect: 'manual',
      });
      return { status: res.status, html: await res.text() };
    };
    const review = async (s: Session, dotenv: string, extra: Record<string, string> = {}) => {
      const r = await post(s, `/projects/${slug}/settings/secrets/import`, { scope: 'production', dotenv, ...extra });
      assert.equal(r.status, 200, r.html.slice(0, 400));
      const id = /name="pending" value="(pi_[^"]+)"/.exec(r.html)?.[1];
      assert.ok(id, 'the Confirm form carries a pending id');
      return { id: id!, html: r.html };
    };
    const confirm = (s: Session, id: string) => post(s, `/projects/${slug}/settings/secrets/import`, { scope: 'production', confirm: '1', pending: id });
    const names = async () =>
      ((await admin.get(`/api/v1/projects/${slug}/secrets?scope=production`)).body.secrets as Array<{ name: string; deleted: boolean }>)
        .filter((x) => !x.deleted)
        .map((x) => x.name)
        .sort();
    const pendingRows = () => server.db.selectFrom('pending_imports').select(['id', 'session_hash', 'expires_at', 'created_at']).execute();

    before(async () => {
      server = await testApp(undefined, { dialect: d.name });
      admin = await bootstrap(server);
      assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Pending' })).status, 201);
    });
    after(async () => {
      await server?.stop();
    });

    it('the review page holds no pasted value, only a pending id; the table holds ciphertext; Confirm writes once', async () => {
      const s = await signIn();
      const values = [`pasted_${rnd()}`, `second_${rnd()}`];
      const { id, html } = await review(s, `ONE=${values[0]}\nTWO="${values[1]}"\n`);
      for (const v of values) assert.ok(!html.includes(v), 'a pasted value is in the review page');
      assert.doesNotMatch(html, /name="dotenv"[^>]*hidden|<textarea[^>]*name="dotenv"[^>]*hidden/, 'no hidden copy of the text');
      assert.deepEqual(await valuesInTables(server.db, values), [], 'the pending text is not in the database in plaintext');
      const rows = await pendingRows();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.id, id);
      assert.ok(!s.cookie.includes(rows[0]!.session_hash), 'the row names the session by hash only');
      const ttl = Number(rows[0]!.expires_at) - Number(rows[0]!.created_at);
      assert.equal(ttl, 10 * 60_000, 'ten minutes');
      assert.deepEqual(await names(), [], 'nothing written by the review');

      const ok = await confirm(s, id);
      assert.equal(ok.status, 303, ok.html.slice(0, 300));
      assert.deepEqual(await names(), ['ONE', 'TWO']);
      assert.equal((await pendingRows()).length, 0, 'a confirmed import is deleted');
      const again = await confirm(s, id);
      assert.equal(again.status, 404, 'a second Confirm of the same id is refused');
      assert.match(again.html, /expired, was already confirmed/);
      const hist = await admin.get(`/api/v1/projects/${slug}/secrets/production/ONE/versions`);
      assert.equal(hist.body.versions.length, 1, 'written exactly once');
    });

    it('another session cannot confirm it — not another login of the same person, not another member', async () => {
      const owner = await signIn();
      const { id } = await review(owner, `THREE=three_${rnd()}\n`);
      const sameUser = await signIn();
      const r1 = await confirm(sameUser, id);
      assert.equal(r1.status, 404, r1.html.slice(0, 300));
      await createUser(server, admin, `m-${rnd().slice(0, 6)}@example.com`, 'member password long enough').then(async (member) => {
        const me = await member.get('/api/v1/me');
        assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: me.body.email, role: 'member' })).status < 300, true);
        const ms = await signIn(me.body.email, 'member password long enough');
        const r2 = await confirm(ms, id);
        assert.equal(r2.status, 404, r2.html.slice(0, 300));
      });
      assert.ok(!(await names()).includes('THREE'), 'nothing written by the other sessions');
      assert.equal((await pendingRows()).filter((r) => r.id === id).length, 1, 'their attempts did not consume it');
      assert.equal((await confirm(owner, id)).status, 303, 'the owner still can');
      assert.ok((await names()).includes('THREE'));
    });

    it('the row is useless without the session cookie: its secret is the key, changing the row breaks it', async () => {
      const s = await signIn();
      const { id } = await review(s, `FOUR=four_${rnd()}\n`);
      // the row moved to another scope (or its bytes changed) no longer opens
      await server.db.updateTable('pending_imports').set({ scope: 'preview' }).where('id', '=', id).execute();
      const r = await confirm(s, id);
      assert.equal(r.status, 404, r.html.slice(0, 300));
      assert.ok(!(await names()).includes('FOUR'));
    });

    it("an expired one is refused and swept; logout deletes the session's pending imports", async () => {
      const s = await signIn();
      const { id } = await review(s, `FIVE=five_${rnd()}\n`);
      // Ten minutes pass (the fake clock): the review expires.
      server.clock.advance(10 * 60_000 + 1);
      const r = await confirm(s, id);
      assert.equal(r.status, 404, r.html.slice(0, 300));
      await review(s, `SIX=six_${rnd()}\n`); // a new review sweeps the expired row
      const rows = await pendingRows();
      assert.ok(!rows.some((x) => x.id === id), 'the expired row was swept');
      assert.equal(rows.length, 1);
      const out = await server.fetch(`${server.url}/api/v1/session`, {
        method: 'DELETE',
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: server.url },
      });
      assert.ok(out.status < 300, `logout: ${out.status}`);
      assert.equal((await pendingRows()).length, 0, 'logout deleted the pending import');
    });

    it('a Confirm that carries text instead of an id writes nothing', async () => {
      const s = await signIn();
      const r = await post(s, `/projects/${slug}/settings/secrets/import`, { scope: 'production', confirm: '1', dotenv: `SEVEN=seven_${rnd()}\n` });
      assert.equal(r.status, 404, r.html.slice(0, 300));
      assert.ok(!(await names()).includes('SEVEN'));
    });
  });
}
