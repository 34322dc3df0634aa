import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootstrap } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';

describe('graceful shutdown with a grace period (sqlite)', () => {
  let store: TestStore;
  let server: TestServer;

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store, { env: { KEYLOFT_SHUTDOWN_GRACE_MS: '1500' } });
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await store?.cleanup();
  });

  it('after SIGTERM /readyz answers 503 while requests are still served, then the process exits 0', async () => {
    const api = await bootstrap(server);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const exited = new Promise<number | null>((r) => server.process.on('exit', (code) => r(code)));
    server.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { reason: string }).reason, 'shutting down');
    // Writes still succeed during the grace period: the load balancer has not moved traffic yet.
    const created = await api.post('/api/v1/projects', { slug: 'draining', name: 'Draining' });
    assert.equal(created.status, 201);
    assert.equal(await exited, 0);
  });

  it('KEYLOFT_SHUTDOWN_GRACE_MS is validated at start', async () => {
    const bad = await createStore('sqlite');
    try {
      const { expectStartFailure } = await import('../helpers/server.js');
      const r = await expectStartFailure(bad, { env: { KEYLOFT_SHUTDOWN_GRACE_MS: 'soon' } });
      assert.notEqual(r.code, 0);
      assert.match(r.output, /KEYLOFT_SHUTDOWN_GRACE_MS must be a whole number/);
    } finally {
      await bad.cleanup();
    }
  });
});
