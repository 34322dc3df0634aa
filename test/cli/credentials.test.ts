/**
 * The CLI never hands a token to a server it was not saved for (issue 12 §4): saved logins are
 * bound to their URL, a KEYLOFT_URL without a matching login sends no token, and a 421 answer
 * cannot send the deploy token on to a host that is not a configured release URL. A capture
 * server on 127.0.0.1 records the headers of every request it gets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Api, bootstrap } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, keyloft } from '../pipeline/pipeline-fixture.js';

interface Capture {
  url: string;
  seen: Array<{ method: string; path: string; headers: IncomingHttpHeaders }>;
  server: Server;
  /** Every authorization or cookie header value it received. */
  credentials(): string[];
}

/** A server that records every request and answers with `reply` (default 401 JSON). */
function capture(reply?: (path: string) => { status: number; body: unknown }): Promise<Capture> {
  const seen: Capture['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    req.resume();
    const r = reply?.(req.url ?? '') ?? { status: 401, body: { error: { code: 'unauthenticated', message: 'who are you', field: null } } };
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(r.body));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        seen,
        server,
        credentials: () => seen.flatMap((s) => [s.headers.authorization, s.headers.cookie].filter((h): h is string => !!h)),
      }),
    ),
  );
}

describe('saved credentials are bound to their server', () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  let home: string;
  let evil: Capture;
  const configDir = () => join(home, 'config');
  const env = (extra: Record<string, string | undefined> = {}) => ({ ...cliEnv(extra), KEYLOFT_CONFIG_DIR: configDir() });

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'keyloft-credentials-'));
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    evil = await capture();
    const r = await keyloft(['login', '--url', server.url, '--token-stdin'], env(), { stdin: `${admin.token}\n` }).done;
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    evil?.server.close();
    await server?.stop();
    await store?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('KEYLOFT_URL naming another server sends no token: the command stops before any request, exit 1', async () => {
    for (const args of [
      ['whoami'],
      ['projects', 'list'],
      ['secrets', 'list', '--project', 'x'],
      ['deploy', 'start', '--project', 'x', '--env', 'production'],
    ]) {
      const r = await keyloft(args, env({ KEYLOFT_URL: evil.url })).done;
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`no token for ${evil.url.replace(/[.]/g, '\\.')}.*never sent elsewhere.*KEYLOFT_TOKEN`));
      assert.ok(!r.stderr.includes(admin.token!) && !r.stdout.includes(admin.token!));
    }
    assert.deepEqual(evil.credentials(), [], 'no credential reached the other server');
  });

  test('only an explicit KEYLOFT_TOKEN is sent where KEYLOFT_URL points', async () => {
    const explicit = `klt_${randomBytes(16).toString('hex')}`;
    const r = await keyloft(['whoami'], env({ KEYLOFT_URL: evil.url, KEYLOFT_TOKEN: explicit })).done;
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(evil.credentials(), [`Bearer ${explicit}`], 'exactly the explicit token, never the saved one');
    evil.seen.length = 0;
  });

  test('the saved login still works for its own server, also when KEYLOFT_URL names it (trailing slash and all)', async () => {
    for (const url of [undefined, server.url, `${server.url}/`]) {
      const r = await keyloft(['whoami', '--json'], env({ KEYLOFT_URL: url })).done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).tokenFrom, 'file');
    }
  });

  test('one login per server: a second login is kept apart, and each token goes only to its own URL', async () => {
    // "localhost" is another URL for the same server: a separate login with its own token
    const other = server.url.replace('127.0.0.1', 'localhost');
    const second = await admin.post('/api/v1/tokens', { name: 'second-login' });
    assert.equal(second.status, 201, second.text);
    const l = await keyloft(['login', '--url', other, '--token-stdin', '--release-url', 'https://release.example.test/'], env(), {
      stdin: `${second.body.token}\n`,
    }).done;
    assert.equal(l.code, 0, l.stderr);
    const file = JSON.parse(readFileSync(join(configDir(), 'config.json'), 'utf8'));
    assert.equal(file.current, other);
    assert.equal(file.hosts[other].releaseUrl, 'https://release.example.test', 'login --release-url is saved with that login');
    assert.equal(file.hosts[server.url].releaseUrl, undefined);
    assert.equal(file.hosts[other].token, second.body.token);
    assert.equal(file.hosts[server.url].token, admin.token);
    const w = await keyloft(['whoami', '--json'], env({ KEYLOFT_URL: server.url })).done;
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(JSON.parse(w.stdout).otherLogins, [other]);
    // the configured release instance of a login is where that login's token may go too (restore, copy)
    const rel = await capture();
    try {
      const withRelease = await keyloft(['login', '--url', other, '--token-stdin', '--release-url', rel.url], env(), { stdin: `${second.body.token}\n` }).done;
      assert.equal(withRelease.code, 0, withRelease.stderr);
      const toRelease = await keyloft(['whoami'], env({ KEYLOFT_URL: rel.url })).done;
      assert.equal(toRelease.code, 2, toRelease.stderr);
      assert.deepEqual(rel.credentials(), [`Bearer ${second.body.token}`], "the login's own token, to its configured release URL");
    } finally {
      rel.server.close();
    }
    // logout --url forgets one login and keeps the other
    const out = await keyloft(['logout', '--url', other, '--keep-token'], env()).done;
    assert.equal(out.code, 0, out.stderr);
    const after_ = JSON.parse(readFileSync(join(configDir(), 'config.json'), 'utf8'));
    assert.deepEqual(Object.keys(after_.hosts), [server.url]);
    assert.equal(after_.current, undefined, 'no current login after forgetting the current one');
    const still = await keyloft(['whoami'], env({ KEYLOFT_URL: server.url })).done;
    assert.equal(still.code, 0, still.stderr);
    const none = await keyloft(['whoami'], env()).done;
    assert.equal(none.code, 1, 'without a current login and without KEYLOFT_URL nothing is sent');
    // back to a current login for the next tests
    assert.equal((await keyloft(['login', '--url', server.url, '--token-stdin'], env(), { stdin: `${admin.token}\n` }).done).code, 0);
  });

  test('a config file of the earlier one-login format binds its token to its URL', async () => {
    const dir = join(home, 'legacy');
    const legacyEnv = { ...cliEnv({}), KEYLOFT_CONFIG_DIR: dir };
    rmSync(dir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ url: server.url, token: admin.token }), { mode: 0o600 });
    const ok = await keyloft(['whoami', '--json'], legacyEnv).done;
    assert.equal(ok.code, 0, ok.stderr);
    const r = await keyloft(['projects', 'list'], { ...legacyEnv, KEYLOFT_URL: evil.url }).done;
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(evil.credentials(), []);
  });

  describe('a 421 answer cannot send the deploy token to another host', () => {
    let api: Capture;
    let release: Capture;
    const deployToken = `kldt_${randomBytes(16).toString('hex')}`;
    const VALUE = `released-${randomBytes(6).toString('hex')}`;
    before(async () => {
      release = await capture(() => ({ status: 200, body: { runtime: { RELEASED: VALUE }, build: {} } }));
      api = await capture(() => ({
        status: 421,
        body: { error: { code: 'wrong_role', message: 'no keys here', field: null, details: { releaseUrl: release.url } } },
      }));
    });
    after(() => {
      api?.server.close();
      release?.server.close();
    });
    const run = (extra: Record<string, string | undefined>) =>
      keyloft(
        ['run', '--', process.execPath, '-e', 'process.stdout.write(String(process.env.RELEASED === undefined ? "none" : "got"))'],
        env({ KEYLOFT_URL: api.url, KEYLOFT_DEPLOYMENT: 'dep_1', KEYLOFT_DEPLOY_TOKEN: deployToken, ...extra }),
      ).done;

    test('a release URL that is neither the server nor configured is refused before the token is sent (exit 2)', async () => {
      const r = await run({});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /was not sent there.*KEYLOFT_RELEASE_URL/);
      assert.equal(release.seen.length, 0, 'the release URL of the 421 got no request at all');
      assert.ok(
        api.credentials().every((c) => c === `Bearer ${deployToken}`),
        'the token went only where KEYLOFT_URL points',
      );
    });

    test('KEYLOFT_RELEASE_URL names the release instance: the 421 is followed with the deploy token', async () => {
      const r = await run({ KEYLOFT_RELEASE_URL: `${release.url}/` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'got');
      assert.deepEqual(release.credentials(), [`Bearer ${deployToken}`]);
      release.seen.length = 0;
    });

    test("the release URL saved with `keyloft login --release-url` for that server is followed; another login's is not", async () => {
      // the saved login for the api URL names the release instance
      const dir = join(home, 'release-login');
      const e = { ...cliEnv({}), KEYLOFT_CONFIG_DIR: dir };
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ current: server.url, hosts: { [server.url]: { token: admin.token, releaseUrl: release.url }, [api.url]: { token: 'klt_unused' } } }),
        { mode: 0o600 },
      );
      const refused = await keyloft(['run', '--', process.execPath, '-e', '0'], {
        ...e,
        KEYLOFT_URL: api.url,
        KEYLOFT_DEPLOYMENT: 'dep_1',
        KEYLOFT_DEPLOY_TOKEN: deployToken,
      }).done;
      assert.equal(refused.code, 2, "the release URL of another server's login does not count");
      assert.equal(release.seen.length, 0);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ current: api.url, hosts: { [api.url]: { token: 'klt_unused', releaseUrl: release.url } } }), {
        mode: 0o600,
      });
      const followed = await keyloft(['run', '--', process.execPath, '-e', 'process.stdout.write(process.env.RELEASED ? "got" : "none")'], {
        ...e,
        KEYLOFT_URL: api.url,
        KEYLOFT_DEPLOYMENT: 'dep_1',
        KEYLOFT_DEPLOY_TOKEN: deployToken,
      }).done;
      assert.equal(followed.code, 0, followed.stderr);
      assert.equal(followed.stdout, 'got');
      assert.deepEqual(release.credentials(), [`Bearer ${deployToken}`]);
    });
  });
});
