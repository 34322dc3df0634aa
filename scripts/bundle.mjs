// Bundles the compiled server (dist/src, from tsc) into dist/bundle/ with esbuild, so a start loads
// a few files instead of ~800 module files (kysely, fastify, jose, yaml, ...). Run after tsc by
// `npm run build` and the test scripts; bin/keyloft.js uses the bundle when it is not older than
// dist/src/cli/main.js, else the unbundled dist/src.
//
// - Entry points: the three modules bin/keyloft.js imports (serve-args, serve, the full CLI main);
//   code splitting keeps the lazy `import()`s lazy (nodemailer, openid-client, the CLI commands).
// - External: native modules and those that read their own files at run time (argon2 and
//   better-sqlite3 load .node files; pg, loaded on first use through createRequire, with its
//   optional pg-native). createRequire calls in dist/src are not followed by esbuild, so what they
//   load (pg, better-sqlite3, fastify's own compilers in plugins/lazy-schemas.ts) is read from
//   node_modules as before.
// - import.meta.url: dist/src files locate package.json and the dashboard's assets relative to
//   themselves; in each file it is replaced by that file's own URL computed from the chunk's, so
//   those paths resolve as they do unbundled.
// - dist/serve/serve.cjs: the same server (src/cli/serve.js) once more, as one CommonJS file, for
//   `keyloft serve`: bin/code-cache.js runs it through vm.Script with a V8 code cache taken after a
//   start. The ES module bundle stays for the full CLI (main.mjs). nodemailer and openid-client are
//   external there (loaded from node_modules on first use: mail, single sign-on), as are Fastify's
//   default schema compilers, which get a file of their own: dist/serve/schema-compilers.cjs (Ajv,
//   fast-json-stringify and what they require, ~120 module files in one; src/http/plugins/
//   lazy-schemas.ts loads it on a route's first request). The bundle is then
//   started once in this process (a throwaway data directory, port 0, one /healthz) and its code
//   cache written to dist/serve/serve.<V8 tag>.v8cache (a folder of its own: the image's warm-up
//   imports every file of dist/bundle/); if that start fails the build goes on
//   without it (each machine then writes its own cache after its first start).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bundle');

const external = ['argon2', 'better-sqlite3', 'pg', 'pg-native'];

