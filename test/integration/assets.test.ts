/**
 * The dashboard's CSS, script and icon are files under src/http/web/assets/, served with
 * caching headers: content-hashed URLs are immutable for a year, the stable names revalidate
 * with the ETag, and the CSP still allows no inline script or style.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStore, REPO_ROOT, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const file = (name: string) => readFileSync(join(REPO_ROOT, 'src/http/web/assets', name), 'utf8');

describe('dashboard assets', () => {
  let store: TestStore;
  let server: TestServer;
  let login: string;

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    // Before the first user exists the setup page is the one page a visitor sees.
    login = await (await fetch(`${server.url}/setup`)).text();
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
  });

  it('links the content-hashed files, which are the files on disk, cached for a year', async () => {
    const css = /href="(\/assets\/app\.[0-9a-f]{12}\.css)"/.exec(login)?.[1];
    const js = /src="(\/assets\/app\.[0-9a-f]{12}\.js)"/.exec(login)?.[1];
    const icon = /href="(\/assets\/icon\.[0-9a-f]{12}\.svg)"/.exec(login)?.[1];
    assert.ok(css && js && icon, 'the page links all three hashed assets');
    for (const [path, name, type] of [
      [css, 'app.css', 'text/css'],
      [js, 'app.js', 'text/javascript'],
      [icon, 'icon.svg', 'image/svg+xml'],
    ] as const) {
      const r = await fetch(`${server.url}${path}`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), file(name));
      assert.ok((r.headers.get('content-type') ?? '').startsWith(type), `${name} is served as ${type}`);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.match(r.headers.get('etag') ?? '', /^"[0-9a-f]{12}"$/);
    }
  });

  it('answers 304 to a matching If-None-Match, and the stable names revalidate', async () => {
    const r = await fetch(`${server.url}/assets/app.css`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.equal(await r.text(), file('app.css'));
    const etag = r.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${server.url}/assets/app.css`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    const stale = await fetch(`${server.url}/assets/app.css`, { headers: { 'if-none-match': '"000000000000"' } });
    assert.equal(stale.status, 200);
  });

  it('keeps a CSP without inline script or style, and pages stay uncached', async () => {
    const r = await fetch(`${server.url}/setup`);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(await r.text(), /<style|<script>|style="/);
  });
});
