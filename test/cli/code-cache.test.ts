// bin/code-cache.js: the server's CommonJS bundle run through vm.Script with a V8 code cache made after a start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/server.js';

interface Loaded {
  exports: Record<string, unknown>;
  accepted: boolean;
  createCachedData(): { data: Buffer; crc: number; length: number };
}
interface CodeCache {
  usable(): boolean;
  loadBundle(file: string, opts?: { noCache?: boolean }): Loaded;
  userCachePath(file: string): string;
  writeCache(file: string, data: Buffer, crc: number, length: number, mode?: number): void;
}

const MODULE = join(REPO_ROOT, 'bin/code-cache.js');
let cc: CodeCache;
let dir: string;
let savedEnv: string | undefined;

/** Loads `file` and calls its `f` (so `f` is compiled and lands in a cache made afterwards). */
function loadAndCall(file: string): { loaded: Loaded; value: unknown } {
  const loaded = cc.loadBundle(file);
  return { loaded, value: (loaded.exports.f as () => unknown)() };
}

function saveUserCache(file: string, loaded: Loaded): void {
  const { data, crc, length } = loaded.createCachedData();
  cc.writeCache(cc.userCachePath(file), data, crc, length);
}

describe('the code cache of the server bundle (bin/code-cache.js)', { skip: !existsSync(MODULE) }, () => {
  before(async () => {
    cc = (await import(pathToFileURL(MODULE).href)) as CodeCache;
    dir = mkdtempSync(join(tmpdir(), 'keyloft-codecache-'));
    savedEnv = process.env.NODE_COMPILE_CACHE;
    process.env.NODE_COMPILE_CACHE = join(dir, 'cache');
  });
  after(() => {
    if (savedEnv === undefined) delete process.env.NODE_COMPILE_CACHE;
    else process.env.NODE_COMPILE_CACHE = savedEnv;
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a bundle as CommonJS in strict mode, with its require and the stand-ins for import.meta and import()', async (t) => {
    if (!cc.usable()) return t.skip('this Node has no zlib.crc32');
    const file = join(dir, 'shape.cjs');
    writeFileSync(
      file,
      [
        'exports.strict = (function () { return this === undefined; })();',
        'exports.path = require("node:path").basename(__filename);',
        'exports.url = __keyloftMeta.url;',
        'exports.f = () => 0;',
        'exports.load = () => __keyloftMeta.import("node:os").then((m) => typeof m.tmpdir);',
      ].join('\n'),
    );
    const { loaded } = loadAndCall(file);
    assert.equal(loaded.exports.strict, true);
    assert.equal(loaded.exports.path, 'shape.cjs');
    assert.equal(loaded.exports.url, pathToFileURL(file).href);
    assert.equal(await (loaded.exports.load as () => Promise<string>)(), 'function');
  });

  it('uses a cache made after a run, and refuses it for another source of the same length', (t) => {
    if (!cc.usable()) return t.skip('this Node has no zlib.crc32');
    const file = join(dir, 'b.cjs');
    writeFileSync(file, 'exports.f = function () { return "one"; };\n');
    const first = loadAndCall(file);
    assert.equal(first.loaded.accepted, false, 'no cache yet');
    saveUserCache(file, first.loaded);
    const second = loadAndCall(file);
    assert.equal(second.loaded.accepted, true, 'the cache written after the first run is used');
    assert.equal(second.value, 'one');
    // Same length, other code: V8 alone checks only the length; the CRC in the file's header refuses it.
    writeFileSync(file, 'exports.f = function () { return "two"; };\n');
    const third = loadAndCall(file);
    assert.equal(third.loaded.accepted, false, 'a cache of another source is not used');
    assert.equal(third.value, 'two');
  });

  it('imports modules at run time from functions that came from the cache', async (t) => {
    if (!cc.usable()) return t.skip('this Node has no zlib.crc32');
    const file = join(dir, 'imports.cjs');
    writeFileSync(file, 'exports.f = () => __keyloftMeta.import("node:path").then((m) => m.basename("/a/b"));\n');
    const first = loadAndCall(file);
    assert.equal(await first.value, 'b');
    saveUserCache(file, first.loaded);
    const second = loadAndCall(file);
    assert.equal(second.loaded.accepted, true);
    // import() written in vm.Script code fails here on Node 20 (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
    assert.equal(await second.value, 'b');
  });

  it('the server bundle has no import() of its own (scripts/bundle.mjs sends them through the loader)', (t) => {
    const bundle = join(REPO_ROOT, 'dist/serve/serve.cjs');
    if (!existsSync(bundle)) return t.skip('no dist/serve (a tsc-only build)');
    const lines = readFileSync(bundle, 'utf8')
      .split('\n')
      .filter((l) => /(^|[^\w.$])import\(/.test(l) && !/^\s*(\*|\/\/)/.test(l));
    assert.deepEqual(lines, []);
    assert.match(readFileSync(bundle, 'utf8'), /__keyloftMeta\.import\("argon2"\)/);
  });

  it('ignores a user cache that others could have written', (t) => {
    if (!cc.usable()) return t.skip('this Node has no zlib.crc32');
    if (typeof process.getuid !== 'function') return t.skip('no POSIX owners here');
    const file = join(dir, 'owned.cjs');
    writeFileSync(file, 'exports.f = () => 5;\n');
    saveUserCache(file, loadAndCall(file).loaded);
    assert.equal((statSync(cc.userCachePath(file)).mode & 0o777).toString(8), '600');
    assert.equal(loadAndCall(file).loaded.accepted, true);
    chmodSync(cc.userCachePath(file), 0o664);
    assert.equal(loadAndCall(file).loaded.accepted, false, 'group-writable file');
    chmodSync(cc.userCachePath(file), 0o600);
    const folder = dirname(cc.userCachePath(file));
    const folderMode = statSync(folder).mode & 0o777;
    chmodSync(folder, 0o777);
    try {
      assert.equal(loadAndCall(file).loaded.accepted, false, 'world-writable folder');
    } finally {
      chmodSync(folder, folderMode);
    }
    assert.equal(loadAndCall(file).loaded.accepted, true);
  });

  it('reads no cache with NODE_DISABLE_COMPILE_CACHE=1', (t) => {
    if (!cc.usable()) return t.skip('this Node has no zlib.crc32');
    const file = join(dir, 'c.cjs');
    writeFileSync(file, 'exports.f = () => 3;\n');
    saveUserCache(file, loadAndCall(file).loaded);
    assert.equal(loadAndCall(file).loaded.accepted, true);
    process.env.NODE_DISABLE_COMPILE_CACHE = '1';
    try {
      assert.equal(loadAndCall(file).loaded.accepted, false);
    } finally {
      delete process.env.NODE_DISABLE_COMPILE_CACHE;
    }
  });

  it('writes the cache when a process that found none exits after its start', (t) => {
    if (!cc.usable()) return t.skip('this Node has no zlib.crc32');
    const file = join(dir, 'd.cjs');
    writeFileSync(file, 'exports.f = () => 4;\n');
    const script = `const cc = await import(${JSON.stringify(pathToFileURL(MODULE).href)}); const l = cc.loadBundle(${JSON.stringify(file)}); l.exports.f(); l.saveIfCold(); console.log(l.accepted);`;
    const run = () => spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env }, encoding: 'utf8' });
    assert.equal(run().stdout.trim(), 'false');
    assert.ok(existsSync(cc.userCachePath(file)), 'written at exit');
    assert.equal(run().stdout.trim(), 'true');
    // Header: magic 'klcc', then the CRC and length of the source.
    assert.equal(readFileSync(cc.userCachePath(file)).readUInt32LE(0), 0x6b6c6363);
  });
});
