// Prints the figures written by the security tests (dist/security-figures/*.json) as the
// Markdown tables of docs/SECURITY.md. Usage: node scripts/run-tests.mjs security && node scripts/security-figures.mjs
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'dist/security-figures';
if (!existsSync(dir)) {
  console.error('no figures: run `node scripts/run-tests.mjs security` first');
  process.exit(1);
}
const files = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8'))]),
);
const rows = [];
for (const [file, data] of Object.entries(files)) for (const [cls, c] of Object.entries(data.classes ?? {})) rows.push([cls, c.tried, c.refused, file]);
console.log('| attack class | cases tried | refused correctly | test file |');
console.log('|---|---:|---:|---|');
for (const [cls, tried, refused, file] of rows)
  console.log(`| ${cls} | ${tried} | ${refused} | test/security/${file.replace(/-(sqlite|postgres)$/, '')}*.test.ts |`);
const total = rows.reduce((a, r) => [a[0] + r[1], a[1] + r[2]], [0, 0]);
console.log(`| **total** | **${total[0]}** | **${total[1]}** | |`);
for (const d of ['sqlite', 'postgres']) {
  const c = files[`crash-${d}`];
  if (c)
    console.log(
      `\ncrash (${d}): kills ${c.kills}, acknowledged writes ${c.acknowledgedWrites}, lost ${c.lost}, versions ${c.versions}, requests cut by kills ${c.requestsCutByKills}, integrity_check ${c.integrityCheck}`,
    );
  const r = files[`rotation-${d}`];
  if (r)
    console.log(
      `rotation (${d}): project keys re-wrapped ${r.rowsRewrapped}, versions re-sealed ${r.versionsResealed}, interruptions survived ${r.interruptions} (of which SIGKILL ${r.killed}), values checked ${r.valuesChecked}, readable ${r.valuesReadable}`,
    );
}
const k = files['concurrency-postgres'];
if (k)
  console.log(
    `concurrency (postgres, ${k.servers} servers): clients ${k.clients}, attempted ${k.attempted}, acknowledged ${k.acknowledgedWrites}, 409 conflicts ${k.conflicts409}, lost updates ${k.lostUpdates}`,
  );
