#!/usr/bin/env node
// Entry point of the `keyloft` command; the TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { statSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// Node's compile cache (Node >= 22.1; absent on Node 20, where this is skipped): the compiled code
// of keyloft and its dependencies is kept on disk (NODE_COMPILE_CACHE, else Node's default under the
// temporary directory), so a restart does not parse and compile them again. It holds compiled
// JavaScript only, never data. NODE_DISABLE_COMPILE_CACHE=1 turns it off; a directory that cannot be
// written only means no cache.
if (typeof module.enableCompileCache === 'function') {
  try {
    module.enableCompileCache();
  } catch {
    // No cache: start as without it.
  }
}

const main = new URL('../dist/src/cli/main.js', import.meta.url);
const mainStat = statSync(main, { throwIfNoEntry: false });
if (!mainStat) {
  process.stderr.write('keyloft: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
// The bundle (scripts/bundle.mjs, built by `npm run build` after tsc: a start loads a few files
// instead of ~800 modules) when it exists and is not older than the compiled dist/src; else dist/src
// itself, so a tsc-only build never runs a stale bundle.
const bundleStat = statSync(new URL('../dist/bundle/serve.mjs', import.meta.url), { throwIfNoEntry: false });
const bundled = bundleStat !== undefined && bundleStat.mtimeMs >= mainStat.mtimeMs;
const entry = (name) => new URL(bundled ? `../dist/bundle/${name}.mjs` : `../dist/src/cli/${name}.js`, import.meta.url).href;
// `keyloft serve` with plain options starts the server without loading the other commands
// (src/cli/serve-args.ts); any other command line, and `serve --help`, goes through the full CLI.
const { plainServeArgs } = await import(entry('serve-args'));
const serve = plainServeArgs(process.argv.slice(2));
if (!serve) await import(entry('main'));
else {
  // With the bundle, the CommonJS copy of the server and its V8 code cache (bin/code-cache.js) when
  // this Node can load it that way; else the ES module bundle (or dist/src).
  const cjs = new URL('../dist/serve/serve.cjs', import.meta.url);
  const cjsStat = bundled ? statSync(cjs, { throwIfNoEntry: false }) : undefined;
  const cache = cjsStat && cjsStat.mtimeMs >= mainStat.mtimeMs ? await import('./code-cache.js') : undefined;
  if (cache?.usable()) {
    const loaded = cache.loadBundle(fileURLToPath(cjs));
    await loaded.exports.serveCommand(serve);
    loaded.saveIfCold();
  } else await (await import(entry('serve'))).serveCommand(serve);
}
