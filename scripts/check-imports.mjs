// Checks the arrows of shared/ARCHITECTURE.md on src/: no import from a lower layer to a higher
// one, and no import cycle (type-only imports included). Usage: node scripts/check-imports.mjs
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', 'src');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|tsx)$/.test(name)) files.push(p);
  }
})(root);

const layerOf = (f) =>
  relative(root, f)
    .split('/')[0]
    .replace(/\.tsx?$/, '');
// What each layer must never import (ARCHITECTURE.md "Arrows that must never exist", plus the order of the layers).
const FORBIDDEN = {
  domain: ['crypto', 'store', 'services', 'http', 'client', 'pipeline', 'cli', 'config'],
  crypto: ['store', 'services', 'http', 'client', 'pipeline', 'cli'],
  store: ['services', 'http', 'client', 'pipeline', 'cli'],
  services: ['http', 'client', 'pipeline', 'cli'],
  http: ['store', 'client', 'pipeline', 'cli'],
  // The HTTP client of the keyloft API, shared by pipeline/ and cli/: it knows only domain/.
  client: ['crypto', 'store', 'services', 'http', 'pipeline', 'cli', 'config'],
  pipeline: ['store', 'services', 'http', 'cli'],
  config: ['domain', 'crypto', 'store', 'services', 'http', 'client', 'pipeline', 'cli'],
};

const edges = new Map();
const problems = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const targets = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)) {
    const t = resolve(dirname(f), m[1]).replace(/\.js$/, '');
    const real = files.find((x) => x === `${t}.ts` || x === `${t}.tsx`);
    if (!real) continue;
    targets.push(real);
    const from = layerOf(f);
    const to = layerOf(real);
    if ((FORBIDDEN[from] ?? []).includes(to)) problems.push(`layer: ${relative(root, f)} imports ${relative(root, real)} (${from} → ${to})`);
  }
  edges.set(f, targets);
}

// Cycles: depth-first search, reporting each cycle once.
const state = new Map();
const stack = [];
const seen = new Set();
function visit(f) {
  state.set(f, 1);
  stack.push(f);
  for (const t of edges.get(f) ?? []) {
    if (state.get(t) === 1) {
      const cycle = stack.slice(stack.indexOf(t)).map((x) => relative(root, x));
      const key = [...cycle].sort().join(' ');
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(`cycle: ${[...cycle, relative(root, t)].join(' → ')}`);
      }
    } else if (!state.has(t)) visit(t);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of files) if (!state.has(f)) visit(f);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${files.length} modules: no forbidden import between layers, no import cycle`);
