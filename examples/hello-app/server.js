// Runtime: reports which of its expected secrets are set (never their values), then serves a page.
// `node server.js --check` prints the report and exits (0 when everything is set, 1 otherwise).
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';

const EXPECTED = ['DATABASE_URL', 'SESSION_SECRET'];
const report = EXPECTED.map((name) => `${name}: ${process.env[name] ? 'set' : 'MISSING'}`);
for (const line of report) console.log(`server: ${line}`);
const allSet = EXPECTED.every((name) => process.env[name]);

if (process.argv.includes('--check')) process.exit(allSet ? 0 : 1);

const page = existsSync('dist/index.html') ? readFileSync('dist/index.html', 'utf8') : '<h1>Hello! (not built yet: run the build step)</h1>\n';
const port = Number(process.env.PORT ?? 8080);
createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(allSet ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(`${report.join('\n')}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page);
}).listen(port, '0.0.0.0', () => console.log(`server: listening on :${port}`));
