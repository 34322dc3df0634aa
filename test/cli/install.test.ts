/**
 * The CLI as a user installs it: `npm pack` (its prepack compiles from scratch) and
 * `npm install -g ./keyloft-*.tgz` into a temporary prefix, then the installed `keyloft`
 * runs from another directory against a real server.
 *
 * Only loopback traffic: npm resolves the dependencies through a registry this test serves on
 * 127.0.0.1, whose documents are built from package-lock.json and whose tarball URLs point back
 * to it (it answers them 404), so every tarball must come from the npm cache by integrity —
 * `npm ci` left them there. Nothing can reach the public registry.
 *
 * `--ignore-scripts`: building better-sqlite3 and argon2 from source in the suite would take
 * minutes, and the client commands tested here never load them (they are loaded only by
 * `serve`, `admin` and the other commands that open the database).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bootstrap } from '../helpers/client.js';
import { createStore, REPO_ROOT, startServer, type TestServer, type TestStore } from '../helpers/server.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_') && !k.startsWith('npm_')) env[k] = v;
  Object.assign(env, opts.env ?? {});
  const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A read-only npm registry on 127.0.0.1 serving package documents for the lockfile's production packages. */
function lockfileRegistry(): Promise<{ url: string; server: Server; requests: string[] }> {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, Record<string, unknown> & { version?: string; integrity?: string; dev?: boolean; link?: boolean }>;
  };
  const docs = new Map<string, { name: string; versions: Record<string, unknown>; 'dist-tags': { latest?: string } }>();
  for (const [path, p] of Object.entries(lock.packages)) {
    if (!path || p.dev || p.link || !p.version) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const doc = docs.get(name) ?? { name, versions: {}, 'dist-tags': {} };
    const { dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta, bin, engines, os, cpu } = p;
    doc.versions[p.version] = {
      name,
      version: p.version,
      dependencies,
      optionalDependencies,
      peerDependencies,
      peerDependenciesMeta,
      bin,
      engines,
      os,
      cpu,
      dist: { integrity: p.integrity, tarball: `REGISTRY/${name}/-/${name.split('/').pop()}-${p.version}.tgz` },
    };
    doc['dist-tags'].latest ??= p.version;
    docs.set(name, doc);
  }
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const doc = docs.get(decodeURIComponent((req.url ?? '/').slice(1)));
    if (!doc) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc).replaceAll('REGISTRY/', `${base}/`));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, requests })),
  );
}

describe('the CLI installed from its tarball', () => {
  let tmp: string;
  let store: TestStore | undefined;
  let server: TestServer | undefined;
  let registry: Awaited<ReturnType<typeof lockfileRegistry>> | undefined;
  let tarball: string;
  let keyloft: string;
  let token: string;
  const slug = `inst-${randomBytes(3).toString('hex')}`;
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'keyloft-install-'));
    // Pack a copy of the checkout, so the prepack's clean compile cannot disturb the dist/ other suites run from.
    const src = join(tmp, 'checkout');
    mkdirSync(src);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'bin', 'src', 'scripts', 'docs']) {
      cpSync(join(REPO_ROOT, f), join(src, f), { recursive: true, filter: (p) => !p.includes(`${join('docs', 'screenshots')}`) });
    }
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(src, 'node_modules'));
    const pack = await run('npm', ['pack', '--pack-destination', tmp, '--no-audit', '--no-fund'], { cwd: src });
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
    tarball = join(tmp, `keyloft-${version}.tgz`);

    registry = await lockfileRegistry();
    const prefix = join(tmp, 'prefix');
    const install = await run(
      'npm',
      ['install', '-g', '--prefix', prefix, '--registry', registry.url, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball],
      { cwd: tmp },
    );
    assert.equal(install.code, 0, `npm install -g failed:\n${install.stdout}\n${install.stderr}`);
    keyloft = join(prefix, 'bin', 'keyloft');

    store = await createStore('sqlite');
    server = await startServer(store);
    const admin = await bootstrap(server);
    const created = await admin.post('/api/v1/projects', { slug, name: 'Installed', secrets: [{ name: 'INSTALLED_SECRET', scope: 'production', value: 'v' }] });
    assert.equal(created.status, 201, created.text);
    token = admin.token!;
  });

  after(async () => {
    await server?.stop();
    await store?.cleanup();
    await new Promise((r) => (registry ? registry.server.close(r) : r(undefined)));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the compiled sources, bin, assets and docs, without tests, benchmarks or source maps', async () => {
    const list = await run('tar', ['tzf', tarball], { cwd: tmp });
    const files = list.stdout.split('\n').filter(Boolean);
    for (const f of [
      'package/bin/keyloft.js',
      'package/dist/src/cli/main.js',
      'package/src/http/web/assets/app.css',
      'package/src/http/web/assets/app.js',
      'package/README.md',
    ]) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.deepEqual(
      files.filter((f) => /^package\/dist\/(test|bench)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') || f.includes('node_modules')),
      [],
    );
  });

  it('puts keyloft on PATH: --version prints the package version from any directory', async () => {
    const elsewhere = mkdtempSync(join(tmp, 'elsewhere-'));
    const r = await run(keyloft, ['--version'], { cwd: elsewhere, env: { HOME: elsewhere } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  });

  it('lists secrets from a server, run from another directory', async () => {
    const elsewhere = mkdtempSync(join(tmp, 'elsewhere-'));
    const r = await run(keyloft, ['secrets', 'list', '--project', slug], {
      cwd: elsewhere,
      env: { HOME: elsewhere, KEYLOFT_CONFIG_DIR: join(elsewhere, '.config'), KEYLOFT_URL: server!.url, KEYLOFT_TOKEN: token },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /INSTALLED_SECRET/);
    assert.match(r.stdout, /production/);
  });

  it('serves the dashboard assets from the installed package (the files, not the checkout)', async () => {
    const root = join(tmp, 'prefix', 'lib', 'node_modules', 'keyloft');
    const mod = (await import(pathToFileURL(join(root, 'dist/src/http/web/assets.js')).href)) as {
      APP_CSS: string;
      APP_JS: string;
      ASSETS: { css: { path: string } };
    };
    assert.equal(mod.APP_CSS, readFileSync(join(root, 'src/http/web/assets/app.css'), 'utf8'));
    assert.equal(mod.APP_JS, readFileSync(join(root, 'src/http/web/assets/app.js'), 'utf8'));
    assert.match(mod.ASSETS.css.path, /^\/assets\/app\.[0-9a-f]{12}\.css$/);
    assert.ok(readdirSync(join(root, 'src/http/web/assets')).every((f) => /\.(css|js|svg)$/.test(f)));
  });
});

describe('the documents and examples', () => {
  it('never run npx keyloft (the name is not ours on the public registry)', () => {
    const files = [
      'README.md',
      ...readdirSync(join(REPO_ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join('docs', f)),
    ];
    const walk = (dir: string): string[] =>
      readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
    files.push(...walk('examples'));
    const offenders = files.filter((f) => /npx\s+keyloft/.test(readFileSync(join(REPO_ROOT, f), 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('the README CLI section starts with the tarball install', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## The `keyloft` CLI'));
    const firstCode = section.split('\n').find((l) => l.startsWith('    '));
    assert.match(firstCode ?? '', /npm install -g \.\/keyloft-\*\.tgz/);
  });
});
