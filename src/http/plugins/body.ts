import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../domain/errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decode(body: Buffer): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new ValidationError('body', 'the request body is not valid UTF-8');
  }
}

/**
 * JSON and text bodies must be valid UTF-8. Fastify's default parsers decode invalid bytes to
 * U+FFFD, which would store a value other than the one sent; these refuse them with a 400 instead.
 * JSON keeps Fastify's own parser (with __proto__ / constructor poisoning refused).
 */
export function registerStrictBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = decode(body as Buffer);
    } catch (err) {
      return done(err as Error, undefined);
    }
    json(req, text, done);
  });
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, decode(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/**
 * A strict `application/x-www-form-urlencoded` parser for @fastify/formbody: browsers
 * percent-encode every non-ASCII byte, so a raw non-ASCII character or a percent escape that is
 * not UTF-8 is refused rather than turned into U+FFFD.
 */
export function strictFormParser(str: string): Record<string, string | string[]> {
  if (/[^\x00-\x7f]/.test(str)) throw new ValidationError('body', 'the form body is not valid: non-ASCII characters must be percent-encoded UTF-8');
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const pair of str.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    let k: string;
    let v: string;
    try {
      k = decodeURIComponent((eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
      v = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      throw new ValidationError('body', 'the form body is not valid: a percent escape is not UTF-8');
    }
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}
