/**
 * The `keyloft` CLI for people, run as a real subprocess against a real server:
 * login/logout/whoami, projects, secrets list/set/unset/import/history, link, completion;
 * exit codes 0/1/2/3; values round-trip through stdin and @file and are never printed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Api, bootstrap, createUser } from '../helpers/client.js';
import { createStore, dialects, KEYLOFT_BIN, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const rnd = () => randomBytes(6).toString('hex');

/** Every secret value this file writes: none may appear in any CLI output or in the server's output. */
const values: string[] = [];
function secret(label: string, body?: string): string {
  const v = body ?? `${label}_${rnd()}${rnd()}`;
  values.push(v);
  return v;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The child's command line as the kernel saw it (Linux), read while it ran. */
  cmdline: string | undefined;
}

/** Everything every CLI run printed. */
const printed: string[] = [];

interface RunOptions {
  stdin?: string | Buffer;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Runs `node bin/keyloft.js …` with a private config dir and no inherited KEYLOFT_* settings. */
function makeRunner(configDir: string) {
  return (args: string[], opts: RunOptions = {}): Promise<Run> => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_') && k !== 'NO_COLOR') env[k] = v;
    env.KEYLOFT_CONFIG_DIR = configDir;
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env, cwd: opts.cwd ?? dirname(configDir), stdio: ['pipe', 'pipe', 'pipe'] });
    let cmdline: string | undefined;
    try {
      cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      cmdline = undefined;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdin.on('error', () => {});
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
    else child.stdin.end();
    return new Promise((resolve) => {
      child.on('close', (code) => {
        printed.push(stdout, stderr);
        resolve({ code, stdout, stderr, cmdline });
      });
    });
  };
}

/** Whether `script` (util-linux) can give the CLI a pseudo-terminal. */
const hasScript = spawnSync('script', ['-qefc', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0;

/**
 * Runs the CLI on a pseudo-terminal (via `script`): answers each prompt when it appears and
 * returns the exit code and everything the terminal showed (which includes any echo of input).
 */
function onTerminal(
  configDir: string,
  args: string[],
  answers: Array<[RegExp, string]>,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; screen: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_') && k !== 'NO_COLOR') env[k] = v;
  Object.assign(env, { KEYLOFT_CONFIG_DIR: configDir, TERM: 'xterm' }, extraEnv);
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, KEYLOFT_BIN, ...args].map(q).join(' ');
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], { env, cwd: dirname(configDir), stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let from = 0;
  const pending = [...answers];
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.stdout.on('data', (d: Buffer) => {
    screen += d.toString('utf8');
    const next = pending[0];
    if (next && next[0].test(screen.slice(from))) {
      pending.shift();
      from = screen.length;
      // Give the CLI a moment to switch the terminal to no-echo after printing the prompt.
      setTimeout(() => child.stdin.write(next[1]), 150);
    }
  });
  child.stdin.on('error', () => {});
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      printed.push(screen);
      resolve({ code, screen });
    }),
  );
}

function ok(r: Run, what = 'command'): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

function json(r: Run): any {
  ok(r);
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`stdout is not JSON:\n${r.stdout}`);
  }
}

const PEM = secret(
  'pem',
  `-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${rnd()}\n${'A'.repeat(64)}\n-----END PRIVATE KEY-----\n`,
);
const UNICODE = secret('unicode', `pässwörd ✓ 秘密 🔑 ${rnd()}\n\tend `);

