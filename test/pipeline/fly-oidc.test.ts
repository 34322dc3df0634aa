/**
 * The CLI side of CI identity federation, end to end: the real binary against a real server and a
 * test OpenID issuer, a stand-in for GitHub Actions' ID token service, and a stand-in flyctl.
 * `keyloft trust-policies add|list|remove`, `deploy start --oidc`, `deploy fly --oidc`, `previews close`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Api, bootstrap } from '../helpers/client.js';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, keyloft, parseFlySecrets } from './pipeline-fixture.js';

const hex = () => randomBytes(8).toString('hex');
const PROD = { DATABASE_URL: `postgres://app:${hex()}@db/app` };
const PREVIEW = { DATABASE_URL: `postgres://preview:${hex()}@db/preview` };
const BUILD = { NPM_TOKEN: `npm_${hex()}` };

/** Records argv, stdin and the environment names it got; echoes its environment's tokens (to check they are withheld). */
const FAKE_FLYCTL = `#!${process.execPath}
const fs = require('fs');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  fs.appendFileSync(process.env.FAKE_FLY_LOG, JSON.stringify({ argv: process.argv.slice(2), stdin: Buffer.concat(chunks).toString('utf8'), env: Object.keys(process.env).filter((k) => k.startsWith('KEYLOFT_')) }) + '\\n');
  console.log('fake flyctl ' + process.argv.slice(2).join(' '));
  console.log('oidc token in env: ' + (process.env.KEYLOFT_OIDC_TOKEN || 'none'));
  process.exit(0);
});
`;

