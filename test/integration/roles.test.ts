// The api role never reads a key: it starts, writes and starts deployments with the master key
// file replaced by a FIFO (opening it for reading would block the process, and the test probes
// the FIFO for a reader) and with the key file absent; the secrets route answers 421 naming the
// release URL; the services it builds hold no release service; and the release role opens
// the values the api role sealed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, openSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { loadConfig } from '../../src/config.js';
import { startServer as startInProcess } from '../../src/cli/serve.js';

const RELEASE_URL = 'https://release.keyloft.example.test';
const val = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

/** True when some process has the FIFO open for reading (opening it for writing, non-blocking, then succeeds). */
function fifoHasReader(path: string): boolean {
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw err;
  }
}

/** The files a process has open (Linux /proc), resolved. */
function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readlinkSync(join(dir, fd)));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

for (const d of await dialects()) {
  describe(`${d.name}: the api role never reads a key`, { skip: d.skip }, () => {
    let store: TestStore;
    let token: string;
    const slug = `roles-${randomBytes(4).toString('hex')}`;
    const keyFile = () => join(store.dataDir, 'master.key');
    const hidden = () => join(store.dataDir, 'master.key.hidden');
    /** api instances get no key setting at all (on PostgreSQL the helper would set KEYLOFT_MASTER_KEY_FILE). */
    const apiEnv = { KEYLOFT_MASTER_KEY_FILE: undefined, KEYLOFT_MASTER_KEY: undefined, KEYLOFT_RELEASE_URL: RELEASE_URL };
    const written: Record<string, string> = {};
    const deployments: Array<{ id: string; token: string }> = [];

    before(async () => {
      store = await createStore(d.name);
      const all = await startServer(store);
      try {
        const api = await bootstrap(all);
        token = api.token!;
        written.FIRST = val('first');
        const r = await api.post('/api/v1/projects', { slug, name: 'Roles', secrets: [{ name: 'FIRST', scope: 'production', value: written.FIRST }] });
        assert.equal(r.status, 201, r.text);
        await grantRelease(api, slug);
      } finally {
        assert.equal(await all.stop(), 0);
      }
      assert.ok(existsSync(keyFile()), 'the all instance left a master key file');
    });
    after(async () => {
      if (existsSync(hidden())) {
        rmSync(keyFile(), { force: true });
        renameSync(hidden(), keyFile());
      }
      await store?.cleanup();
    });

    async function exerciseApi(server: TestServer, label: string): Promise<void> {
      const api = new Api(server.url, token);
      assert.equal((await api.get('/healthz')).body.role, 'api');
      const ready = await api.get('/readyz');
      assert.equal(ready.status, 200, ready.text);
      // writes: a new project, an upsert, an import
      const other = `${slug}-${label}`;
      const created = await api.post('/api/v1/projects', {
        slug: other,
        name: `From api ${label}`,
        secrets: [{ name: 'X', scope: 'preview', value: val('x') }],
      });
      assert.equal(created.status, 201, created.text);
      const name = `FROM_API_${label.toUpperCase()}`;
      written[name] = val(label);
      const put = await api.put(`/api/v1/projects/${slug}/secrets/production/${name}`, { value: written[name] });
      assert.equal(put.status, 201, put.text);
      written.FIRST = val(`first-${label}`);
      const over = await api.put(`/api/v1/projects/${slug}/secrets/production/FIRST`, { value: written.FIRST });
      assert.equal(over.status, 200, over.text);
      const list = await api.get(`/api/v1/projects/${slug}/secrets?scope=production`);
      assert.equal(list.status, 200, list.text);
      assert.ok(
        list.body.secrets.some((s: { name: string; digest: string }) => s.name === name && s.digest),
        list.text,
      );
      // a deployment starts here, but its values are released elsewhere: 421 naming the release URL
      const dep = await api.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' });
      assert.equal(dep.status, 201, dep.text);
      deployments.push({ id: dep.body.id, token: dep.body.token });
      const sec = await api.with(dep.body.token).get(`/api/v1/deployments/${dep.body.id}/secrets`);
      assert.equal(sec.status, 421, sec.text);
      assert.equal(sec.body.error.code, 'wrong_role');
      assert.equal(sec.body.error.details.releaseUrl, RELEASE_URL);
      assert.ok(sec.body.error.message.includes(RELEASE_URL), sec.text);
      assert.equal(sec.body.runtime, undefined);
      for (const v of Object.values(written)) assert.ok(!sec.text.includes(v));
    }

    test('with the key file replaced by a FIFO: starts, writes, never opens it', async () => {
      renameSync(keyFile(), hidden());
      execFileSync('mkfifo', ['-m', '600', keyFile()]);
      assert.equal(fifoHasReader(keyFile()), false);
      // Reading the key would block the process on the FIFO: it would never print "listening".
      const server = await startServer(store, { role: 'api', env: apiEnv });
      try {
        assert.equal(fifoHasReader(keyFile()), false, 'the api process opened the key file');
        await exerciseApi(server, 'fifo');
        assert.equal(fifoHasReader(keyFile()), false, 'the api process opened the key file');
        assert.ok(!openFiles(server.process.pid!).some((f) => f.includes('master.key')), 'the api process holds the key file open');
        assert.ok(!server.output().includes('master key at'), server.output());
      } finally {
        assert.equal(await server.stop(), 0);
      }
      rmSync(keyFile());
    });

    test('with the key file absent: starts and writes', async () => {
      assert.ok(!existsSync(keyFile()));
      const server = await startServer(store, { role: 'api', env: apiEnv });
      try {
        await exerciseApi(server, 'absent');
      } finally {
        assert.equal(await server.stop(), 0);
      }
      assert.ok(!existsSync(keyFile()), 'the api role generated a key file');
      renameSync(hidden(), keyFile());
    });

    test('the release role opens what the api role sealed, and serves only deployment routes', async () => {
      const server = await startServer(store, { role: 'release' });
      try {
        const api = new Api(server.url, token);
        assert.equal((await api.get(`/api/v1/projects/${slug}/secrets`)).status, 404, 'the release role serves the secrets API');
        assert.equal((await api.get('/api/v1/projects')).status, 404);
        assert.equal(deployments.length, 2);
        const last = deployments.at(-1)!;
        const r = await api.with(last.token).get(`/api/v1/deployments/${last.id}/secrets`);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.runtime, written);
        const first = deployments[0]!;
        const r0 = await api.with(first.token).get(`/api/v1/deployments/${first.id}/secrets`);
        assert.equal(r0.status, 200, r0.text);
        assert.equal(r0.body.runtime.FROM_API_FIFO, written.FROM_API_FIFO);
        assert.equal(r0.body.runtime.FROM_API_ABSENT, undefined, 'the first deployment pinned what existed when it started');
        assert.equal((await api.with(last.token).post(`/api/v1/deployments/${last.id}/complete`, { status: 'succeeded' })).status, 200);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    if (d.name === 'sqlite') {
      test('the services an api process builds hold no release service', async () => {
        const config = loadConfig({
          KEYLOFT_DATA_DIR: store.dataDir,
          KEYLOFT_ROLE: 'api',
          KEYLOFT_PORT: '0',
          KEYLOFT_LOG_LEVEL: 'silent',
          KEYLOFT_RELEASE_URL: RELEASE_URL,
        });
        assert.equal(config.masterKeys.length, 0);
        assert.equal(config.masterKeyFile, undefined);
        renameSync(keyFile(), hidden());
        try {
          const running = await startInProcess(config, { print: () => {} });
          try {
            const names = Object.keys(running.services);
            assert.ok(!names.includes('release'), `services: ${names.join(', ')}`);
            for (const [name, svc] of Object.entries(running.services)) {
              if (svc && typeof svc === 'object') assert.ok(!('release' in svc), `services.${name} has a release function`);
            }
            const routes = running.app.printRoutes({ commonPrefix: false });
            assert.match(routes, /secrets/);
            const r = await running.app.inject({
              method: 'GET',
              url: `/api/v1/deployments/${deployments[0]!.id}/secrets`,
              headers: { authorization: `Bearer ${deployments[0]!.token}` },
            });
            // the first deployment is still running: the api role answers 421, not a release
            assert.equal(r.statusCode, 421, r.body);
          } finally {
            await running.close();
          }
        } finally {
          renameSync(hidden(), keyFile());
        }
      });
    }
  });
}
