import { ValidationError } from './errors.js';
import { NAME_MAX, validateSecretName, validateTextValue } from './rules.js';

/**
 * Dotenv parsing for imports. Pure: text in, entries out, no I/O.
 *
 * Grammar (one entry per `NAME=value`, blank lines and `#` comment lines ignored):
 * - optional `export ` prefix; optional spaces or tabs around `=`;
 * - unquoted value: the rest of the line, trimmed; a `#` preceded by a space or tab starts a comment;
 * - single-quoted or backtick-quoted value: literal (no escapes), may span lines (backticks as the
 *   `dotenv` package reads them: a value holding both ' and " needs no escaping);
 * - double-quoted value: escapes `\n \r \t \" \\ \$` (any other backslash is kept as is), may span lines;
 * - after a closing quote only whitespace or a `# comment` may follow on that line.
 * CRLF line endings are accepted (a multi-line value gets `\n`), and a leading BOM is dropped.
 *
 * Every error is a ValidationError with field `body` and a message starting `line N:`. Messages name
 * the entry but never quote a value, nor text that could be part of one (such as the left-hand side of
 * a stray `=` inside a broken multi-line key). A name defined twice is refused: imports are
 * all-or-nothing, and ambiguous input should not be guessed at.
 */

export interface DotenvEntry {
  name: string;
  value: string;
  /** 1-based line where the entry starts. */
  line: number;
}

/** Whole-file cap, in bytes of UTF-8. */
export const DOTENV_MAX_BYTES = 5 * 1024 * 1024;
export const DOTENV_MAX_ENTRIES = 5000;

const FIELD = 'body';

type Code = 'validation_failed' | 'payload_too_large';

function fail(line: number, message: string, code: Code = 'validation_failed'): never {
  throw new ValidationError(FIELD, `line ${line}: ${message}`, code);
}

/** Whitespace and an optional `# comment`: what may follow a closing quote. */
const AFTER_QUOTE_RE = /^\s*(?:#[^]*)?$/;
/** An inline comment in an unquoted value: a `#` after a space or tab. */
const INLINE_COMMENT_RE = /[ \t]#/;
const EXPORT_RE = /^export\s+/;

function checkName(key: string, line: number): void {
  try {
    validateSecretName(key, 'name');
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    // validateSecretName quotes the name; here the "name" may be a fragment of a broken
    // multi-line value, so describe the problem without echoing it.
    if (key.length === 0) fail(line, 'expected NAME=value (the name before = is missing)');
    if (key.length > NAME_MAX) fail(line, `the name is longer than ${NAME_MAX} characters`);
    fail(line, 'invalid name: a name must start with a letter or _ and contain only letters, digits and _');
  }
}

function checkValue(value: string, name: string, line: number): void {
  try {
    validateTextValue(value, `the value of ${name}`);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    fail(line, err.message, err.code === 'payload_too_large' ? 'payload_too_large' : 'validation_failed');
  }
}

function countNewlines(s: string): number {
  let count = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) count++;
  return count;
}

function lineEnd(src: string, from: number): number {
  const i = src.indexOf('\n', from);
  return i === -1 ? src.length : i;
}

/** Parses dotenv text into entries in file order. Throws ValidationError (field `body`) on any error. */
export function parseDotenv(text: string): DotenvEntry[] {
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the length check is a cheap lower bound.
  if (text.length > DOTENV_MAX_BYTES || Buffer.byteLength(text, 'utf8') > DOTENV_MAX_BYTES) {
    throw new ValidationError(FIELD, `the file must be at most ${DOTENV_MAX_BYTES} bytes of UTF-8`, 'payload_too_large');
  }
  let src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  src = src.replace(/\r\n/g, '\n');

  const entries: DotenvEntry[] = [];
  const firstSeen = new Map<string, number>();
  const n = src.length;
  let pos = 0; // start of the current physical line
  let line = 1; // its 1-based number

  while (pos < n) {
    const eol = lineEnd(src, pos);
    const raw = src.slice(pos, eol);
    const content = raw.trim();
    if (content === '' || content.startsWith('#')) {
      pos = eol + 1;
      line++;
      continue;
    }

    const startLine = line;
    const eq = raw.indexOf('=');
    if (eq === -1) fail(startLine, 'expected NAME=value');
    const name = raw.slice(0, eq).trim().replace(EXPORT_RE, '');
    checkName(name, startLine);
    const first = firstSeen.get(name);
    if (first !== undefined) fail(startLine, `${name} is defined twice (first on line ${first})`);
    if (entries.length >= DOTENV_MAX_ENTRIES) {
      fail(startLine, `the file must have at most ${DOTENV_MAX_ENTRIES} entries`, 'payload_too_large');
    }

    let v = pos + eq + 1;
    while (v < eol && (src[v] === ' ' || src[v] === '\t')) v++;
    const opener = v < eol ? src[v] : '';

    let value: string;
    let next: number; // where the rest of the entry's last line starts (after the closing quote)
    let lastLine = startLine; // line holding the closing quote
    if (opener === '"') {
      let out = '';
      let chunk = v + 1;
      let i = chunk;
      let closed = false;
      while (i < n) {
        const c = src[i];
        if (c === '"') {
          closed = true;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= n) break;
          const d = src[i + 1]!;
          let rep: string;
          switch (d) {
            case 'n':
              rep = '\n';
              break;
            case 'r':
              rep = '\r';
              break;
            case 't':
              rep = '\t';
              break;
            case '"':
            case '\\':
            case '$':
              rep = d;
              break;
            default:
              rep = `\\${d}`;
              if (d === '\n') lastLine++;
          }
          out += src.slice(chunk, i) + rep;
          i += 2;
          chunk = i;
          continue;
        }
        if (c === '\n') lastLine++;
        i++;
      }
      if (!closed) fail(startLine, `unterminated double-quoted value for ${name}`);
      value = out + src.slice(chunk, i);
      next = i + 1;
    } else if (opener === "'" || opener === '`') {
      const close = src.indexOf(opener, v + 1);
      if (close === -1) fail(startLine, `unterminated ${opener === '`' ? 'backtick' : 'single'}-quoted value for ${name}`);
      value = src.slice(v + 1, close);
      lastLine += countNewlines(value);
      next = close + 1;
    } else {
      const rest = src.slice(pos + eq + 1, eol);
      const hash = rest.search(INLINE_COMMENT_RE);
      value = (hash === -1 ? rest : rest.slice(0, hash)).trim();
      next = eol;
    }

    const end = lineEnd(src, next);
    if (!AFTER_QUOTE_RE.test(src.slice(next, end))) {
      const where = lastLine === startLine ? '' : ` (the value starts on line ${startLine})`;
      fail(lastLine, `unexpected text after the closing quote of ${name}${where}; only a # comment may follow`);
    }
    checkValue(value, name, startLine);

    firstSeen.set(name, startLine);
    entries.push({ name, value, line: startLine });
    pos = end + 1;
    line = lastLine + 1;
  }
  return entries;
}
