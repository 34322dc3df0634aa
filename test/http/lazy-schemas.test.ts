// Route schemas are compiled on each route's first request (src/http/plugins/lazy-schemas.ts):
// every schema still compiles, validation answers as before, and the OpenAPI document is the same
// whether the schemas were compiled before it was generated or not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { compilePendingSchemas } from '../../src/http/app.js';
import { lazyCompilers } from '../../src/http/plugins/lazy-schemas.js';
import { testApp } from '../helpers/app.js';

test('every route schema compiles (deferred to first use, none broken)', async (t) => {
  const a = await testApp(t);
  await a.app.ready();
  const n = compilePendingSchemas(a.app);
  assert.ok(n > 50, `only ${n} schemas were pending`);
  assert.equal(compilePendingSchemas(a.app), 0, 'a compiled schema is not compiled again');
});

test('a body that fails its schema is refused by the deferred validator with the validation error', async (t) => {
  const a = await testApp(t);
  const admin = await a.userWithToken('admin@example.com', { admin: true });
  // An empty project name: the first request of the route compiles its validator and answers 400.
  const r = await a.request('POST', '/api/v1/projects', { token: admin.token, body: { slug: 'ok-slug', name: '' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /name/);
  const r2 = await a.request('POST', '/api/v1/projects', { token: admin.token, body: { slug: 'ok-slug' } });
  assert.equal(r2.status, 400, r2.text);
  const ok = await a.request('POST', '/api/v1/projects', { token: admin.token, body: { slug: 'ok-slug', name: 'OK' } });
  assert.equal(ok.status, 201, ok.text);
});

test('the OpenAPI document is the same with the schemas compiled first or not', async (t) => {
  const lazy = await testApp(t);
  const docLazy = (await lazy.request('GET', '/api/openapi.json')).body;
  const eager = await testApp(t);
  await eager.app.ready();
  compilePendingSchemas(eager.app);
  const docEager = (await eager.request('GET', '/api/openapi.json')).body;
  assert.deepEqual(docLazy, docEager);
  assert.ok(Object.keys(docLazy.paths).length > 30);
});

test('a headers schema is refused at start (Fastify would not lower-case it for these compilers)', async () => {
  const app = Fastify({ schemaController: { compilersFactory: lazyCompilers().compilersFactory as never } });
  app.get('/h', { schema: { headers: { type: 'object', properties: { 'X-Thing': { type: 'string' } } } } }, async () => ({}));
  await assert.rejects(async () => app.ready(), /headers schemas are not supported/);
  await app.close().catch(() => {});
});
