import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Api, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, keyloft } from '../pipeline/pipeline-fixture.js';
import { stopOrKill, writeFigures } from '../security/support.js';

/**
 * The release role goes down in a split deployment (api + release on one store): the api role
 * keeps serving people; the pipeline (`deploy start`, `run`, `deploy fly`) gets a clear error that
 * names the release URL and a non-zero exit; nothing is queued (`deploy fly` completes its
 * deployment as failed); when the release server is back, the same commands work again.
 */
describe('release-role outage in the split deployment', () => {
  let store: TestStore;
  let apiServer: TestServer | undefined;
  let releaseServer: TestServer | undefined;
  let token: string;
  let work: string;
  let releasePort: string;
  let releaseUrl: string;
  const slug = `outage-${randomBytes(3).toString('hex')}`;
  const VALUE = `outage-${randomBytes(8).toString('hex')}`;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyloft-outage-'));
    store = await createStore('sqlite');
    const all = await startServer(store);
    try {
      const admin = await bootstrap(all);
      token = admin.token!;
      assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Outage', flyApp: `${slug}-app` })).status, 201);
      await grantRelease(admin, slug);
      assert.equal((await admin.put(`/api/v1/projects/${slug}/secrets/production/OUTAGE_VALUE`, { value: VALUE })).status, 201);
    } finally {
      await all.stop();
    }
    releaseServer = await startServer(store, { role: 'release' });
    releasePort = new URL(releaseServer.url).port;
    releaseUrl = releaseServer.url;
    apiServer = await startServer(store, { role: 'api', env: { KEYLOFT_RELEASE_URL: releaseServer.url } });
  });
  after(async () => {
    await stopOrKill(apiServer);
    await stopOrKill(releaseServer);
    await store?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const deployStart = async () => {
    const s = await keyloft(['deploy', 'start', '--project', slug, '--env', 'production'], cliEnv({ KEYLOFT_URL: apiServer!.url, KEYLOFT_TOKEN: token }), {
      timeoutMs: 90_000,
    }).done;
    // The CD job names its release instance (KEYLOFT_RELEASE_URL): the only other host the deploy token may go to.
    return {
      ...s,
      env: cliEnv({
        ...Object.fromEntries([...s.stdout.matchAll(/^export (KEYLOFT_\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!])),
        KEYLOFT_RELEASE_URL: releaseUrl,
      }),
    };
  };
  const run = (env: Record<string, string>, out: string) =>
    keyloft(['run', '--', process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], process.env.OUTAGE_VALUE)', out], env, { timeoutMs: 90_000 })
      .done;

  it('with the release server down: people are served, the pipeline fails loudly naming the release URL, nothing is queued; back up, it works again', {
    timeout: 300_000,
  }, async () => {
    // SIGKILL: the release host is gone, not shutting down politely.
    await releaseServer!.stop('SIGKILL');
    releaseServer = undefined;

    // People: the api role serves the API and the dashboard as before.
    const api = new Api(apiServer!.url, token);
    assert.equal((await api.get('/api/v1/projects')).status, 200);
    assert.equal((await api.put(`/api/v1/projects/${slug}/secrets/production/WRITTEN_DURING_OUTAGE`, { value: 'during' })).status, 201);
    assert.equal((await fetch(`${apiServer!.url}/login`)).status, 200);
    assert.equal((await fetch(`${apiServer!.url}/readyz`)).status, 200, 'the api role is ready: it does not depend on the release role');

    // The pipeline: deploy start works on the api role; run cannot fetch and says where it tried;
    // deploy fly (at the same time: they are independent) fails the same way.
    const flyctl = join(work, 'flyctl');
    writeFileSync(flyctl, `#!${process.execPath}\nrequire('fs').appendFileSync(process.env.FAKE_FLY_LOG, JSON.stringify(process.argv.slice(2))+'\\n');\n`);
    chmodSync(flyctl, 0o755);
    const log = join(work, 'fly.jsonl');
    const flying = keyloft(
      ['deploy', 'fly', '--project', slug, '--env', 'production'],
      cliEnv({ KEYLOFT_URL: apiServer!.url, KEYLOFT_TOKEN: token, KEYLOFT_RELEASE_URL: releaseUrl, KEYLOFT_FLYCTL: flyctl, FAKE_FLY_LOG: log }),
      { timeoutMs: 90_000 },
    ).done;
    flying.catch(() => {}); // awaited below
    const started = await deployStart();
    assert.equal(started.code, 0, started.stderr);
    const out = join(work, 'seen.txt');
    const r = await run(started.env, out);
    assert.equal(r.code, 3, `run exits 3 (unreachable): ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `cannot reach the keyloft release server at ${releaseUrl.replace(/[.]/g, '\\.')} \\(ECONNREFUSED\\), named by the api server at ${apiServer!.url.replace(/[.]/g, '\\.')} \\(its KEYLOFT_RELEASE_URL\\); no secrets were fetched`,
      ),
    );
    assert.ok(!existsSync(out), 'the command was not run without its secrets');

    // deploy fly completes its deployment as failed (nothing left pending).
    const fly = await flying;
    assert.notEqual(fly.code, 0, 'deploy fly fails');
    assert.match(fly.stderr, /cannot reach the keyloft release server at http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!existsSync(log), 'flyctl was never called');
    const deployments = (await api.get(`/api/v1/projects/${slug}/deployments?environment=production`)).body.deployments as Array<{
      id: string;
      status: string;
    }>;
    const flyDeployment = deployments.find((d) => d.id !== started.env.KEYLOFT_DEPLOYMENT);
    assert.equal(flyDeployment?.status, 'failed', `deploy fly's deployment was completed as failed: ${JSON.stringify(deployments)}`);
    // run's deployment stays running until its pipeline completes it or its token expires: nothing retries it behind anyone's back.
    assert.equal(deployments.find((d) => d.id === started.env.KEYLOFT_DEPLOYMENT)?.status, 'running');

    // The release server back on the same address: the same deployment's run works, no api restart.
    releaseServer = await startServer(store, { role: 'release', env: { KEYLOFT_PORT: releasePort } });
    const again = await run(started.env, out);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(out, 'utf8'), VALUE);
    for (const o of [r.stderr, r.stdout, fly.stderr, fly.stdout, apiServer!.output()]) assert.ok(!o.includes(VALUE), 'no value printed');
    writeFigures('faults-release-outage', {
      runExit: r.code,
      flyExit: fly.code,
      flyDeploymentStatus: flyDeployment?.status,
      peopleServed: true,
      recoveredWithoutApiRestart: again.code === 0,
    });
  });
});
