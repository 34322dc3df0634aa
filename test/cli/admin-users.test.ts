import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Api, ADMIN_EMAIL, bootstrap, createUser } from '../helpers/client.js';
import { createPgDatabase, createStore, postgresAvailable, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { runCli } from '../security/support.js';

/**
 * `keyloft admin users|unlock|disable|enable|reset-password` on the server's own database, beside
 * a running server; and no `keyloft admin` command creates a database where there is none.
 */
describe('keyloft admin: people on the server database (sqlite)', () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  const session = (email: string, password: string) =>
    fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store, { env: { KEYLOFT_PUBLIC_URL: 'http://keyloft.test:8080' } });
    admin = await bootstrap(server);
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
  });

  it('unlocks a locked-out operator and lists users with their state', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await session(ADMIN_EMAIL, `wrong ${i}`)).status, 401);
    assert.equal((await session(ADMIN_EMAIL, 'correct horse battery staple')).status, 429);
    const list = await runCli(store, ['admin', 'users', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const me = (JSON.parse(list.stdout) as { users: Array<{ email: string; locked: boolean; isAdmin: boolean }> }).users.find((u) => u.email === ADMIN_EMAIL)!;
    assert.deepEqual([me.locked, me.isAdmin], [true, true]);
    const table = await runCli(store, ['admin', 'users']);
    assert.match(table.stdout, /admin@example\.com\s+yes\s+locked/);
    const unlock = await runCli(store, ['admin', 'unlock', '--email', ADMIN_EMAIL]);
    assert.equal(unlock.code, 0, unlock.stderr);
    assert.match(unlock.stdout, /unlocked admin@example\.com/);
    assert.equal((await session(ADMIN_EMAIL, 'correct horse battery staple')).status, 200);
    const unknown = await runCli(store, ['admin', 'unlock', '--email', 'nobody@example.com']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no user has the email "nobody@example.com"/);
  });

  it('disables (sessions and tokens stop), enables, and prints a one-time reset link', async () => {
    const bob = await createUser(server, admin, 'bob@example.com');
    assert.equal((await bob.get('/api/v1/me')).status, 200);
    const dis = await runCli(store, ['admin', 'disable', '--email', 'bob@example.com']);
    assert.equal(dis.code, 0, dis.stderr);
    assert.equal((await bob.get('/api/v1/me')).status, 401);
    const last = await runCli(store, ['admin', 'disable', '--email', ADMIN_EMAIL]);
    assert.notEqual(last.code, 0);
    assert.match(last.stderr, /last instance admin/);
    assert.equal((await runCli(store, ['admin', 'enable', '--email', 'bob@example.com'])).code, 0);
    const reset = await runCli(store, ['admin', 'reset-password', '--email', 'bob@example.com'], { env: { KEYLOFT_PUBLIC_URL: 'http://keyloft.test:8080' } });
    assert.equal(reset.code, 0, reset.stderr);
    const url = /^(http:\/\/keyloft\.test:8080\/reset-password\?token=\S+)$/m.exec(reset.stdout)![1]!;
    const page = await fetch(`${server.url}${new URL(url).pathname}${new URL(url).search}`);
    assert.equal(page.status, 200);
    assert.ok(!server.output().includes(new URL(url).searchParams.get('token')!), 'the reset token reached the server log');
  });

  it('refuses to create a database where there is none, and says where it looked', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'keyloft-empty-'));
    try {
      for (const args of [
        ['admin', 'users'],
        ['admin', 'unlock', '--email', 'a@example.com'],
        ['admin', 'create-token', '--email', 'a@example.com', '--name', 'x'],
      ]) {
        const r = await runCli({ ...store, dataDir: empty, databaseUrl: undefined }, args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.ok(r.stderr.includes(empty), r.stderr);
        assert.match(r.stderr, /Nothing was created/);
      }
      assert.deepEqual(readdirSync(empty), []);
      assert.ok(!existsSync(join(empty, 'keyloft.db')));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('refuses an empty PostgreSQL database too, and creates no table in it', async (t) => {
    if (!(await postgresAvailable())) return t.skip('no PostgreSQL reachable');
    const pg = await createPgDatabase();
    try {
      const r = await runCli({ ...store, databaseUrl: pg.url }, ['admin', 'users']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /holds no keyloft schema/);
      const { default: pgm } = await import('pg');
      const c = new pgm.Client({ connectionString: pg.url });
      await c.connect();
      const tables = await c.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
      await c.end();
      assert.equal(tables.rows[0].n, 0);
    } finally {
      await pg.drop();
    }
  });
});
