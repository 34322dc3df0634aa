import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, assertError, bootstrap, signIn } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

// What only several processes show; the rest of the JSON API is tested in process (test/http/api.test.ts).
const DIALECTS = await dialects();
describe('JSON API across instances: every dialect', { concurrency: 1 }, () => {
  for (const d of DIALECTS) {
    describe(`JSON API across instances on ${d.name}`, { skip: d.skip, concurrency: 1 }, () => {
      let store: TestStore;
      let server: TestServer;
      let admin: Api;

      before(async () => {
        store = await createStore(d.name);
        server = await startServer(store);
        admin = await bootstrap(server);
      });
      after(async () => {
        await server?.stop();
        await store?.cleanup();
      });

      it('parallel failed sign-ins still lock the account (no lost updates), across instances', async () => {
        const email = 'burst@example.com';
        assert.equal((await admin.post('/api/v1/users', { email, password: 'the right password' })).status, 201);
        // a second instance on the same database: its own in-memory rate limit, the shared lockout
        const second = await startServer(store);
        try {
          const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => signIn(second, email, `guess ${i}`)));
          for (const r of burst) assert.ok(r.status === 401 || r.status === 429, r.text);
          const after = await signIn(server, email, 'the right password');
          assertError(after, 429, 'locked_out');
        } finally {
          await second.stop();
        }
      });
    });
  }
});
