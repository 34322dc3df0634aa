import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testApp } from '../helpers/app.js';

describe('buildApp: one composition root, routes per role', () => {
  it('the api role builds nothing that can open a value, and its value routes name the release URL', async (t) => {
    const a = await testApp(t, { role: 'api', env: { KEYLOFT_RELEASE_URL: 'https://release.example.test' } });
    assert.equal(a.services.release, undefined);
    assert.equal(a.services.reseal, undefined);
    const { token } = await a.userWithToken('ada@example.com');
    const r = await a.request('GET', '/api/v1/deployments/dep_x/secrets', { token });
    // An unknown deployment token is refused before the role matters; a person's token is not a deploy token.
    assert.ok(r.status === 401 || r.status === 403 || r.status === 421, r.text);
    const copy = await a.request('POST', '/api/v1/projects/shop/secrets:copy', { token, body: { from: 'production', to: 'preview' } });
    assert.equal(copy.status, 421, copy.text);
    assert.equal(copy.body.error.code, 'wrong_role');
    assert.equal(copy.body.error.details.releaseUrl, 'https://release.example.test');
  });

  it('the all role builds release and reseal', async (t) => {
    const a = await testApp(t);
    assert.ok(a.services.release);
    assert.ok(a.services.reseal);
  });

  it('the release role serves the value routes but not the people API or the pages', async (t) => {
    const a = await testApp(t, { role: 'release' });
    assert.equal((await a.request('GET', '/api/v1/projects')).status, 404);
    assert.equal((await a.request('GET', '/login')).status, 404);
    assert.equal((await a.request('GET', '/api/v1/deployments/dep_x/secrets')).status, 401);
  });

  it('/readyz asks the health service: ready, then 503 once the database is gone', async (t) => {
    const a = await testApp(t);
    const ok = await a.request('GET', '/readyz');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { status: 'ready', role: 'all' });
    await a.db.destroy();
    const down = await a.request('GET', '/readyz');
    assert.equal(down.status, 503);
    assert.deepEqual(down.body, { status: 'unavailable', reason: 'database unreachable' });
  });
});