for (const d of await dialects()) {
  describe(`keyloft CLI (${d.name})`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let home: string;
    let cli: ReturnType<typeof makeRunner>;
    const project = `cli-${rnd()}`;
    const path = (p: string) => `/api/v1/projects/${project}${p}`;

    /** Digest and size of `name` in `scope`, from the API. */
    async function meta(scope: string, name: string): Promise<{ digest: string; size: number } | undefined> {
      const r = await admin.get(path(`/secrets?scope=${scope}`));
      assert.equal(r.status, 200, r.text);
      return (r.body.secrets as any[]).find((s) => s.name === name && !s.deleted);
    }

    /** Writes `value` under a reference name through the Api helper and returns its digest and size. */
    async function reference(scope: string, body: { value: string } | { valueBase64: string }): Promise<{ digest: string; size: number }> {
      const name = `REF_${rnd().toUpperCase()}`;
      const r = await admin.put(path(`/secrets/${scope}/${name}`), body);
      assert.ok(r.status === 201 || r.status === 200, r.text);
      return { digest: r.body.secret.digest, size: r.body.secret.size };
    }

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      home = mkdtempSync(join(tmpdir(), 'keyloft-cli-'));
      cli = makeRunner(join(home, 'config'));
    });

    after(async () => {
      await server?.stop();
      await store?.cleanup();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it('refuses to work before login, with exit 1 and a hint', async () => {
      const r = await cli(['projects', 'list']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /keyloft login/);
      assert.equal(r.stdout, '');
    });

    it('login with email and password on stdin creates a token and saves it with mode 0600', async () => {
      const r = await cli(['login', '--url', server.url, '--json'], { stdin: `${ADMIN_EMAIL}\n${ADMIN_PASSWORD}\n` });
      const out = json(r);
      assert.equal(out.url, server.url);
      assert.equal(out.email, ADMIN_EMAIL);
      assert.match(out.tokenName, /^keyloft-cli@/);
      const file = join(home, 'config', 'config.json');
      assert.equal(out.configFile, file);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(home, 'config')).mode & 0o777, 0o700);
      const file_ = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(file_.current, server.url);
      const saved = file_.hosts[server.url];
      assert.match(saved.token, /^klt_/, 'the token is saved under the URL it belongs to');
      assert.ok(!r.stdout.includes(saved.token) && !r.stderr.includes(saved.token), 'the token is not printed');
      assert.ok(!r.stdout.includes(ADMIN_PASSWORD) && !r.stderr.includes(ADMIN_PASSWORD));
      const tokens = await admin.get('/api/v1/tokens');
      assert.ok((tokens.body.tokens as any[]).some((t) => t.name === out.tokenName));
      const me = json(await cli(['whoami', '--json']));
      assert.equal(me.email, ADMIN_EMAIL);
      assert.equal(me.tokenFrom, 'file');
    });

    it('a wrong password is refused with exit 2 and the server message', async () => {
      const dir = join(home, 'other');
      const r = await makeRunner(dir)(['login', '--url', server.url], { stdin: `${ADMIN_EMAIL}\nwrong password entirely\n` });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /server refused \(401/);
      assert.match(r.stderr, /the email or password is wrong/);
      assert.doesNotMatch(r.stderr, /token/, 'a wrong password is not about a token');
      assert.ok(!existsSync(join(dir, 'config.json')), 'nothing saved');
    });

    it('a wrong token gives exit 2 and a clear message', async () => {
      const dir = join(home, 'wrong');
      const r = await makeRunner(dir)(['login', '--url', server.url, '--token-stdin'], { stdin: 'klt_this-is-not-a-valid-token\n' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /did not accept the token/);
      assert.ok(!existsSync(join(dir, 'config.json')), 'nothing saved');
      const r2 = await cli(['projects', 'list'], { env: { KEYLOFT_TOKEN: 'klt_wrong' } });
      assert.equal(r2.code, 2, r2.stderr);
      assert.match(r2.stderr, /did not accept the token.*keyloft login/);
      assert.equal(r2.stdout, '');
    });

    it('login --token-stdin, KEYLOFT_URL / KEYLOFT_TOKEN override the file', async () => {
      const dir = join(home, 'bytoken');
      const run = makeRunner(dir);
      ok(await run(['login', '--url', server.url, '--token-stdin'], { stdin: `${admin.token}\n` }), 'login --token-stdin');
      assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).hosts[server.url].token, admin.token);
      // Env wins over the file: a bad env token is used (and refused) even though the file is good.
      const bad = await run(['whoami'], { env: { KEYLOFT_TOKEN: 'klt_nope' } });
      assert.equal(bad.code, 2);
      const viaEnv = json(await makeRunner(join(home, 'empty'))(['whoami', '--json'], { env: { KEYLOFT_URL: server.url, KEYLOFT_TOKEN: admin.token } }));
      assert.equal(viaEnv.tokenFrom, 'env');
    });

    it('projects create, list and show (--json)', async () => {
      const created = json(await cli(['projects', 'create', '--slug', project, '--name', 'CLI Test', '--fly-app', `${project}-prod`, '--json']));
      assert.equal(created.project.slug, project);
      assert.equal(created.project.flyApp, `${project}-prod`);
      assert.equal(created.project.role, 'admin');
      const list = json(await cli(['projects', 'list', '--json']));
      assert.ok((list.projects as any[]).some((p) => p.slug === project && p.name === 'CLI Test'));
      const shown = json(await cli(['projects', 'show', project, '--json']));
      assert.equal(shown.project.slug, project);
      const table = await cli(['projects', 'list']);
      ok(table);
      assert.match(table.stdout, /^SLUG\s+NAME/);
      assert.ok(table.stdout.includes(project));
      assert.doesNotMatch(table.stdout, /\u001b\[/, 'no colour when stdout is not a terminal');
      const dup = await cli(['projects', 'create', '--slug', project, '--name', 'again']);
      assert.equal(dup.code, 2);
      assert.match(dup.stderr, /server refused \(409/);
      const bad = await cli(['projects', 'create', '--slug', 'Bad Slug!', '--name', 'x']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /\(field: slug\)/);
      const missing = await cli(['projects', 'show', 'no-such-project']);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /404/);
    });

    it('secrets set NAME=- (stdin) round-trips a multi-line PEM byte for byte, never in argv', async () => {
      const r = await cli(['secrets', 'set', '--project', project, '--scope', 'production', 'TLS_KEY=-', '--json'], { stdin: PEM });
      const out = json(r);
      assert.deepEqual(
        out.secrets.map((s: any) => [s.name, s.change]),
        [['TLS_KEY', 'added']],
      );
      if (r.cmdline !== undefined) assert.ok(!r.cmdline.includes(PEM.slice(0, 20)), 'the value is not in the process arguments');
      const got = await meta('production', 'TLS_KEY');
      const ref = await reference('production', { value: PEM });
      assert.equal(got?.digest, ref.digest, 'same digest as the API write of the same value');
      assert.equal(got?.size, Buffer.byteLength(PEM), 'trailing newline kept');
      assert.equal(out.secrets[0].digest, ref.digest);
    });

    it('secrets set NAME=@file round-trips unicode and PEM files exactly; several at once are all or nothing', async () => {
      const dir = mkdtempSync(join(home, 'files-'));
      writeFileSync(join(dir, 'uni.txt'), UNICODE);
      writeFileSync(join(dir, 'key.pem'), PEM);
      const r = await cli([
        'secrets',
        'set',
        '--project',
        project,
        '--scope',
        'preview',
        `UNI=@${join(dir, 'uni.txt')}`,
        `PEM=@${join(dir, 'key.pem')}`,
        '--json',
      ]);
      const out = json(r);
      assert.deepEqual(out.secrets.map((s: any) => s.change).sort(), ['added', 'added']);
      assert.equal((await meta('preview', 'UNI'))?.digest, (await reference('preview', { value: UNICODE })).digest);
      assert.equal((await meta('preview', 'UNI'))?.size, Buffer.byteLength(UNICODE));
      assert.equal((await meta('preview', 'PEM'))?.digest, (await reference('preview', { value: PEM })).digest);
      // Setting the same value again changes nothing.
      const again = json(
        await cli(['secrets', 'set', '--project', project, '--scope', 'preview', `UNI=@${join(dir, 'uni.txt')}`, `PEM=@${join(dir, 'key.pem')}`, '--json']),
      );
      assert.deepEqual(
        again.secrets.map((s: any) => s.change),
        ['unchanged', 'unchanged'],
      );
      // One value the server refuses (NUL in an app secret) → exit 2, and the other is not written.
      writeFileSync(join(dir, 'nul.txt'), 'a\u0000b');
      const good = secret('good');
      const refused = await cli(['secrets', 'set', '--project', project, '--scope', 'preview', 'GOOD_ONE=-', `NUL_ONE=@${join(dir, 'nul.txt')}`], {
        stdin: good,
      });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /field: /);
      assert.equal(await meta('preview', 'GOOD_ONE'), undefined, 'nothing half-written');
      // Binary bytes: refused locally for app secrets, sent as base64 for build secrets.
      const bin = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), randomBytes(32)]);
      writeFileSync(join(dir, 'bin'), bin);
      const app = await cli(['secrets', 'set', '--project', project, '--scope', 'production', `BIN=@${join(dir, 'bin')}`]);
      assert.equal(app.code, 1);
      assert.match(app.stderr, /not UTF-8 text/);
      ok(await cli(['secrets', 'set', '--project', project, '--scope', 'build', `BIN=@${join(dir, 'bin')}`]), 'binary build secret');
      const b = await meta('build', 'BIN');
      assert.equal(b?.digest, (await reference('build', { valueBase64: bin.toString('base64') })).digest);
      assert.equal(b?.size, bin.length);
      // A value given on the command line (the user's choice) works too.
      const literal = secret('literal');
      ok(await cli(['secrets', 'set', '--project', project, '--scope', 'build', `LITERAL=${literal}`]));
      assert.equal((await meta('build', 'LITERAL'))?.digest, (await reference('build', { value: literal })).digest);
    });

    it('secrets list shows metadata in a table and as JSON, never a value', async () => {
      const all = json(await cli(['secrets', 'list', '--project', project, '--json']));
      assert.equal(all.project, project);
      const names = (all.secrets as any[]).map((s) => `${s.scope}/${s.name}`);
      for (const n of ['production/TLS_KEY', 'preview/UNI', 'preview/PEM', 'build/BIN']) assert.ok(names.includes(n), `${n} listed`);
      for (const s of all.secrets) {
        assert.equal(typeof s.digest, 'string');
        assert.equal(s.status, 'pending');
        assert.ok(!('value' in s));
      }
      const onlyBuild = json(await cli(['secrets', 'list', '--project', project, '--scope', 'build', '--json']));
      assert.ok((onlyBuild.secrets as any[]).every((s) => s.scope === 'build'));
      const t = await cli(['secrets', 'list', '--project', project]);
      ok(t);
      assert.match(t.stdout.split('\n')[0]!, /^NAME\s+SCOPE\s+DIGEST\s+STATUS\s+UPDATED$/);
      const tls = t.stdout.split('\n').find((l) => l.startsWith('TLS_KEY '));
      assert.ok(tls && tls.includes('production') && tls.includes('pending') && tls.includes((await meta('production', 'TLS_KEY'))!.digest));
    });

    it('secrets import: --dry-run reports, then writes all or nothing; a progress line for large files', async () => {
      const a = secret('imp_a');
      const b = secret('imp_b');
      const file = join(home, 'prod.env');
      writeFileSync(file, `# comment\nIMP_A=${a}\nexport IMP_B="${b}"\nTLS_KEY="${PEM.replace(/\n/g, '\\n')}"\n`);
      const dry = json(await cli(['secrets', 'import', '--project', project, '--scope', 'production', file, '--dry-run', '--json']));
      assert.equal(dry.dryRun, true);
      assert.equal(dry.written, 0);
      assert.deepEqual(Object.fromEntries(dry.changes.map((c: any) => [c.name, c.change])), { IMP_A: 'added', IMP_B: 'added', TLS_KEY: 'unchanged' });
      assert.equal(await meta('production', 'IMP_A'), undefined, 'dry run wrote nothing');
      const human = await cli(['secrets', 'import', '--project', project, '--scope', 'production', file, '--dry-run']);
      ok(human);
      assert.match(human.stdout, /\+ IMP_A\s+added/);
      assert.match(human.stdout, /= TLS_KEY\s+unchanged/);
      assert.match(human.stdout, /dry run: nothing was written/);
      // From stdin ("-"), for real.
      const real = json(await cli(['secrets', 'import', '--project', project, '--scope', 'production', '-', '--json'], { stdin: readFileSync(file) }));
      assert.equal(real.written, 2);
      assert.equal((await meta('production', 'IMP_A'))?.digest, (await reference('production', { value: a })).digest);
      // A broken file: exit 2 with the line number, nothing written.
      const broken = await cli(['secrets', 'import', '--project', project, '--scope', 'production', '-'], {
        stdin: `IMP_NEW=${secret('imp_new')}\nthis line is broken\n`,
      });
      assert.equal(broken.code, 2, broken.stderr);
      assert.match(broken.stderr, /line 2/);
      assert.equal(await meta('production', 'IMP_NEW'), undefined);
      // Large file: a progress line on stderr, results on stdout.
      const lines = Array.from({ length: 1500 }, (_, i) => `BULK_${i}=${secret(`bulk${i}`)}`).join('\n');
      const big = await cli(['secrets', 'import', '--project', project, '--scope', 'preview', '-', '--json'], { stdin: `${lines}\n` });
      const bigOut = json(big);
      assert.equal(bigOut.written, 1500);
      assert.match(big.stderr, /importing standard input .*1501 lines/);
      assert.match(big.stderr, /1500 entries processed/);
      const missing = await cli(['secrets', 'import', '--project', project, '--scope', 'production', join(home, 'nope.env')]);
      assert.equal(missing.code, 1);
    });

    it('secrets import --replace deletes names the file does not hold; needs --yes without a terminal', async () => {
      writeFileSync(join(home, 'drop.txt'), secret('drop'));
      ok(
        await cli(['secrets', 'set', '--project', project, '--scope', 'build', 'KEEP_ME=-', `DROP_ME=@${join(home, 'drop.txt')}`], { stdin: secret('keep') }),
        'setup',
      );
      const file = join(home, 'build.env');
      writeFileSync(file, `KEEP_ME=${secret('keep2')}\n`);
      const dry = json(await cli(['secrets', 'import', '--project', project, '--scope', 'build', file, '--replace', '--dry-run', '--json']));
      const removed = (dry.changes as any[]).filter((c) => c.change === 'removed').map((c) => c.name);
      // A server that lists no removals fails here rather than skipping.
      assert.ok(removed.includes('DROP_ME') && !removed.includes('KEEP_ME'), `removed: ${removed.join(', ')}`);
      const refused = await cli(['secrets', 'import', '--project', project, '--scope', 'build', file, '--replace']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /--yes/);
      assert.ok(await meta('build', 'DROP_ME'), 'nothing removed without confirmation');
      const human = await cli(['secrets', 'import', '--project', project, '--scope', 'build', file, '--replace', '--yes']);
      ok(human);
      assert.match(human.stdout, /- DROP_ME\s+removed/);
      assert.equal(await meta('build', 'DROP_ME'), undefined);
      assert.ok(await meta('build', 'KEEP_ME'));
    });

    it('secrets history lists versions (--json)', async () => {
      const v2 = secret('hist');
      ok(await cli(['secrets', 'set', '--project', project, '--scope', 'production', 'TLS_KEY=-'], { stdin: v2 }));
      const h = json(await cli(['secrets', 'history', 'TLS_KEY', '--project', project, '--scope', 'production', '--json']));
      assert.equal(h.name, 'TLS_KEY');
      assert.deepEqual(
        h.versions.map((v: any) => v.version),
        [2, 1],
      );
      assert.equal(h.versions[1].size, Buffer.byteLength(PEM));
      assert.equal(h.versions[0].size, Buffer.byteLength(v2));
      const t = await cli(['secrets', 'history', 'TLS_KEY', '--project', project, '--scope', 'production']);
      ok(t);
      assert.match(t.stdout, /^VERSION\s+KIND\s+DIGEST\s+SIZE\s+CREATED\s+BY/);
      const none = await cli(['secrets', 'history', 'NO_SUCH', '--project', project, '--scope', 'production']);
      assert.equal(none.code, 2);
    });

    it('secrets unset refuses without a terminal or --yes (exit 1), deletes with --yes', async () => {
      const refused = await cli(['secrets', 'unset', '--project', project, '--scope', 'production', 'IMP_A']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /--yes/);
      assert.ok(await meta('production', 'IMP_A'), 'still there');
      const out = json(await cli(['secrets', 'unset', '--project', project, '--scope', 'production', 'IMP_A', 'IMP_B', '--yes', '--json']));
      assert.deepEqual(
        out.removed.map((r: any) => r.name),
        ['IMP_A', 'IMP_B'],
      );
      assert.equal(await meta('production', 'IMP_A'), undefined);
      const h = json(await cli(['secrets', 'history', 'IMP_A', '--project', project, '--scope', 'production', '--json']));
      assert.equal(h.versions[0].kind, 'delete');
      const gone = await cli(['secrets', 'unset', '--project', project, '--scope', 'production', 'IMP_A', '--yes']);
      assert.equal(gone.code, 2);
      assert.match(gone.stderr, /IMP_A: server refused \(404/);
    });

    it('link writes keyloft.json; commands find it from a subdirectory', async () => {
      const dir = mkdtempSync(join(home, 'repo-'));
      const linked = json(await cli(['link', '--project', project, '--json'], { cwd: dir }));
      assert.equal(linked.project, project);
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'keyloft.json'), 'utf8')), { project });
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      const list = json(await cli(['secrets', 'list', '--scope', 'build', '--json'], { cwd: join(dir, 'a', 'b') }));
      assert.equal(list.project, project);
      assert.ok((list.secrets as any[]).some((s) => s.name === 'KEEP_ME'));
      const shown = json(await cli(['projects', 'show', '--json'], { cwd: join(dir, 'a') }));
      assert.equal(shown.project.slug, project);
      const unknown = await cli(['link', '--project', 'no-such-project'], { cwd: dir });
      assert.equal(unknown.code, 2);
      const nowhere = mkdtempSync(join(tmpdir(), 'keyloft-nolink-'));
      try {
        const r = await cli(['secrets', 'list'], { cwd: nowhere });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /keyloft link/);
      } finally {
        rmSync(nowhere, { recursive: true, force: true });
      }
    });

    it('a member without rights is refused with exit 2; a viewer cannot set', async () => {
      const viewer = await createUser(server, admin, `viewer-${rnd()}@example.com`);
      const me = await viewer.get('/api/v1/me');
      assert.equal((await admin.post(path('/members'), { email: me.body.email, role: 'viewer' })).status, 201);
      const run = makeRunner(join(home, 'viewer'));
      const env = { KEYLOFT_URL: server.url, KEYLOFT_TOKEN: viewer.token };
      const list = json(await run(['secrets', 'list', '--project', project, '--json'], { env }));
      assert.ok(list.secrets.length > 0);
      const set = await run(['secrets', 'set', '--project', project, '--scope', 'production', 'X=-'], { env, stdin: secret('viewer') });
      assert.equal(set.code, 2);
      assert.match(set.stderr, /server refused \(403/);
    });

    it('--pr sets, lists, shows history of and unsets a per-pull-request preview override', async () => {
      const v = secret('override');
      const set = json(await cli(['secrets', 'set', '--project', project, '--scope', 'preview', '--pr', '42', 'PR_VALUE=-', '--json'], { stdin: v }));
      assert.equal(set.pr, 42);
      assert.equal(set.secrets[0].change, 'added');
      const list = json(await cli(['secrets', 'list', '--project', project, '--scope', 'preview', '--json']));
      const o = (list.secrets as any[]).find((s) => s.name === 'PR_VALUE');
      assert.equal(o?.pr, 42);
      const ref = await admin.put(path('/secrets/preview/PR_REF?pr=42'), { value: v });
      assert.equal(o.digest, ref.body.secret.digest);
      const table = await cli(['secrets', 'list', '--project', project, '--scope', 'preview']);
      assert.match(table.stdout, /PR_VALUE\s+preview \(PR 42\)/);
      const h = json(await cli(['secrets', 'history', 'PR_VALUE', '--project', project, '--scope', 'preview', '--pr', '42', '--json']));
      assert.equal(h.versions.length, 1);
      assert.equal(h.versions[0].size, Buffer.byteLength(v));
      // --pr with the wrong scope is keyloft's own check (exit 1); a --pr that does not parse is the command line's (exit 2, one line).
      for (const [code, bad] of [
        [1, ['--pr', '42', '--scope', 'production']],
        [2, ['--pr', 'abc', '--scope', 'preview']],
        [2, ['--pr', '0', '--scope', 'preview']],
      ] as const) {
        const r = await cli(['secrets', 'history', 'PR_VALUE', '--project', project, ...bad]);
        assert.equal(r.code, code, `${bad.join(' ')}: ${r.stderr}`);
      }
      const un = json(await cli(['secrets', 'unset', 'PR_VALUE', '--project', project, '--scope', 'preview', '--pr', '42', '--yes', '--json']));
      assert.deepEqual(
        un.removed.map((r: any) => r.name),
        ['PR_VALUE'],
      );
      const after = json(await cli(['secrets', 'list', '--project', project, '--scope', 'preview', '--json']));
      assert.ok(!(after.secrets as any[]).some((s) => s.name === 'PR_VALUE' && s.pr === 42 && !s.deleted));
    });

    it('logout forgets the login and revokes the token it created', async () => {
      const saved = JSON.parse(readFileSync(join(home, 'config', 'config.json'), 'utf8')).hosts[server.url];
      const r = await cli(['logout']);
      ok(r);
      assert.match(r.stdout, /revoked/);
      assert.ok(!existsSync(join(home, 'config', 'config.json')));
      assert.equal((await new Api(server.url, saved.token).get('/api/v1/me')).status, 401);
      const after = await cli(['projects', 'list']);
      assert.equal(after.code, 1);
      ok(await cli(['logout']), 'logout twice');
    });

    it('no value appears in any CLI output or in the server output', () => {
      const out = printed.join('\n');
      const server_ = server.output();
      for (const v of values) {
        for (const piece of v.split('\n').filter((p) => p.length >= 12)) {
          assert.ok(!out.includes(piece), `a value appeared in CLI output: ${piece.slice(0, 8)}…`);
          assert.ok(!server_.includes(piece), `a value appeared in server output: ${piece.slice(0, 8)}…`);
        }
      }
    });
  });
}

