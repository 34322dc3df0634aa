#!/usr/bin/env node
// Entry point of the `keyloft` command; the TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('keyloft: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
await import(main.href);
