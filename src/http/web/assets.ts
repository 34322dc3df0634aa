import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The dashboard's only stylesheet, script and icon: real files in `src/http/web/assets/`
 * (linted and formatted like the rest), read once at start. The compiled module stays at
 * `dist/src/http/web/`, so the files are found from the package root both in a checkout and
 * in the installed tarball (package.json `files` ships `src/http/web/assets/`; the Docker
 * image copies the folder). The CSP forbids inline script and style, so every bit of
 * presentation lives in these files.
 */
const ASSET_DIR = new URL('../../../../src/http/web/assets/', import.meta.url);

function read(name: string): string {
  return readFileSync(new URL(name, ASSET_DIR), 'utf8');
}

export const APP_CSS = read('app.css');
export const APP_JS = read('app.js');
export const LOGO_SVG = read('icon.svg');

/** A short content hash: the part of an asset's URL that changes when its bytes do. */
function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

/** Content-hashed URLs, so the files can be cached for a year; the ETag is the same hash. */
export const ASSETS = {
  css: { path: `/assets/app.${hash(APP_CSS)}.css`, body: APP_CSS, type: 'text/css; charset=utf-8', etag: `"${hash(APP_CSS)}"` },
  js: { path: `/assets/app.${hash(APP_JS)}.js`, body: APP_JS, type: 'text/javascript; charset=utf-8', etag: `"${hash(APP_JS)}"` },
  icon: { path: `/assets/icon.${hash(LOGO_SVG)}.svg`, body: LOGO_SVG, type: 'image/svg+xml', etag: `"${hash(LOGO_SVG)}"` },
} as const;
