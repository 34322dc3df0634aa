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
import { readFile, rm } from 'node:fs/promises';
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
process.stdout.write(`bundle: ${files} files in ${path.relative(root, outdir)}/\n`);
