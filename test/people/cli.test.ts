// `keyloft members invite`, `keyloft invitations list|revoke` and `keyloft audit [--since]` against
// a real server (the CLI as a subprocess, with KEYLOFT_URL / KEYLOFT_TOKEN).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Running } from '../../src/cli/serve.js';
import { parseSince } from '../../src/cli/invitations.js';
import type { Api } from '../helpers/client.js';
import { createStore, KEYLOFT_BIN, type TestStore } from '../helpers/server.js';
import { acceptAnon, startPeopleServer, tokenOf } from './support.js';

describe('CLI: members invite, invitations list|revoke, audit', () => {
  let store: TestStore;
  let running: Running;
  let url: string;
  let admin: Api;
  let home: string;
  const slug = `cli-${randomBytes(3).toString('hex')}`;

  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) env[k] = v;
    Object.assign(env, { KEYLOFT_CONFIG_DIR: join(home, 'config'), KEYLOFT_URL: url, KEYLOFT_TOKEN: admin.token!, NO_COLOR: '1' });
    const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'keyloft-cli-people-'));
    store = await createStore('sqlite');
    ({ running, url, admin } = await startPeopleServer(store));
    assert.equal((await admin.post('/api/v1/projects', { slug, name: 'CLI People' })).status, 201);
  });
  after(async () => {
    await running?.close();
    await store?.cleanup();
    rmSync(home, { recursive: true, force: true });
  });

  it('invites (the link printed once), lists pending invitations without links, revokes one', async () => {
    const inv = await cli(['members', 'invite', '--project', slug, '--email', 'Dana@Example.com', '--role', 'member']);
    assert.equal(inv.code, 0, inv.stderr);
    const link = /(http:\/\/\S+\/invitations\/klinv_\S+)/.exec(inv.stdout)?.[1];
    assert.ok(link, inv.stdout);
    assert.match(inv.stdout, /Invited dana@example\.com to .* as member/);
    const json = await cli(['members', 'invite', '--project', slug, '--email', 'sam@example.com', '--role', 'viewer', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const sam = JSON.parse(json.stdout) as { id: string; url: string };

    const list = await cli(['invitations', 'list', '--project', slug]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /dana@example\.com/);
    assert.match(list.stdout, /sam@example\.com/);
    assert.ok(!list.stdout.includes('klinv_'), 'no link in the list');

    const revoke = await cli(['invitations', 'revoke', '--project', slug, sam.id]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal((await acceptAnon(url, tokenOf(sam.url), { password: 'a long new password' })).status, 410);
    assert.equal((await acceptAnon(url, tokenOf(link), { password: 'a long new password' })).status, 200);
    const again = await cli(['invitations', 'revoke', '--project', slug, sam.id]);
    assert.equal(again.code, 2, 'refused by the server');
    assert.match(again.stderr, /no pending invitation/);
  });

  it('refuses a bad role before calling the server', async () => {
    const r = await cli(['members', 'invite', '--project', slug, '--email', 'x@example.com', '--role', 'owner']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--role must be one of admin, member, viewer/);
  });

  it('audit prints the log, and --since keeps only recent events', async () => {
    const all = await cli(['audit', '--project', slug]);
    assert.equal(all.code, 0, all.stderr);
    for (const action of ['project.created', 'invitation.created', 'invitation.revoked', 'invitation.accepted', 'member.added'])
      assert.match(all.stdout, new RegExp(action.replace('.', '\\.')));
    const recent = await cli(['audit', '--project', slug, '--since', '1h', '--json']);
    assert.equal(recent.code, 0, recent.stderr);
    const events = (JSON.parse(recent.stdout) as { events: Array<{ action: string }> }).events;
    assert.ok(events.length >= 5);
    const future = await cli(['audit', '--project', slug, '--since', new Date(Date.now() + 86_400_000).toISOString().slice(0, 10), '--json']);
    assert.deepEqual(JSON.parse(future.stdout), { events: [] });
    const bad = await cli(['audit', '--project', slug, '--since', 'yesterday']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--since must be a date/);
  });

  it('parses --since as a duration or a date', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    assert.equal(parseSince('30m', now), now - 30 * 60_000);
    assert.equal(parseSince('7d', now), now - 7 * 86_400_000);
    assert.equal(parseSince('2026-11-01', now), Date.parse('2026-11-01'));
    assert.throws(() => parseSince('7 days', now), /--since/);
  });
});
