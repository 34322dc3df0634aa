import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, dialects, expectStartFailure, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease, runCli, writeFigures } from './support.js';

const BASE_PROJECTS = ['rot-a', 'rot-b', 'rot-c', 'rot-d'];
const SCOPES = ['production', 'preview', 'build'] as const;

for (const d of await dialects()) {
  describe(`master and project key rotation (${d.name})`, { skip: d.skip }, () => {
    const PROJECTS = [...BASE_PROJECTS];
    let store: TestStore;
    let server: TestServer;
    let api: Api;
    const expected = new Map<string, Record<string, string>>(); // slug → production values
    const keyFile = () => join(store.dataDir, 'master.key');
    const figures = { rowsRewrapped: 0, interruptions: 0, killed: 0, valuesChecked: 0, valuesReadable: 0, versionsResealed: 0 };

    const checkAll = async (label: string) => {
      for (const slug of PROJECTS) {
        const { release } = await deployAndRelease(api, slug);
        assert.equal(release.status, 200, `${label}: release of ${slug} failed: ${release.text}`);
        const want = expected.get(slug)!;
        figures.valuesChecked += Object.keys(want).length;
        assert.deepEqual(release.body.runtime, want, `${label}: values of ${slug}`);
        figures.valuesReadable += Object.keys(want).length;
      }
    };

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      api = await bootstrap(server);
      for (const slug of PROJECTS) {
        const values: Record<string, string> = {};
        const secrets = [];
        for (let i = 0; i < 4; i++) {
          values[`KEY_${i}`] = `v-${slug}-${i}-${randomBytes(6).toString('hex')}`;
          for (const scope of SCOPES) secrets.push({ name: `KEY_${i}`, scope, value: scope === 'production' ? values[`KEY_${i}`] : `other-${i}` });
        }
        const r = await api.post('/api/v1/projects', { slug, name: slug, secrets });
        assert.equal(r.status, 201, r.text);
        // a second version of one secret, so history exists
        values.KEY_0 = `${values.KEY_0}-v2`;
        assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/KEY_0`, { value: values.KEY_0 })).status, 200);
        expected.set(slug, values);
      }
    });
    after(async () => {
      await server?.stop();
      writeFigures(`rotation-${d.name}`, figures);
      await store?.cleanup();
    });

    it('keys status names the master key in use and its row count', async () => {
      const r = await runCli(store, ['keys', 'status', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.masters.length, 1);
      assert.equal(s.masters[0].projectKeys, PROJECTS.length * 3);
      assert.equal(s.projectKeyPairs, PROJECTS.length * 3);
      const human = await runCli(store, ['keys', 'status']);
      assert.match(human.stdout, /mk_[0-9a-f]{16}\s+active\s+wraps 12 project key/);
    });

    it('master rotation survives interruptions (a stop after 2 batches, a SIGKILL) and resumes; the running server keeps releasing', async () => {
      const before = JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout);
      const oldId: string = before.masters[0].id;
      // 1. stop after two batches of two rows: resumable, progress recorded
      const first = await runCli(store, ['keys', 'rotate', '--batch-size', '2', '--max-batches', '2', '--json']);
      assert.equal(first.code, 3, first.stderr + first.stdout);
      figures.interruptions++;
      const mid = JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout);
      assert.ok(mid.rotation, 'the rotation is recorded as in progress');
      assert.equal(mid.rotation.rewrapped, 4);
      const newId: string = mid.rotation.target;
      assert.notEqual(newId, oldId);
      assert.equal(readFileSync(keyFile(), 'utf8').trim().split('\n').length, 2, 'the new key was appended to the key file');
      // the running server (started with the old key only) still releases rows of both keys
      await checkAll('half-rotated');
      // a new project made now is wrapped under the new key (the write path re-reads the active master)
      const np = await api.post('/api/v1/projects', {
        slug: 'rot-new',
        name: 'rot-new',
        secrets: [{ name: 'N', scope: 'production', value: 'new-project-value' }],
      });
      assert.equal(np.status, 201, np.text);
      expected.set('rot-new', { N: 'new-project-value' });
      PROJECTS.push('rot-new');
      const newRows = await dbQuery<{ master_key_id: string }>(
        store,
        `select master_key_id from project_keys pk join projects p on p.id = pk.project_id where p.slug = 'rot-new'`,
      );
      assert.ok(
        newRows.every((r) => r.master_key_id === newId),
        'new project keys use the newest master key',
      );
      // 2. a SIGKILL part-way through (resumes from the recorded progress)
      const killed = await runCli(store, ['keys', 'rotate', '--batch-size', '1', '--json'], { killAfterMs: 150 + Math.floor(Math.random() * 300) });
      // 3. resume to the end. A run that finished before its SIGKILL (a fast start) already did
      // step 3: running `keys rotate` again would begin a second rotation, so its own answer counts.
      // A SIGKILL can also land after the run finished its work, while the process exits: then no
      // rotation is in progress any more, and a resume would begin a new one.
      let res: { done: boolean; retired: string[] };
      const inProgress = killed.signal === 'SIGKILL' && JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout).rotation !== null;
      if (inProgress) {
        figures.killed++;
        figures.interruptions++;
        const done = await runCli(store, ['keys', 'rotate', '--batch-size', '3', '--json']);
        assert.equal(done.code, 0, done.stderr + done.stdout);
        res = JSON.parse(done.stdout.trim().split('\n').pop()!);
      } else if (killed.signal === 'SIGKILL') {
        const st = JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout) as { masters: Array<{ id: string; retiredAt: number | null }> };
        res = { done: true, retired: st.masters.filter((m) => m.retiredAt !== null).map((m) => m.id) };
      } else {
        assert.equal(killed.code, 0, killed.stderr + killed.stdout);
        res = JSON.parse(killed.stdout.trim().split('\n').pop()!);
      }
      assert.equal(res.done, true);
      assert.deepEqual(res.retired, [oldId]);
      const after = JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout);
      assert.equal(after.rotation, null);
      const mOld = after.masters.find((m: { id: string }) => m.id === oldId);
      const mNew = after.masters.find((m: { id: string }) => m.id === newId);
      assert.equal(mOld.projectKeys, 0);
      assert.notEqual(mOld.retiredAt, null);
      assert.equal(mNew.projectKeys, PROJECTS.length * 3);
      figures.rowsRewrapped += PROJECTS.length * 3 - 3; // the new project's three pairs were born under the new key
      await checkAll('rotated, same server');
      // a re-run is a new rotation only when asked: nothing left to resume
      const events = await dbQuery<{ action: string }>(store, `select action from audit_events where action like 'keys.%'`);
      assert.ok(events.some((e) => e.action === 'keys.rotated'));
    });

    it('the server refuses to start without a master key it needs, and starts with the new key alone', async () => {
      await server.stop();
      const lines = readFileSync(keyFile(), 'utf8').trim().split('\n');
      const [oldLine, newLine] = [lines[0]!, lines[lines.length - 1]!];
      writeFileSync(keyFile(), `${oldLine}\n`, { mode: 0o600 });
      const refused = await expectStartFailure(store);
      assert.equal(refused.code, 1);
      assert.match(refused.output, /refusing to start: master key mk_[0-9a-f]{16} wraps \d+ project key\(s\) but is not configured/);
      assert.ok(!refused.output.includes(oldLine) && !refused.output.includes(newLine), 'no key material in the output');
      writeFileSync(keyFile(), `${newLine}\n`, { mode: 0o600 });
      server = await startServer(store);
      api = new Api(server.url, api.token);
      await checkAll('new key only');
    });

    it('project rotation re-seals every current and historical value, resumably, and retires the old pairs', async () => {
      const slug = 'rot-a';
      // a deployment started now pins the current versions; after one more write they are history
      await grantRelease(api, slug);
      const d0 = await api.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
      assert.equal(d0.status, 201);
      const pinnedValues = { ...expected.get(slug)! };
      expected.get(slug)!.KEY_1 = `${expected.get(slug)!.KEY_1}-v2`;
      assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/KEY_1`, { value: expected.get(slug)!.KEY_1 })).status, 200);
      const oldPairs = await dbQuery<{ id: string }>(store, `select pk.id from project_keys pk join projects p on p.id = pk.project_id where p.slug = $1`, [
        slug,
      ]);
      const sealed = await dbQuery<{ n: number | string }>(
        store,
        `select count(*) as n from secret_versions v join secrets s on s.id = v.secret_id join projects p on p.id = s.project_id where p.slug = $1 and v.ciphertext is not null`,
        [slug],
      );
      const first = await runCli(store, ['keys', 'rotate', '--project', slug, '--batch-size', '3', '--max-batches', '1', '--json']);
      assert.equal(first.code, 3, first.stderr + first.stdout);
      figures.interruptions++;
      // writes during the rotation go to the new pair
      expected.get(slug)!.KEY_2 = `${expected.get(slug)!.KEY_2}-during`;
      assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/KEY_2`, { value: expected.get(slug)!.KEY_2 })).status, 200);
      const done = await runCli(store, ['keys', 'rotate', '--project', slug, '--batch-size', '3', '--json']);
      assert.equal(done.code, 0, done.stderr + done.stdout);
      const res = JSON.parse(done.stdout.trim().split('\n').pop()!);
      assert.equal(res.done, true);
      const stale = await dbQuery<{ n: number | string }>(
        store,
        `select count(*) as n from secret_versions where key_id in (${oldPairs.map((_, i) => `$${i + 1}`).join(',')})`,
        oldPairs.map((p) => p.id),
      );
      assert.equal(Number(stale[0]!.n), 0, 'no value is left under an old pair');
      figures.versionsResealed += Number(sealed[0]!.n);
      const retired = await dbQuery<{ n: number | string }>(
        store,
        `select count(*) as n from project_keys where retired_at is not null and id in (${oldPairs.map((_, i) => `$${i + 1}`).join(',')})`,
        oldPairs.map((p) => p.id),
      );
      assert.equal(Number(retired[0]!.n), oldPairs.length);
      // historical versions (pinned by d0) and current ones both open
      const hist = await api.with(d0.body.token).get(`/api/v1/deployments/${d0.body.id}/secrets`);
      assert.equal(hist.status, 200, hist.text);
      assert.deepEqual(hist.body.runtime, pinnedValues);
      figures.valuesChecked += Object.keys(pinnedValues).length;
      figures.valuesReadable += Object.keys(pinnedValues).length;
      await checkAll('project rotated');
      const status = JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout);
      assert.equal(status.versionsUnderRetiredPairs, 0);
    });

    it('project rotation of a project with per-PR overrides re-seals them under their own scope; a failed run keeps the old pairs and resumes', async () => {
      const slug = 'rot-ovr';
      const v = (l: string) => `${l}-${randomBytes(6).toString('hex')}`;
      const want = { prod: v('prod'), prev: v('prev'), prevOnly: v('prev-only'), pr42: v('pr42'), pr42v2: v('pr42-v2'), pr42New: v('pr42-new'), pr7: v('pr7') };
      const c = await api.post('/api/v1/projects', {
        slug,
        name: slug,
        secrets: [
          { name: 'DB', scope: 'production', value: want.prod },
          { name: 'DB', scope: 'preview', value: want.prev },
          { name: 'PREV_ONLY', scope: 'preview', value: want.prevOnly },
        ],
      });
      assert.equal(c.status, 201, c.text);
      for (const [path, value] of [
        ['preview/DB?pr=42', want.pr42],
        ['preview/DB?pr=42', want.pr42v2], // a second version: history under the override scope
        ['preview/PR_ONLY?pr=42', want.pr42New],
        ['preview/DB?pr=7', want.pr7],
      ] as const) {
        const r = await api.put(`/api/v1/projects/${slug}/secrets/${path}`, { value });
        assert.ok(r.status === 200 || r.status === 201, r.text);
      }
      const releases = async (label: string) => {
        const p42 = await deployAndRelease(api, slug, 'preview', 42);
        assert.equal(p42.release.status, 200, `${label}: ${p42.release.text}`);
        assert.deepEqual(p42.release.body.runtime, { DB: want.pr42v2, PR_ONLY: want.pr42New, PREV_ONLY: want.prevOnly }, label);
        const p7 = await deployAndRelease(api, slug, 'preview', 7);
        assert.equal(p7.release.status, 200, `${label}: ${p7.release.text}`);
        assert.deepEqual(p7.release.body.runtime, { DB: want.pr7, PREV_ONLY: want.prevOnly }, label);
        const p9 = await deployAndRelease(api, slug, 'preview', 9);
        assert.deepEqual(p9.release.body.runtime, { DB: want.prev, PREV_ONLY: want.prevOnly }, label);
        const prod = await deployAndRelease(api, slug);
        assert.deepEqual(prod.release.body.runtime, { DB: want.prod }, label);
        figures.valuesChecked += 8;
        figures.valuesReadable += 8;
      };
      await releases('before rotation');
      const oldPairs = (
        await dbQuery<{ id: string }>(store, `select pk.id from project_keys pk join projects p on p.id = pk.project_id where p.slug = $1`, [slug])
      ).map((r) => r.id);
      const inList = oldPairs.map((_, i) => `$${i + 1}`).join(',');
      const underOld = async () =>
        Number((await dbQuery<{ n: number | string }>(store, `select count(*) as n from secret_versions where key_id in (${inList})`, oldPairs))[0]!.n);
      const sealedBefore = await underOld();

      // 1. a damaged row stops the rotation with a clear message; nothing is retired, every value still releases
      const victim = (
        await dbQuery<{ secret_id: string; version: number | string; ciphertext: Uint8Array }>(
          store,
          `select v.secret_id, v.version, v.ciphertext from secret_versions v join secrets s on s.id = v.secret_id join projects p on p.id = s.project_id where p.slug = $1 and s.name = 'PREV_ONLY'`,
          [slug],
        )
      )[0]!;
      const damaged = Buffer.from(victim.ciphertext);
      damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 1;
      await dbQuery(store, `update secret_versions set ciphertext = $1 where secret_id = $2 and version = $3`, [
        damaged,
        victim.secret_id,
        Number(victim.version),
      ]);
      try {
        const failed = await runCli(store, ['keys', 'rotate', '--project', slug, '--batch-size', '2']);
        assert.notEqual(failed.code, 0, failed.stdout);
        assert.match(failed.stderr, /PREV_ONLY v1/);
        assert.match(failed.stderr, /run the same command again to resume/);
        assert.doesNotMatch(failed.stderr, /\n\s+at /, 'no stack trace');
        const retired = await dbQuery<{ n: number | string }>(
          store,
          `select count(*) as n from project_keys where retired_at is not null and id in (${inList})`,
          oldPairs,
        );
        assert.equal(Number(retired[0]!.n), 0, 'the old pairs stay active until every version is re-sealed');
        assert.ok((await underOld()) > 0, 'the damaged row is still under its old pair');
        const status = JSON.parse((await runCli(store, ['keys', 'status', '--json'])).stdout);
        assert.ok(status.projectRotationsInProgress >= 1, 'the rotation is recorded as in progress');
      } finally {
        await dbQuery(store, `update secret_versions set ciphertext = $1 where secret_id = $2 and version = $3`, [
          Buffer.from(victim.ciphertext),
          victim.secret_id,
          Number(victim.version),
        ]);
      }
      await releases('after the failed run');

      // 2. an interrupted run (one batch), then the resumed run completes
      const part = await runCli(store, ['keys', 'rotate', '--project', slug, '--batch-size', '1', '--max-batches', '1', '--json']);
      assert.equal(part.code, 3, part.stderr + part.stdout);
      figures.interruptions++;
      const done = await runCli(store, ['keys', 'rotate', '--project', slug, '--batch-size', '2', '--json']);
      assert.equal(done.code, 0, done.stderr + done.stdout);
      assert.equal(JSON.parse(done.stdout.trim().split('\n').pop()!).done, true);
      assert.equal(await underOld(), 0, 'no value is left under an old pair, overrides included');
      figures.versionsResealed += sealedBefore;
      await releases('after rotation');
    });
  });
}
