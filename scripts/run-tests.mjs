// Runs every compiled test file under dist/test with node's test runner.
// Usage: node scripts/run-tests.mjs [substring-filter...]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
// A compiled test whose source is gone (moved or deleted since the last build: tsc never removes
// output) is not run.
const hasSource = (f) => ['.ts', '.tsx'].some((ext) => existsSync(f.replace(/^dist\//, '').replace(/\.js$/, ext)));
const files = walk('dist/test', [])
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const child = spawn(process.execPath, ['--test', '--test-concurrency=3', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