const ownImportMeta = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      // Chunks are written flat in dist/bundle/, so '../' from a chunk is dist/.
      const rel = path.relative(dist, args.path).split(path.sep).join('/');
      const own = `new URL(${JSON.stringify(`../${rel}`)}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', own), loader: 'js' };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: {
    'serve-args': path.join(dist, 'src/cli/serve-args.js'),
    serve: path.join(dist, 'src/cli/serve.js'),
    main: path.join(dist, 'src/cli/main.js'),
  },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // CommonJS dependencies call require() for Node's built-ins; ESM output has no require.
  banner: { js: "import { createRequire as __keyloftCreateRequire } from 'node:module'; const require = __keyloftCreateRequire(import.meta.url);" },
  plugins: [ownImportMeta],
  logLevel: 'warning',
  legalComments: 'none',
  metafile: true,
});
const files = Object.keys(result.metafile.outputs).length;
for (const out of Object.keys(result.metafile.outputs)) await asciiOnly(path.resolve(out)); // metafile paths are relative to the working directory

/**
 * esbuild escapes every non-ASCII character of strings, template literals, regular expressions and
 * identifiers (its default `charset: 'ascii'`), but keeps comments as they are: a dependency's
 * "§" or "—" in a comment made V8 hold the whole 2.4 MB source as UTF-16 (twice the memory). So
 * any non-ASCII character left in an output file is in a comment: replaced by "?", the file is one
 * byte per character, and V8 keeps it as a one-byte string.
 */
async function asciiOnly(file) {
  const text = await readFile(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, '?');
  if (ascii !== text) await writeFile(file, ascii);
}

// import.meta in a CommonJS bundle: bin/code-cache.js passes `__keyloftMeta` ({ url, resolve }).
const ownImportMetaCjs = {
  name: 'own-import-meta-cjs',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta') && !text.includes('import(')) return undefined;
      const rel = path.relative(dist, args.path).split(path.sep).join('/');
      const own = `new URL(${JSON.stringify(`../${rel}`)}, __keyloftMeta.url).href`;
      const contents = text
        .replaceAll('import.meta.url', own)
        .replaceAll('import.meta.resolve(', '__keyloftMeta.resolve(')
        // import() of an external package: through the loader (an ES module), not from vm.Script code,
        // whose import() fails on Node 20 once its functions come from a code cache.
        .replace(/\bimport\((['"])([^'"]+)\1\)/g, (m, q, spec) => (cjsExternal.includes(spec) ? `__keyloftMeta.import(${q}${spec}${q})` : m));
      if (contents.includes('import.meta')) throw new Error(`${args.path}: import.meta other than .url and .resolve() is not rewritten for serve.cjs`);
      return { contents, loader: 'js' };
    });
  },
};
// Fastify's default schema compilers (ajv, fast-json-stringify: ~900 KB) are never called from the
// bundle (plugins/lazy-schemas.ts passes its own, which load them from node_modules): external, so
// each start does not read them.
const cjsExternal = [...external, 'nodemailer', 'openid-client', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'];
const serveDir = path.join(dist, 'serve');
await rm(serveDir, { recursive: true, force: true });
const serveCjs = path.join(serveDir, 'serve.cjs');
await build({
  entryPoints: [path.join(dist, 'src/cli/serve.js')],
  outfile: serveCjs,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: cjsExternal,
  plugins: [ownImportMetaCjs],
  logLevel: 'warning',
  legalComments: 'none',
});
await asciiOnly(serveCjs);
process.stdout.write(`bundle: ${files} files in ${path.relative(root, outdir)}/, ${path.relative(root, serveCjs)}\n`);
// No import() may be left in code run by vm.Script (see above): it would fail at run time on Node 20.
const dynamicImports = (await readFile(serveCjs, 'utf8')).split('\n').filter((l) => /(^|[^\w.$])import\(/.test(l) && !/^\s*(\*|\/\/)/.test(l));
if (dynamicImports.length > 0) throw new Error(`serve.cjs: import() outside the loader:\n${dynamicImports.join('\n')}`);

// Fastify's default schema compilers (Ajv and its formats, fast-json-stringify, fast-uri, ...: ~120
// module files), loaded on a route's first request by src/http/plugins/lazy-schemas.ts, as one
// CommonJS file next to serve.cjs: one file read instead of ~120 resolved and wrapped one by one.
const fastifyDir = path.dirname(createRequire(path.join(root, 'package.json')).resolve('fastify'));
const compilersCjs = path.join(serveDir, 'schema-compilers.cjs');
await build({
  stdin: {
    contents: "module.exports = { ajv: require('@fastify/ajv-compiler'), fjs: require('@fastify/fast-json-stringify-compiler') };",
    resolveDir: fastifyDir,
    sourcefile: 'schema-compilers.cjs',
    loader: 'js',
  },
  outfile: compilersCjs,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
});
await asciiOnly(compilersCjs);

// One start of serve.cjs in this process, for its code cache (see bin/code-cache.js).
const cache = await import('../bin/code-cache.js');
if (cache.usable()) {
  const data = mkdtempSync(path.join(tmpdir(), 'keyloft-bundle-'));
  try {
    const loaded = cache.loadBundle(serveCjs, { noCache: true });
    const env = { KEYLOFT_DATA_DIR: data, KEYLOFT_PORT: '0', KEYLOFT_HOST: '127.0.0.1', KEYLOFT_LOG_LEVEL: 'warn' };
    const running = await loaded.exports.startServer(loaded.exports.loadConfig(env), { print: () => {} });
    try {
      const r = await fetch(`${running.url}/healthz`);
      if (r.status !== 200) throw new Error(`/healthz answered ${r.status}`);
      await r.text();
      const { data: code, crc, length } = loaded.createCachedData();
      cache.writeCache(cache.bundledCachePath(serveCjs), code, crc, length, 0o644);
      process.stdout.write(`bundle: code cache of serve.cjs, ${(code.length / 1024).toFixed(0)} KiB\n`);
    } finally {
      await running.close();
    }
  } catch (err) {
    process.stdout.write(`bundle: no code cache for serve.cjs (${err instanceof Error ? err.message : String(err)}); starts will make their own\n`);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}
