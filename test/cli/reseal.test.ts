/**
 * `keyloft secrets restore` and `keyloft secrets copy` (issue 9), run as the real binary against a
 * real server (role all, which holds the keys): restore makes a new version with the old digest,
 * copy's dry run writes nothing, conflicts are skipped unless --overwrite; exit codes 0/1/2/3;
 * no value in any CLI output or in the server's output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Api, bootstrap, createUser } from '../helpers/client.js';
import { seedResealProject } from '../helpers/fixtures.js';
import { createStore, dialects, KEYLOFT_BIN, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const rnd = () => randomBytes(6).toString('hex');

/** Every value this file writes: none may appear in any CLI output or the server's output. */
const values: string[] = [];
const secret = (label: string) => {
  const v = `${label}_${rnd()}${rnd()}`;
  values.push(v);
  return v;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Everything the CLI printed, scanned for values at the end. */
const printed: string[] = [];

function ok(r: Run, what = 'command'): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}
function json(r: Run): any {
  ok(r);
  return JSON.parse(r.stdout);
}
/** A refusal: the exit code, nothing on stdout, a message on stderr. */
function refused(r: Run, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.match(r.stderr, pattern);
}

for (const d of await dialects()) {
  describe(`keyloft secrets restore and copy (${d.name})`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let home: string;
    const project = `rs-${rnd()}`;
    const path = (p: string) => `/api/v1/projects/${project}${p}`;
    const V = {
      a1: secret('a1'),
      a2: secret('a2'),
      p1: secret('p1'),
      p2: secret('p2'),
      prev2: secret('prev2'),
      pr1: secret('pr42a'),
      pr2: secret('pr42b'),
      dflt: secret('dflt'),
    };

    /** The CLI with KEYLOFT_URL/KEYLOFT_TOKEN (no login), a private config dir and no colour. */
    function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
      const e: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) e[k] = v;
      Object.assign(e, { KEYLOFT_CONFIG_DIR: join(home, 'config'), KEYLOFT_URL: server.url, KEYLOFT_TOKEN: admin.token!, NO_COLOR: '1' }, env);
      const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env: e, cwd: home, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      child.stdin.on('error', () => {});
      child.stdin.end();
      return new Promise((resolve) =>
        child.on('close', (code) => {
          printed.push(stdout, stderr);
          resolve({ code, stdout, stderr });
        }),
      );
    }

    const versions = async (scope: string, name: string, pr?: number) => {
      const r = await admin.get(path(`/secrets/${scope}/${name}/versions${pr ? `?pr=${pr}` : ''}`));
      assert.equal(r.status, 200, r.text);
      return r.body.versions as Array<{ version: number; kind: string; digest: string | null }>;
    };
    const list = async (scope: string) => {
      const r = await admin.get(path(`/secrets?scope=${scope}`));
      assert.equal(r.status, 200, r.text);
      return r.body.secrets as Array<{ name: string; pr?: number; version: number; digest: string; deleted: boolean }>;
    };
    const released = async (environment: 'production' | 'preview', pr?: number) => {
      const dep = await admin.post(path('/deployments'), { environment, ...(pr ? { pr } : {}) });
      assert.equal(dep.status, 201, dep.text);
      const r = await admin.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
      assert.equal(r.status, 200, r.text);
      const done = await admin.with(dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, { status: 'succeeded' });
      assert.equal(done.status, 200, done.text);
      return r.body as { runtime: Record<string, string> };
    };

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      home = mkdtempSync(join(tmpdir(), 'keyloft-cli-reseal-'));
      await seedResealProject(admin, { slug: project, name: 'Reseal CLI' }, { token: V.a1, p1: V.p1, p2: V.p2, prev2: V.prev2 }, [
        { name: 'API_URL', scope: 'preview', value: V.dflt },
      ]);
    });

    after(async () => {
      await server?.stop();
      const out = server?.output() ?? '';
      for (const v of values) {
        assert.ok(!out.includes(v) && !out.includes(b64(v)), 'a value reached the server output');
        for (const p of printed) assert.ok(!p.includes(v) && !p.includes(b64(v)), 'a value reached the CLI output');
      }
      await store?.cleanup();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it('--help of restore and copy explains them with examples; the completion knows them', async () => {
      const r = await cli(['secrets', 'restore', '--help']);
      ok(r);
      assert.match(r.stdout, /--version <n>/);
      assert.match(r.stdout, /Examples:\n\s+keyloft secrets (history|restore)/);
      const c = await cli(['secrets', 'copy', '--help']);
      ok(c);
      for (const o of ['--from', '--to', '--overwrite', '--dry-run', '--json', '--project']) assert.ok(c.stdout.includes(o), `copy --help names ${o}`);
      assert.match(c.stdout, /Examples:\n\s+keyloft secrets copy/);
      const top = await cli(['secrets', '--help']);
      assert.match(top.stdout, /restore/);
      assert.match(top.stdout, /copy/);
      const comp = await cli(['completion', 'bash']);
      ok(comp);
      assert.match(comp.stdout, /restore/);
      assert.match(comp.stdout, /--overwrite/);
      // The root --version still prints the CLI's version.
      const v = await cli(['--version']);
      ok(v);
      assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    });

    it("restore makes a new version whose digest equals the old version's; the released value is the old one", async () => {
      assert.equal((await admin.put(path('/secrets/production/TOKEN'), { value: V.a2 })).status, 200);
      const before = await versions('production', 'TOKEN');
      assert.deepEqual(
        before.map((v) => v.version),
        [2, 1],
      );
      const r = await cli(['secrets', 'restore', 'TOKEN', '--version', '1', '--project', project, '--scope', 'production']);
      ok(r, 'restore');
      assert.match(r.stdout, /TOKEN in .*\/production: restored v1 as v3 \(digest [0-9a-f]+/);
      assert.ok(r.stdout.includes(before[1]!.digest!), "the printed digest is the old version's");
      assert.match(r.stdout, /next deployment/);
      const after = await versions('production', 'TOKEN');
      assert.equal(after[0]!.version, 3);
      assert.equal(after[0]!.kind, 'restore');
      assert.equal(after[0]!.digest, before.find((v) => v.version === 1)!.digest);
      assert.notEqual(after[0]!.digest, before[0]!.digest);
      assert.equal((await released('production')).runtime.TOKEN, V.a1);

      // --json, and the project from KEYLOFT_PROJECT.
      const j = json(await cli(['secrets', 'restore', 'TOKEN', '--version', '2', '--scope', 'production', '--json'], { KEYLOFT_PROJECT: project }));
      assert.equal(j.project, project);
      assert.equal(j.name, 'TOKEN');
      assert.equal(j.restoredFrom, 2);
      assert.equal(j.version, 4);
      assert.equal(j.secret.digest, before[0]!.digest);
      assert.equal(j.secret.version, 4);
      assert.equal('value' in j.secret, false);
    });

    it('restore --pr restores a version of the override only; the preview default is left alone', async () => {
      assert.equal((await admin.put(path('/secrets/preview/API_URL?pr=42'), { value: V.pr1 })).status, 201);
      assert.equal((await admin.put(path('/secrets/preview/API_URL?pr=42'), { value: V.pr2 })).status, 200);
      const override = await versions('preview', 'API_URL', 42);
      const dflt = await versions('preview', 'API_URL');
      const r = await cli(['secrets', 'restore', 'API_URL', '--version', '1', '--project', project, '--scope', 'preview', '--pr', '42', '--json']);
      const j = json(r);
      assert.equal(j.pr, 42);
      assert.equal(j.version, 3);
      assert.equal(j.secret.pr, 42);
      assert.equal(j.secret.digest, override.find((v) => v.version === 1)!.digest);
      assert.deepEqual(await versions('preview', 'API_URL'), dflt, 'the preview default is unchanged');
      const text = await cli(['secrets', 'restore', 'API_URL', '--version', '2', '--project', project, '--scope', 'preview', '--pr', '42']);
      ok(text);
      assert.match(text.stdout, /API_URL in .*\/preview \(PR 42\): restored v2 as v4/);
      assert.equal((await released('preview', 42)).runtime.API_URL, V.pr2);
      assert.equal((await released('preview', 43)).runtime.API_URL, V.dflt);
    });

    it('restore refusals: exit 1 for usage, 2 for what the server refuses, 3 when unreachable; nothing written', async () => {
      assert.equal((await admin.delete(path('/secrets/production/P1'))).status, 200);
      const tomb = (await versions('production', 'P1'))[0]!;
      assert.equal(tomb.kind, 'delete');
      const base = ['secrets', 'restore', '--project', project, '--scope', 'production'];
      refused(
        await cli([...base, 'P1', '--version', String(tomb.version)]),
        2,
        /^keyloft: P1: server refused \(400 [a-z_]+\): .*tombstone.*\(field: version\)/,
      );
      refused(await cli([...base, 'P1', '--version', '99']), 2, /server refused \(404/);
      refused(await cli([...base, 'NOPE', '--version', '1']), 2, /server refused \(404/);
      // A command line commander cannot parse exits 2 with one line (cli/main.ts); keyloft's own usage checks exit 1.
      refused(await cli([...base, 'P1']), 2, /--version is required/);
      refused(await cli([...base, 'P1', '--version', '0']), 2, /must be a version number/);
      refused(await cli([...base, 'P1', '--version', 'x1']), 2, /must be a version number/);
      refused(await cli([...base, '1BAD', '--version', '1']), 1, /not a secret name/);
      refused(await cli([...base, 'P1', '--version', '1', '--pr', '3']), 1, /--pr is only for --scope preview/);
      refused(await cli(['secrets', 'restore', 'P1', '--version', '1', '--scope', 'production']), 1, /project/);
      refused(await cli([...base, 'P1', '--version', '1'], { KEYLOFT_URL: 'http://127.0.0.1:9' }), 3, /cannot reach the keyloft server/);
      // A viewer is refused by the server.
      const viewer = await createUser(server, admin, `viewer-${rnd()}@example.com`);
      assert.equal((await admin.post(path('/members'), { email: (await viewer.get('/api/v1/me')).body.email, role: 'viewer' })).status, 201);
      refused(await cli([...base, 'TOKEN', '--version', '1'], { KEYLOFT_TOKEN: viewer.token! }), 2, /server refused \(403/);
      assert.equal((await versions('production', 'P1'))[0]!.version, tomb.version, 'nothing was written');
      assert.equal((await versions('production', 'TOKEN'))[0]!.version, 4, 'nothing was written');
      // Bring P1 back for the copy tests.
      ok(await cli([...base, 'P1', '--version', '1']));
    });

    it('copy --dry-run lists what would be copied and skipped, with digests, and writes nothing', async () => {
      const before = await list('preview');
      const r = await cli(['secrets', 'copy', '--project', project, '--from', 'production', '--to', 'preview', 'P1', 'P2', '--dry-run']);
      ok(r, 'copy --dry-run');
      const p1 = (await list('production')).find((s) => s.name === 'P1')!;
      assert.match(r.stdout, new RegExp(`^\\+ P1  would copy \\(added, digest ${p1.digest}\\)$`, 'm'));
      assert.match(r.stdout, /^= P2  skipped \(exists in the target; --overwrite replaces it\)$/m);
      assert.match(r.stdout, /1 to copy, 1 skipped; dry run: nothing was written/);
      const j = json(await cli(['secrets', 'copy', '--project', project, '--from', 'production', '--to', 'preview', '--dry-run', '--json']));
      assert.equal(j.dryRun, true);
      assert.equal(j.written, 0);
      assert.deepEqual(
        j.copied.map((c: { name: string }) => c.name),
        ['P1', 'TOKEN'],
      );
      assert.deepEqual(j.skipped, [{ name: 'P2', reason: 'exists' }]);
      assert.deepEqual(await list('preview'), before, 'the dry run wrote nothing');
    });

    it('copy skips conflicts unless --overwrite; unchanged ones are skipped as such', async () => {
      const r = await cli(['secrets', 'copy', '--project', project, '--from', 'production', '--to', 'preview', 'P1', 'P2']);
      ok(r, 'copy');
      assert.match(r.stdout, /^\+ P1  copied \(added, digest [0-9a-f]+\)$/m);
      assert.match(r.stdout, /^= P2  skipped \(exists/m);
      assert.match(r.stdout, /copied 1 secret, 1 skipped; changes apply at the next deployment/);
      let preview = await released('preview', 7);
      assert.equal(preview.runtime.P1, V.p1);
      assert.equal(preview.runtime.P2, V.prev2, 'the conflict was kept');

      const o = json(await cli(['secrets', 'copy', '--project', project, '--from', 'production', '--to', 'preview', 'P1', 'P2', '--overwrite', '--json']));
      assert.equal(o.dryRun, false);
      assert.equal(o.written, 1);
      assert.deepEqual(
        o.copied.map((c: { name: string; change: string }) => `${c.name}:${c.change}`),
        ['P2:changed'],
      );
      assert.deepEqual(o.skipped, [{ name: 'P1', reason: 'unchanged' }]);
      const prodP2 = (await list('production')).find((s) => s.name === 'P2')!;
      assert.equal(o.copied[0].digest, prodP2.digest);
      assert.equal((await list('preview')).find((s) => s.name === 'P2' && !s.pr)!.digest, prodP2.digest);
      preview = await released('preview', 7);
      assert.equal(preview.runtime.P2, V.p2);
      const again = await cli(['secrets', 'copy', '--project', project, '--from', 'production', '--to', 'preview', 'P1', 'P2', '--overwrite']);
      ok(again);
      assert.match(again.stdout, /^= P1  skipped \(unchanged/m);
      assert.match(again.stdout, /copied 0 secrets, 2 skipped$/m);
    });

    it('copy refusals: exit 1 for usage, 2 for what the server refuses (all or nothing), 3 when unreachable', async () => {
      const before = await list('build');
      const base = ['secrets', 'copy', '--project', project];
      refused(await cli([...base, '--from', 'production', '--to', 'production']), 1, /--from and --to must be different/);
      refused(await cli([...base, '--to', 'preview']), 2, /--from is required/);
      refused(await cli([...base, '--from', 'prod', '--to', 'preview']), 2, /Allowed choices are production, preview, build/);
      refused(await cli([...base, '--from', 'production', '--to', 'build', 'P1', 'bad-name']), 1, /not a secret name/);
      refused(
        await cli([...base, '--from', 'production', '--to', 'build', 'P1', 'MISSING']),
        2,
        /server refused \(404 [a-z_]+\): MISSING not found in production; nothing was copied \(field: names\)/,
      );
      refused(await cli([...base, '--from', 'production', '--to', 'build'], { KEYLOFT_URL: 'http://127.0.0.1:9' }), 3, /cannot reach the keyloft server/);
      assert.deepEqual(await list('build'), before, 'nothing was copied');
      const all = await cli([...base, '--from', 'production', '--to', 'build']);
      ok(all);
      assert.match(all.stdout, /copied 3 secrets, 0 skipped/);
      assert.deepEqual((await list('build')).map((s) => s.name).sort(), ['P1', 'P2', 'TOKEN']);
    });
  });
}