describe('keyloft --oidc (end to end: test issuer, stand-in GitHub token service, stand-in flyctl)', () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  let issuer: TestIssuer;
  let github: Server;
  let githubUrl: string;
  const requestToken = `ghs_${hex()}`;
  const asked: Array<{ audience: string | null; authorized: boolean }> = [];
  const issued: string[] = [];
  /** What the stand-in GitHub service mints next (a ref). */
  let nextRef = 'refs/heads/main';
  let work: string;
  let flyctl: string;
  let log: string;
  const slug = `oidc-${hex().slice(0, 6)}`;

  const calls = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { argv: string[]; stdin: string; env: string[] })
      : [];
  const noToken = (text: string, what: string) => {
    for (const t of issued) for (const part of [t, t.split('.')[2]!]) assert.ok(!text.includes(part), `${what} shows an ID token`);
    assert.ok(!text.includes(requestToken), `${what} shows the GitHub request token`);
  };
  const adminEnv = (extra: Record<string, string> = {}) => cliEnv({ KEYLOFT_URL: server.url, KEYLOFT_TOKEN: admin.token!, KEYLOFT_PROJECT: slug, ...extra });
  /** A CI job's environment: no KEYLOFT_TOKEN at all. */
  const ciEnv = (extra: Record<string, string> = {}) =>
    cliEnv({ KEYLOFT_URL: server.url, KEYLOFT_PROJECT: slug, KEYLOFT_FLYCTL: flyctl, FAKE_FLY_LOG: log, ...extra });
  const githubEnv = () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: `${githubUrl}/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyloft-oidc-cli-'));
    flyctl = join(work, 'flyctl');
    writeFileSync(flyctl, FAKE_FLYCTL);
    chmodSync(flyctl, 0o755);
    log = join(work, 'calls.jsonl');
    issuer = await startTestIssuer();
    github = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const authorized = req.headers.authorization === `bearer ${requestToken}`;
      asked.push({ audience: u.searchParams.get('audience'), authorized });
      if (!authorized || u.pathname !== '/token') {
        res.writeHead(401).end('{}');
        return;
      }
      void issuer.mint({ aud: u.searchParams.get('audience') ?? 'none', ref: nextRef }).then((t) => {
        issued.push(t);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value: t }));
      });
    });
    await new Promise<void>((r) => github.listen(0, '127.0.0.1', r));
    githubUrl = `http://127.0.0.1:${(github.address() as AddressInfo).port}`;
    store = await createStore('sqlite');
    server = await startServer(store, { env: { KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true' } });
    admin = await bootstrap(server);
    const p = await admin.post('/api/v1/projects', {
      slug,
      name: 'OIDC CLI',
      secrets: [
        { name: 'DATABASE_URL', scope: 'production', value: PROD.DATABASE_URL },
        { name: 'DATABASE_URL', scope: 'preview', value: PREVIEW.DATABASE_URL },
        { name: 'NPM_TOKEN', scope: 'build', value: BUILD.NPM_TOKEN },
      ],
    });
    assert.equal(p.status, 201, p.text);
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
    await issuer?.close();
    await new Promise<void>((r) => (github ? github.close(() => r()) : r()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('trust-policies add, list and remove (admin); a field error names the field', async () => {
    for (const [name, subject, env] of [
      ['main', 'repo:acme/shop:ref:refs/heads/main', 'production'],
      ['pulls', 'repo:acme/shop:pull_request', 'preview'],
      ['spare', 'repo:acme/shop:ref:refs/heads/spare', 'production'],
    ] as const) {
      const r = await keyloft(
        [
          'trust-policies',
          'add',
          '--name',
          name,
          '--issuer',
          issuer.url,
          '--audience',
          server.url,
          '--subject',
          subject,
          '--env',
          env,
          '--claim',
          'repository_owner=acme',
        ],
        adminEnv(),
      ).done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Added trust policy ${name} \\(tp_`));
    }
    const list = await keyloft(['trust-policies', 'list', '--json'], adminEnv()).done;
    assert.equal(list.code, 0, list.stderr);
    const policies = JSON.parse(list.stdout).trustPolicies as Array<{ name: string; claims: Record<string, string> }>;
    assert.deepEqual(
      policies.map((p) => p.name),
      ['main', 'pulls', 'spare'],
    );
    assert.deepEqual(policies[0]!.claims, { repository_owner: 'acme' });
    const human = await keyloft(['trust-policies', 'ls'], adminEnv()).done;
    assert.match(human.stdout, /repo:acme\/shop:pull_request/);
    const rm = await keyloft(['trust-policies', 'remove', 'spare'], adminEnv()).done;
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await keyloft(['trust-policies', 'remove', 'spare'], adminEnv()).done).code, 1);
    const bad = await keyloft(
      ['trust-policies', 'add', '--name', 'x', '--issuer', 'http://issuer.example.com', '--audience', 'a', '--subject', 'repo:a/b:*', '--env', 'production'],
      adminEnv(),
    ).done;
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /issuer must be https:\/\/.*\(field: issuer\)/);
  });

  test('deploy start --oidc on GitHub Actions: asks for the server URL as audience, prints the exports, never the ID token', async () => {
    nextRef = 'refs/heads/main';
    const r = await keyloft(['deploy', 'start', '--oidc', '--env', 'production'], ciEnv(githubEnv())).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /export KEYLOFT_DEPLOY_TOKEN='kldt_/);
    assert.match(r.stderr, /exchanging the CI ID token from GitHub Actions/);
    assert.deepEqual(asked.at(-1), { audience: server.url, authorized: true });
    noToken(r.stdout + r.stderr, 'deploy start --oidc');
    const id = /KEYLOFT_DEPLOYMENT='([^']+)'/.exec(r.stdout)![1]!;
    const d = await admin.get(`/api/v1/projects/${slug}/deployments/${id}`);
    assert.deepEqual(d.body.deployment.startedBy, { kind: 'trust_policy', name: 'main' });
    // The exported deploy token works with the rest of the pipeline.
    const token = /KEYLOFT_DEPLOY_TOKEN='([^']+)'/.exec(r.stdout)![1]!;
    const done = await keyloft(['deploy', 'complete', '--status', 'succeeded'], ciEnv({ KEYLOFT_DEPLOYMENT: id, KEYLOFT_DEPLOY_TOKEN: token })).done;
    assert.equal(done.code, 0, done.stderr);
  });

  test('deploy start --oidc --audience, and a token from KEYLOFT_OIDC_TOKEN_FILE: a pull-request token deploys its own PR', async () => {
    nextRef = 'refs/pull/7/merge';
    const other = await keyloft(['deploy', 'start', '--oidc', '--audience', 'someone-else', '--env', 'production'], ciEnv(githubEnv())).done;
    assert.equal(asked.at(-1)!.audience, 'someone-else');
    assert.equal(other.code, 2);
    assert.match(other.stderr, /oidc_policy_mismatch/);
    noToken(other.stdout + other.stderr, 'a refused exchange');
    const file = join(work, 'id-token');
    writeFileSync(file, `${await issuer.mint({ aud: server.url, ref: 'refs/pull/7/merge' })}\n`, { mode: 0o600 });
    issued.push(readFileSync(file, 'utf8').trim());
    const r = await keyloft(['deploy', 'start', '--oidc', '--env', 'preview', '--json'], ciEnv({ KEYLOFT_OIDC_TOKEN_FILE: file })).done;
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.deployment.pr, 7);
    assert.equal(body.project.app, `${slug}-pr-7`);
    noToken(r.stdout + r.stderr, 'deploy start --oidc --json');
    const eight = await keyloft(['deploy', 'start', '--oidc', '--env', 'preview', '--pr', '8'], ciEnv({ KEYLOFT_OIDC_TOKEN_FILE: file })).done;
    assert.equal(eight.code, 2);
    assert.match(eight.stderr, /oidc_pr_mismatch/);
  });

  test('deploy fly --oidc: flyctl gets the values on stdin and never the ID token (argv, env, output)', async () => {
    const idToken = await issuer.mint({ aud: server.url });
    issued.push(idToken);
    rmSync(log, { force: true });
    const r = await keyloft(['deploy', 'fly', '--oidc', '--env', 'production', '--', '--remote-only'], ciEnv({ KEYLOFT_OIDC_TOKEN: idToken })).done;
    assert.equal(r.code, 0, r.stderr);
    const [imp, dep, ...rest] = calls();
    assert.equal(rest.length, 0);
    assert.deepEqual(imp!.argv, ['secrets', 'import', '--app', slug, '--stage']);
    assert.deepEqual(parseFlySecrets(imp!.stdin), PROD);
    assert.deepEqual(dep!.argv, ['deploy', '--app', slug, '--build-secret', `NPM_TOKEN=${BUILD.NPM_TOKEN}`, '--remote-only']);
    for (const c of [imp!, dep!]) {
      assert.ok(!c.env.includes('KEYLOFT_OIDC_TOKEN'), 'flyctl got KEYLOFT_OIDC_TOKEN');
      noToken(c.argv.join(' '), 'a flyctl argument');
    }
    assert.match(r.stdout, /oidc token in env: none/);
    noToken(r.stdout + r.stderr, 'deploy fly --oidc');
    const latest = (await admin.get(`/api/v1/projects/${slug}/deployments?limit=1`)).body.deployments[0];
    assert.equal(latest.status, 'succeeded');
    assert.deepEqual(latest.startedBy, { kind: 'trust_policy', name: 'main' });
  });

  test('deploy fly --oidc for a pull request: the preview app of the PR the token names', async () => {
    const idToken = await issuer.mint({ aud: server.url, ref: 'refs/pull/9/merge' });
    issued.push(idToken);
    rmSync(log, { force: true });
    const r = await keyloft(['deploy', 'fly', '--oidc', '--env', 'preview'], ciEnv({ KEYLOFT_OIDC_TOKEN: idToken })).done;
    assert.equal(r.code, 0, r.stderr);
    const [imp] = calls();
    assert.deepEqual(imp!.argv, ['secrets', 'import', '--app', `${slug}-pr-9`, '--stage']);
    assert.deepEqual(parseFlySecrets(imp!.stdin), PREVIEW);
    assert.match(r.stderr, /\(preview #9\)/);
  });

  test('--oidc without a token source says what to set; --audience needs --oidc', async () => {
    const r = await keyloft(['deploy', 'start', '--oidc', '--env', 'production'], ciEnv()).done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /permissions: id-token: write.*KEYLOFT_OIDC_TOKEN/);
    const a = await keyloft(['deploy', 'start', '--audience', 'x', '--env', 'production'], adminEnv()).done;
    assert.equal(a.code, 1);
    assert.match(a.stderr, /--audience is only for --oidc/);
    const notJwt = await keyloft(['deploy', 'start', '--oidc', '--env', 'production'], ciEnv({ KEYLOFT_OIDC_TOKEN: 'not a token' })).done;
    assert.equal(notJwt.code, 1);
    assert.match(notJwt.stderr, /not a JWT/);
  });

  test('previews close --pr N closes the preview app (a member token), and says so when there is none', async () => {
    const r = await keyloft(['previews', 'close', '--pr', '7'], adminEnv()).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Closed the preview app of pull request #7/);
    const again = await keyloft(['previews', 'close', '--pr', '7'], adminEnv()).done;
    assert.equal(again.code, 2);
    assert.match(again.stderr, /404 not_found/);
    const audit = await admin.get(`/api/v1/projects/${slug}/audit?action=preview.closed`);
    assert.equal(audit.body.events[0].detail.pr, 7);
  });
});
