// Build step: signs the page it builds with a *build* secret, read from a file.
//
// Under `keyloft run --build`, every build secret is a file in $KEYLOFT_SECRETS_DIR (a private
// directory removed when this process exits). Inside `flyctl deploy`, the Dockerfile mounts the
// same secret at /run/secrets/ASSET_SIGNING_KEY. The value is never printed.
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const NAME = 'ASSET_SIGNING_KEY';
const candidates = [process.env.KEYLOFT_SECRETS_DIR && join(process.env.KEYLOFT_SECRETS_DIR, NAME), `/run/secrets/${NAME}`].filter(Boolean);
const file = candidates.find((f) => existsSync(f));
if (!file) {
  console.error(`build: build secret ${NAME} not found (run me with: keyloft run --build -- node build.js)`);
  process.exit(1);
}
const key = readFileSync(file); // exact bytes, no trailing-newline surprises

const page = `<!doctype html><title>hello from keyloft</title><h1>Hello!</h1>\n`;
const signature = createHmac('sha256', key).update(page).digest('hex');
mkdirSync('dist', { recursive: true });
writeFileSync('dist/index.html', page);
writeFileSync('dist/index.html.sig', `${signature}\n`);
console.log(
  `build: wrote dist/index.html, signed with ${NAME} (${key.length} bytes, from ${file.startsWith('/run/secrets/') ? 'a BuildKit secret mount' : '$KEYLOFT_SECRETS_DIR'})`,
);
