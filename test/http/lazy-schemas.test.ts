// Route schemas are compiled on each route's first request (src/http/plugins/lazy-schemas.ts):
// every schema still compiles, validation answers as before, and the OpenAPI document is the same
// whether the schemas were compiled before it was generated or not.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
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

test("the compilers are loaded from the build's one file (dist/serve/schema-compilers.cjs), not Ajv's and fast-json-stringify's ~120 module files", async () => {
  // Loading them file by file (each resolved, read and wrapped on a route's first request) made
  // Node's path code hot enough for V8's optimizing compiler: ~5 MB more of the node binary
  // resident from the first requests on (docs/OPERATIONS.md "Memory and start-up").
  const bundled = fileURLToPath(new URL('../../serve/schema-compilers.cjs', import.meta.url));
  assert.ok(existsSync(bundled), `${bundled} is written by scripts/bundle.mjs (npm run build)`);
  const app = Fastify({ schemaController: { compilersFactory: lazyCompilers().compilersFactory as never } });
  app.post(
    '/v',
    {
      schema: {
        body: { type: 'object', required: ['a'], properties: { a: { type: 'string', minLength: 2 } } },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
      },
    },
    async () => ({ ok: true, secret: 'not in the schema' }),
  );
  const bad = await app.inject({ method: 'POST', url: '/v', payload: { a: 'x' } });
  assert.equal(bad.statusCode, 400, bad.body);
  const ok = await app.inject({ method: 'POST', url: '/v', payload: { a: 'xy' } });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body), { ok: true }, 'the serializer keeps only what the schema lists');
  await app.close();
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  assert.ok(loaded.includes(bundled), 'the bundled compilers were loaded');
  // (Fastify's own error serializer requires fast-json-stringify's small runtime, lib/serializer.js,
  // and the OpenAPI document's resolver fast-uri: not the compilers.)
  const files = loaded.filter((f) =>
    /node_modules[\\/](ajv[\\/]|ajv-formats[\\/]|fast-json-stringify[\\/]index\.js|@fastify[\\/](ajv-compiler|fast-json-stringify-compiler)[\\/])/.test(f),
  );
  assert.deepEqual(files, [], 'no compiler module was loaded from node_modules');
});
