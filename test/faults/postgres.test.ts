import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { bootstrap } from '../helpers/client.js';
import { createStore, dialects, expectStartFailure, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { stopOrKill, writeFigures } from '../security/support.js';
import { databaseName, readyz, sleep, TcpProxy, terminateBackends, WriteLoad } from './support.js';

/**
 * PostgreSQL going away under a running server, caused on the test's own database only: its
 * sessions ended with pg_terminate_backend (what a restart or failover does to a pool), and a TCP
 * proxy the test owns stopped for a few seconds and started again (the database gone, then back).
 */
const pg = (await dialects()).find((d) => d.name === 'postgres');
const skip = pg ? pg.skip : 'KEYLOFT_TEST_DIALECTS excludes postgres';

describe('PostgreSQL drops its connections and goes away under load', { skip }, () => {
  let store: TestStore;
  let proxy: TcpProxy;
  let server: TestServer | undefined;

  before(async () => {
    store = await createStore('postgres');
    proxy = TcpProxy.forUrl(store.databaseUrl!);
    await proxy.start();
  });
  after(async () => {
    await stopOrKill(server);
    await proxy?.stop();
    await store?.cleanup();
  });

  it('answers 503 storage_unavailable while the database is gone, is ready again within 5 s of its return without a restart, loses no acknowledged write and logs the outage once', {
    timeout: 120_000,
  }, async () => {
    server = await startServer(store, { env: { KEYLOFT_DATABASE_URL: proxy.url(store.databaseUrl!) } });
    const api = await bootstrap(server);
    assert.equal((await api.post('/api/v1/projects', { slug: 'fault', name: 'fault' })).status, 201);
    const load = new WriteLoad(api, 'fault');
    load.start();
    await sleep(500);

    // 1. Every session of the test database ended, three times, with writes in flight.
    let terminated = 0;
    for (let i = 0; i < 3; i++) {
      terminated += await terminateBackends(databaseName(store.databaseUrl!));
      await sleep(400);
    }
    assert.ok(terminated > 0, 'pg_terminate_backend ended some of keyloft’s sessions');

    // 2. The database gone for 3 s (the proxy refuses and cuts connections), then back.
    await proxy.stop();
    const downAt = Date.now();
    const readyWhileDown: number[] = [];
    while (Date.now() - downAt < 3000) {
      readyWhileDown.push(await readyz(server.url));
      await sleep(250);
    }
    // A person on the dashboard gets a page saying so, not a stack.
    const page = await fetch(`${server.url}/`, { redirect: 'manual' });
    const pageText = await page.text();
    await proxy.start();
    const upAt = Date.now();
    let recoveredMs = -1;
    while (Date.now() - upAt < 30_000) {
      if ((await readyz(server.url)) === 200) {
        recoveredMs = Date.now() - upAt;
        break;
      }
      await sleep(100);
    }
    await sleep(500);
    await load.stop();

    assert.equal(server.process.exitCode, null, `keyloft kept running:\n${server.output().slice(-2000)}`);
    assert.ok(
      readyWhileDown.length > 0 && readyWhileDown.every((s) => s === 503),
      `/readyz answered 503 while the database was gone: ${readyWhileDown.join(',')}`,
    );
    assert.ok(recoveredMs >= 0 && recoveredMs <= 5000, `/readyz answered 200 ${recoveredMs} ms after the database came back (bound: 5 s)`);
    assert.deepEqual(load.failures, [], 'no 500, no other error than storage_unavailable, no dropped connection');
    assert.equal(page.status, 503, pageText.slice(0, 300));
    assert.match(pageText, /Temporarily unavailable/);
    assert.ok(!/at .*\.js:\d+/.test(pageText), 'no stack on the page');
    const codes = [...load.statuses.keys()].sort();
    assert.ok(codes.includes('503 storage_unavailable'), `writes during the outage were refused with 503 storage_unavailable (saw ${codes.join(', ')})`);
    assert.ok(
      codes.every((c) => ['200', '201', '503 storage_unavailable'].includes(c)),
      `only 200/201/503 storage_unavailable (saw ${codes.join(', ')})`,
    );

    // Writes work again, and nothing acknowledged is lost or half-written.
    assert.equal((await api.put('/api/v1/projects/fault/secrets/production/AFTER', { value: 'after-outage' })).status, 201);
    const { lost } = await load.verify(store, api);
    assert.equal(lost, 0, `${lost} acknowledged writes lost`);

    // Logged once per outage, never per request, never a stack or an unhandled 'error' event.
    const out = server.output();
    const downLines = out.split('\n').filter((l) => l.includes('database unavailable')).length;
    const upLines = out.split('\n').filter((l) => l.includes('database available again')).length;
    assert.ok(downLines >= 1 && downLines <= 4, `outage logged once per outage (4 caused), not per request: ${downLines} lines`);
    assert.ok(upLines >= 1 && upLines <= 4, `recovery logged once per outage: ${upLines} lines`);
    assert.ok(
      !/Unhandled 'error' event|unhandled error|request failed|"stack"/.test(out),
      `no unhandled error, no per-request error line:\n${out.slice(-3000)}`,
    );

    writeFigures('faults-postgres-drop', {
      requests: load.requests,
      byStatus: Object.fromEntries(load.statuses),
      sessionsTerminated: terminated,
      outageMs: upAt - downAt,
      readyzWhileDown: readyWhileDown.length,
      recoveryMs: recoveredMs,
      acknowledgedWrites: load.acknowledged,
      lost,
      outageLogLines: downLines,
    });
  });
});

describe('PostgreSQL unreachable at start', { skip }, () => {
  let store: TestStore;
  let proxy: TcpProxy;
  let server: TestServer | undefined;

  before(async () => {
    store = await createStore('postgres');
    proxy = TcpProxy.forUrl(store.databaseUrl!);
    // Reserve a port, then close it: keyloft's first attempts are refused.
    await proxy.start();
    await proxy.stop();
  });
  after(async () => {
    await stopOrKill(server);
    await proxy?.stop();
    await store?.cleanup();
  });

  it('retries with backoff, says so, and starts once the database answers', { timeout: 120_000 }, async () => {
    // Until keyloft has tried twice, the proxy's port cuts every connection at once (what a
    // database that is still starting does); then the proxy starts there.
    let attempts = 0;
    const cutter = createServer((s) => {
      attempts++;
      s.destroy();
    });
    await new Promise<void>((r) => cutter.listen(proxy.port, '127.0.0.1', () => r()));
    let starting: Promise<TestServer> | undefined;
    try {
      starting = startServer(store, { env: { KEYLOFT_DATABASE_URL: proxy.url(store.databaseUrl!), KEYLOFT_DB_CONNECT_TIMEOUT_S: '60' } });
      starting.catch(() => {});
      for (let waited = 0; attempts < 2 && waited < 60_000; waited += 100) await sleep(100);
    } finally {
      await new Promise<void>((r) => cutter.close(() => r()));
    }
    await proxy.start();
    server = await starting;
    const out = server.output();
    assert.match(out, /the database is not reachable yet \([^)]+\); attempt 1, retrying in 0\.5 s \(giving up after KEYLOFT_DB_CONNECT_TIMEOUT_S=60 s\)/);
    const lines = out.split('\n').filter((l) => l.includes('not reachable yet')).length;
    assert.ok(lines >= 2, `retried more than once: ${lines}`);
    assert.match(out, /attempt 2, retrying in 1\.0 s/, 'the wait doubles');
    assert.equal(await readyz(server.url), 200);
    await bootstrap(server);
    writeFigures('faults-postgres-start', { attemptsBeforeUp: lines });
  });

  it('gives up after KEYLOFT_DB_CONNECT_TIMEOUT_S with a message naming the setting', { timeout: 60_000 }, async () => {
    await proxy.stop();
    const r = await expectStartFailure(store, { env: { KEYLOFT_DATABASE_URL: proxy.url(store.databaseUrl!), KEYLOFT_DB_CONNECT_TIMEOUT_S: '2' } });
    assert.equal(r.code, 1);
    assert.match(r.output, /could not start: the database did not answer \(ECONNREFUSED\) after \d+ attempts within KEYLOFT_DB_CONNECT_TIMEOUT_S=2 s/);
    assert.ok(!/at .*\.js:\d+/.test(r.output), 'no stack trace');
  });
});