describe('keyloft CLI, local behaviour (no server needed)', () => {
  const home = mkdtempSync(join(tmpdir(), 'keyloft-cli-local-'));
  const cli = makeRunner(join(home, 'config'));
  const project = 'shop';
  after(() => rmSync(home, { recursive: true, force: true }));

  it('a command line that does not parse exits 2 with one line naming the problem', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['no-such-command'], /^error: unknown command 'no-such-command' \(see --help\)\n$/],
      [['secrets', 'list', '--scope', 'staging', '--project', project], /^error: option '--scope <scope>' argument 'staging' is invalid\. .*\n$/],
      [['secrets', 'set', '--project', project], /^error: --scope is required\n$/],
      [['projects', 'create', '--slug', 'x'], /^error: --name is required\n$/],
    ];
    for (const [args, line] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, line);
    }
  });

  it('usage errors exit 1 with a message on stderr', async () => {
    const cases: string[][] = [
      ['secrets', 'set', '--project', project, '--scope', 'production', 'NOT_AN_ASSIGNMENT'],
      ['secrets', 'set', '--project', project, '--scope', 'production', '1BAD=x'],
      ['secrets', 'set', '--project', project, '--scope', 'production', 'A=-', 'B=-'],
      ['secrets', 'set', '--project', project, '--scope', 'production', 'A=@/no/such/file'],
      ['completion', 'fish'],
      ['secrets', 'set', '--project', project, '--scope', 'production', 'EMPTY_STDIN=-'],
      ['login'],
    ];
    for (const args of cases) {
      const r = await cli(args);
      assert.equal(r.code, 1, `${args.join(' ')} → ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.length > 0, `${args.join(' ')} printed no error`);
    }
    const r = await cli(['secrets', 'set', '--project', project, '--scope', 'production', 'NOT_AN_ASSIGNMENT']);
    assert.doesNotMatch(r.stderr, /NOT_AN_ASSIGNMENT/, 'an argument that may be a value is not echoed');
    const empty = await cli(['secrets', 'set', '--project', project, '--scope', 'production', 'EMPTY_STDIN=-'], { stdin: '' });
    assert.match(empty.stderr, /standard input was empty/);
  });

  it('completion prints bash and zsh scripts that know every command', async () => {
    const bash = await cli(['completion', 'bash']);
    ok(bash);
    assert.match(bash.stdout, /complete -o default -F _keyloft keyloft/);
    const syntax = spawnSync('bash', ['-n'], { input: bash.stdout });
    assert.equal(syntax.status, 0, syntax.stderr?.toString());
    const complete = (line: string) => {
      const words = line.split(' ');
      const script = `${bash.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _keyloft; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      return r.stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('keyloft sec'), ['secrets']);
    assert.ok(complete('keyloft secrets ').includes('import'));
    assert.deepEqual(complete('keyloft secrets list --scope p').sort(), ['preview', 'production']);
    assert.ok(complete('keyloft secrets set --project shop --').includes('--scope'));
    assert.ok(complete('keyloft projects ').includes('create'));
    const zsh = await cli(['completion', 'zsh']);
    ok(zsh);
    assert.match(zsh.stdout, /^#compdef keyloft/);
    assert.match(zsh.stdout, /compdef _keyloft keyloft/);
    if (spawnSync('zsh', ['-c', 'true']).status === 0) assert.equal(spawnSync('zsh', ['-n'], { input: zsh.stdout }).status, 0);
  });

  it('every command has --help with examples', async () => {
    const commands = [
      ['login'],
      ['logout'],
      ['whoami'],
      ['projects'],
      ['projects', 'list'],
      ['projects', 'create'],
      ['projects', 'show'],
      ['secrets'],
      ['secrets', 'list'],
      ['secrets', 'set'],
      ['secrets', 'unset'],
      ['secrets', 'import'],
      ['secrets', 'history'],
      ['link'],
      ['completion'],
    ];
    for (const c of commands) {
      const r = await cli([...c, '--help']);
      ok(r, `${c.join(' ')} --help`);
      assert.match(r.stdout, /Examples?:/, `${c.join(' ')} --help has examples`);
    }
    const set = await cli(['secrets', 'set', '--help']);
    assert.match(set.stdout, /NAME=-/);
    assert.match(set.stdout, /NAME=@FILE/);
  });
});

describe('keyloft CLI on a terminal', { skip: hasScript ? false : 'SKIPPED: no `script` command to provide a pseudo-terminal' }, () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  let home: string;
  let configDir: string;
  const project = `tty-${rnd()}`;

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    home = mkdtempSync(join(tmpdir(), 'keyloft-cli-tty-'));
    configDir = join(home, 'config');
    assert.equal((await admin.post('/api/v1/projects', { slug: project, name: 'TTY' })).status, 201);
  });

  after(async () => {
    await server?.stop();
    await store?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('login asks for email and password; the password is not echoed', async () => {
    const r = await onTerminal(
      configDir,
      ['login', '--url', server.url],
      [
        [/Email: /, `${ADMIN_EMAIL}\r`],
        [/Password: /, `${ADMIN_PASSWORD}\r`],
      ],
    );
    assert.equal(r.code, 0, r.screen);
    assert.ok(r.screen.includes(ADMIN_EMAIL), 'the email is echoed');
    assert.ok(!r.screen.includes(ADMIN_PASSWORD), 'the password is not echoed');
    assert.match(r.screen, /Logged in to/);
    assert.equal(statSync(join(configDir, 'config.json')).mode & 0o777, 0o600);
  });

  it('secrets set NAME=- asks for the value without echo', async () => {
    const v = secret('tty');
    const r = await onTerminal(
      configDir,
      ['secrets', 'set', '--project', project, '--scope', 'production', 'TTY_VALUE=-'],
      [[/Value for TTY_VALUE \(input hidden\): /, `${v}\r`]],
    );
    assert.equal(r.code, 0, r.screen);
    assert.ok(!r.screen.includes(v), 'the value is not echoed');
    const list = await admin.get(`/api/v1/projects/${project}/secrets?scope=production`);
    const got = (list.body.secrets as any[]).find((s) => s.name === 'TTY_VALUE');
    const ref = await admin.put(`/api/v1/projects/${project}/secrets/production/TTY_REF`, { value: v });
    assert.equal(got.digest, ref.body.secret.digest);
  });

  it('secrets unset asks first: "n" keeps the secret (exit 1), "y" deletes it', async () => {
    const no = await onTerminal(configDir, ['secrets', 'unset', '--project', project, '--scope', 'production', 'TTY_VALUE'], [[/\[y\/N\] /, 'n\r']]);
    assert.equal(no.code, 1, no.screen);
    assert.match(no.screen, /nothing deleted/);
    let list = await admin.get(`/api/v1/projects/${project}/secrets?scope=production`);
    assert.ok((list.body.secrets as any[]).some((s) => s.name === 'TTY_VALUE' && !s.deleted));
    const yes = await onTerminal(configDir, ['secrets', 'unset', '--project', project, '--scope', 'production', 'TTY_VALUE'], [[/\[y\/N\] /, 'y\r']]);
    assert.equal(yes.code, 0, yes.screen);
    list = await admin.get(`/api/v1/projects/${project}/secrets?scope=production`);
    assert.ok(!(list.body.secrets as any[]).some((s) => s.name === 'TTY_VALUE' && !s.deleted));
  });

  it('tables are coloured on a terminal, and not with NO_COLOR', async () => {
    const coloured = await onTerminal(configDir, ['projects', 'list'], []);
    assert.equal(coloured.code, 0, coloured.screen);
    assert.match(coloured.screen, /\u001b\[1mSLUG/);
    const plain = await onTerminal(configDir, ['projects', 'list'], [], { NO_COLOR: '1' });
    assert.equal(plain.code, 0, plain.screen);
    assert.ok(plain.screen.includes(project));
    assert.doesNotMatch(plain.screen, /\u001b\[\d+m/);
  });

  it('no value appears on the terminal or in the server output', () => {
    for (const v of values) assert.ok(!server.output().includes(v));
  });
});

describe('keyloft CLI without a server', () => {
  it('a stopped server gives exit 3', async () => {
    const store = await createStore('sqlite');
    const server = await startServer(store);
    const home = mkdtempSync(join(tmpdir(), 'keyloft-cli-'));
    try {
      const api = await bootstrap(server);
      const cli = makeRunner(home);
      ok(await cli(['login', '--url', server.url, '--token-stdin'], { stdin: api.token! }));
      await server.stop();
      for (const args of [['projects', 'list'], ['secrets', 'list', '--project', 'shop'], ['whoami']]) {
        const r = await cli(args);
        assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /cannot reach the keyloft server at http:\/\/127\.0\.0\.1:\d+/);
      }
      const v = secret('unreachable');
      const r = await cli(['secrets', 'set', '--project', 'shop', '--scope', 'production', 'X=-'], { stdin: v });
      assert.equal(r.code, 3);
      assert.ok(!r.stderr.includes(v) && !r.stdout.includes(v));
    } finally {
      await server.stop();
      await store.cleanup();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('colour only on a terminal and never with NO_COLOR', async () => {
    const { useColor, paint } = await import('../../src/cli/output.js');
    assert.equal(useColor({ isTTY: true, write: () => true }, {}), true);
    assert.equal(useColor({ isTTY: false, write: () => true }, {}), false);
    assert.equal(useColor({ isTTY: true, write: () => true }, { NO_COLOR: '1' }), false);
    assert.equal(useColor({ isTTY: true, write: () => true }, { TERM: 'dumb' }), false);
    assert.equal(useColor({ isTTY: true, write: () => true }, { NO_COLOR: '' }), true);
    assert.equal(paint('x', 'red', { isTTY: false, write: () => true }), 'x');
  });

  it('resolveTarget: flags > env > file', async () => {
    const { resolveTarget, writeConfig } = await import('../../src/cli/config-file.js');
    const dir = mkdtempSync(join(tmpdir(), 'keyloft-cfg-'));
    try {
      const env = { KEYLOFT_CONFIG_DIR: dir };
      assert.throws(
        () => resolveTarget({}, env),
        (e: any) => e.exitCode === 1,
      );
      writeConfig({ url: 'http://file.example', token: 'klt_file' }, env);
      assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
      assert.deepEqual(resolveTarget({}, env).token, 'klt_file');
      const e2 = { ...env, KEYLOFT_URL: 'http://env.example/', KEYLOFT_TOKEN: 'klt_env' };
      assert.equal(resolveTarget({}, e2).url, 'http://env.example');
      assert.equal(resolveTarget({}, e2).token, 'klt_env');
      assert.equal(resolveTarget({ token: 'klt_flag' }, e2).token, 'klt_flag');
      assert.equal(resolveTarget({ url: 'https://flag.example' }, e2).url, 'https://flag.example');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
