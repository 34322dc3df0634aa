// Loads the server's CommonJS bundle (dist/serve/serve.cjs, scripts/bundle.mjs) through vm.Script with
// a V8 code cache made *after* a start, so a restart neither parses nor compiles the code a start runs.
//
// Node's own compile cache (module.enableCompileCache, Node >= 22.1) keeps only what V8 compiles
// eagerly, a module's top level: every function a start calls (Fastify's, the router's, keyloft's)
// was still compiled at each start, and Node 20 has no compile cache at all. A code cache taken from
// the script after it ran holds those functions too (V8's ScriptCompiler::CreateCodeCache).
//
// The cache holds compiled JavaScript of the bundle only, never data. V8 refuses a cache made by
// another V8 version or with other code-relevant flags (`script.cachedDataRejected`), and every file
// starts with the CRC-32 and length of the source it was made from, so a rebuilt bundle never runs
// an old cache. Where it is read from, first found:
//   1. dist/serve/serve.<V8 tag>.v8cache: made by `npm run build` (scripts/bundle.mjs starts the
//      server once in process), so an image built with the same Node starts warm;
//   2. keyloft-serve-<path hash>-<V8 tag>.v8cache in NODE_COMPILE_CACHE, else Node's default
//      (<tmp>/node-compile-cache): written when the process exits after a start that found no
//      usable cache (one file per checkout and V8 tag, replaced atomically); read only when the
//      file and its folder belong to this user and are writable by no one else.
// NODE_DISABLE_COMPILE_CACHE=1 turns both off. Without zlib.crc32 (Node < 20.15) `usable()` is false
// and bin/keyloft.js loads the ES module bundle instead.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';

const MAGIC = 0x6b6c6363; // 'klcc'
const HEADER = 12; // magic, CRC-32 of the source, source length (uint32 little-endian each)

export function usable() {
  return typeof zlib.crc32 === 'function';
}

/** The build-time cache file for `bundleFile` under the running V8 (version and flags). */
export function bundledCachePath(bundleFile) {
  return path.join(path.dirname(bundleFile), `serve.${v8.cachedDataVersionTag()}.v8cache`);
}

/** The cache file a start writes for `bundleFile` when it found none it could use. */
export function userCachePath(bundleFile) {
  const dir = process.env.NODE_COMPILE_CACHE || path.join(tmpdir(), 'node-compile-cache');
  const id = createHash('sha256').update(bundleFile).digest('hex').slice(0, 12);
  return path.join(dir, `keyloft-serve-${id}-${v8.cachedDataVersionTag()}.v8cache`);
}

/**
 * Whether only this user could have written `file`: it and its folder belong to this user and no one
 * else may write them. A code cache is run as code, and the user cache's folder may be under the
 * shared temporary directory. (The build's cache next to the bundle is trusted as the bundle is.)
 */
function ownedByUs(file) {
  if (typeof process.getuid !== 'function') return true;
  const uid = process.getuid();
  for (const p of [file, path.dirname(file)]) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st || st.uid !== uid || (st.mode & 0o022) !== 0) return false;
  }
  return true;
}

function readCache(file, crc, length, { mustOwn = false } = {}) {
  let buf;
  try {
    if (mustOwn && !ownedByUs(file)) return undefined;
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length <= HEADER || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== crc || buf.readUInt32LE(8) !== length) return undefined;
  return buf.subarray(HEADER);
}

/**
 * Writes `data` for a source with this CRC and length to `file`, atomically (another process may read
 * it). Mode 0600 for the user cache; the build's cache is 0644, to be read by the server's user.
 */
export function writeCache(file, data, crc, length, mode = 0o600) {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(crc, 4);
  head.writeUInt32LE(length, 8);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([head, data]), { mode });
  renameSync(tmp, file);
}

/**
 * Runs the CommonJS bundle `bundleFile` (a file path) and returns its exports, plus `saveIfCold()`:
 * call it once the process has done its start; at exit it writes the user cache when no cache was
 * accepted. `{ noCache: true }` compiles without reading a cache (the build's own run).
 */
export function loadBundle(bundleFile, { noCache = false } = {}) {
  let bytes = readFileSync(bundleFile);
  const crc = zlib.crc32(bytes);
  const length = bytes.length;
  let source = bytes.toString('utf8');
  bytes = undefined; // not kept alive by the functions below (2.5 MB)
  const off = process.env.NODE_DISABLE_COMPILE_CACHE === '1' || noCache;
  const userFile = userCachePath(bundleFile);
  const cachedData = off ? undefined : (readCache(bundledCachePath(bundleFile), crc, length) ?? readCache(userFile, crc, length, { mustOwn: true }));
  const url = pathToFileURL(bundleFile).href;
  // One line with the wrapper, so line numbers in stack traces are the file's. Strict, as the ES module bundle is.
  const wrapped = `(function (exports, require, module, __filename, __dirname, __keyloftMeta) {"use strict";${source}\n})`;
  source = undefined;
  const script = new vm.Script(wrapped, {
    filename: bundleFile,
    cachedData,
  });
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  const mod = { exports: {} };
  // import.meta and import() of the bundled ES modules (scripts/bundle.mjs rewrites them to this): the
  // bundle's own URL, and resolution and loading from the package root (bin/ and dist/ resolve packages
  // alike). import() is not left to the vm.Script code: on Node 20 it fails there once the calling
  // function came from a code cache (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
  const meta = { url, resolve: (specifier) => import.meta.resolve(specifier), import: (specifier) => import(specifier) };
  script.runInThisContext()(mod.exports, createRequire(bundleFile), mod, bundleFile, path.dirname(bundleFile), meta);
  return {
    exports: mod.exports,
    accepted,
    createCachedData: () => ({ data: script.createCachedData(), crc, length }),
    saveIfCold: () => {
      if (accepted || off) return;
      process.once('exit', () => {
        try {
          writeCache(userFile, script.createCachedData(), crc, length);
        } catch {
          // No cache: the next start compiles as this one did.
        }
      });
    },
  };
}
