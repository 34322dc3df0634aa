/**
 * `keyloft members` and `keyloft deploy-keys` against a real server (sqlite): roles, the release grant,
 * deploy keys shown once on stdout and never in a process's argument list.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_EMAIL, type Api, bootstrap, createUser } from '../helpers/client.js';
import { createStore, KEYLOFT_BIN, startServer, type TestServer, type TestStore } from '../helpers/server.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  cmdline: string | undefined;
}

describe('keyloft members and deploy-keys (sqlite)', () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  let member: Api;
  let configDir: string;
  const slug = 'cli-members';
  const cmdlines: string[] = [];

  const cli = (args: string[], token = admin.token!): Promise<Run> => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) env[k] = v;
    Object.assign(env, { KEYLOFT_CONFIG_DIR: configDir, KEYLOFT_URL: server.url, KEYLOFT_TOKEN: token, NO_COLOR: '1' });
    const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let cmdline: string | undefined;
    try {
      cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      cmdlines.push(cmdline);
    } catch {
      cmdline = undefined;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, cmdline })));
  };
  const ok = async (args: string[], token?: string) => {
    const r = await cli(args, token);
    assert.equal(r.code, 0, `keyloft ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'keyloft-cli-members-'));
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    assert.equal(
      (await admin.post('/api/v1/projects', { slug, name: 'CLI members', secrets: [{ name: 'DB_URL', scope: 'production', value: 'cli-members-value-1' }] }))
        .status,
      201,
    );
    member = await createUser(server, admin, 'ana@example.com');
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it('members add, set-role --release / --no-release, list --json, remove; only admins change anything', async () => {
    const added = await ok(['members', 'add', 'ana@example.com', '--role', 'member', '--project', slug]);
    assert.match(added.stdout, /Added ana@example\.com/);
    assert.match(added.stdout, /Release grant:\s+no/);
    let list = JSON.parse((await ok(['members', 'list', '--project', slug, '--json'])).stdout) as {
      members: Array<{ email: string; role: string; release: boolean }>;
    };
    assert.deepEqual(
      list.members.map((m) => [m.email, m.role, m.release]),
      [
        [ADMIN_EMAIL, 'admin', false],
        ['ana@example.com', 'member', false],
      ],
    );
    // Without the grant the member's own token cannot start a deployment.
    const refused = await cli(['deploy', 'start', '--project', slug, '--env', 'production'], member.token!);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /release grant/);
    // A member cannot grant themselves.
    const self = await cli(['members', 'set-role', 'ana@example.com', '--release', '--project', slug], member.token!);
    assert.notEqual(self.code, 0, self.stdout);

    const granted = await ok(['members', 'set-role', 'ana@example.com', '--release', '--project', slug]);
    assert.match(granted.stdout, /Release grant:\s+yes \(can read values by starting a deployment\)/);
    const started = await ok(['deploy', 'start', '--project', slug, '--env', 'production', '--json'], member.token!);
    const dep = JSON.parse(started.stdout) as { id: string; token: string; startedBy: { kind: string; name: string } };
    assert.deepEqual(dep.startedBy, { kind: 'person', name: 'ana@example.com' });
    const shown = await ok(['deploy', 'show', dep.id, '--project', slug]);
    assert.match(shown.stdout, /by PERSON ana@example\.com \(release grant, not the pipeline\)/);
    assert.equal((await admin.with(dep.token).post(`/api/v1/deployments/${dep.id}/complete`, { status: 'succeeded' })).status, 200);

    const changed = JSON.parse((await ok(['members', 'set-role', 'ana@example.com', 'viewer', '--no-release', '--project', slug, '--json'])).stdout) as {
      member: { role: string; release: boolean };
    };
    assert.deepEqual([changed.member.role, changed.member.release], ['viewer', false]);
    const nothing = await cli(['members', 'set-role', 'ana@example.com', '--project', slug]);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /give a role, --release or --no-release/);
    const badRole = await cli(['members', 'set-role', 'ana@example.com', 'owner', '--project', slug]);
    assert.equal(badRole.code, 1);
    assert.match(badRole.stderr, /role must be one of admin, member, viewer/);

    await ok(['members', 'remove', 'ana@example.com', '--project', slug]);
    list = JSON.parse((await ok(['members', 'list', '--project', slug, '--json'])).stdout);
    assert.deepEqual(
      list.members.map((m) => m.email),
      [ADMIN_EMAIL],
    );
  });

  it('deploy-keys create prints the key once on stdout only, list never shows it, revoke stops it', async () => {
    // Creating a key needs the release grant (the key starts deployments); the admin gives it to themselves.
    const refused = await cli(['deploy-keys', 'create', '--name', 'ci', '--project', slug]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /release_not_granted/);
    await ok(['members', 'set-role', ADMIN_EMAIL, '--release', '--project', slug]);
    const created = await ok(['deploy-keys', 'create', '--name', 'ci', '--project', slug]);
    const key = created.stdout.trim();
    assert.match(key, /^kldk_\S+$/, 'stdout holds the key alone');
    assert.ok(!created.stderr.includes(key), 'the key is not repeated on stderr');
    assert.match(created.stderr, /shown only this once/);
    const listed = await ok(['deploy-keys', 'list', '--project', slug]);
    assert.match(listed.stdout, /ci/);
    const json = JSON.parse((await ok(['deploy-keys', 'list', '--project', slug, '--json'])).stdout) as { deployKeys: Array<{ id: string; name: string }> };
    assert.ok(!JSON.stringify(json).includes(key), 'list never shows the key');
    const id = json.deployKeys.find((k) => k.name === 'ci')!.id;
    // The key starts deployments without any grant.
    const s = await admin.with(key).post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
    assert.equal(s.status, 201, s.text);
    assert.deepEqual(s.body.startedBy, { kind: 'deploy_key', name: 'ci' });
    await ok(['deploy-keys', 'revoke', id, '--project', slug]);
    assert.equal((await admin.with(key).post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' })).status, 401);
    // A member cannot list or create keys.
    assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'ana@example.com', role: 'member' })).status, 201);
    assert.notEqual((await cli(['deploy-keys', 'list', '--project', slug], member.token!)).code, 0);
    for (const c of cmdlines) assert.ok(!c.includes(key), 'no argument list holds the deploy key');
  });

  it('--help names the options and the release warning; completion knows the commands', async () => {
    const h = await ok(['members', '--help']);
    assert.match(h.stdout, /can read values by starting a deployment/);
    for (const sub of ['list', 'add', 'set-role', 'remove']) assert.ok(h.stdout.includes(sub), `members --help names ${sub}`);
    const sr = await ok(['members', 'set-role', '--help']);
    for (const o of ['--release', '--no-release', '--project', '--json']) assert.ok(sr.stdout.includes(o), `set-role --help names ${o}`);
    const dk = await ok(['deploy-keys', '--help']);
    for (const sub of ['list', 'create', 'revoke']) assert.ok(dk.stdout.includes(sub), `deploy-keys --help names ${sub}`);
    const bash = await ok(['completion', 'bash']);
    for (const w of ['members', 'deploy-keys', 'set-role', '--no-release']) assert.ok(bash.stdout.includes(w), `bash completion knows ${w}`);
  });
});
