import { quote, ValidationError } from './errors.js';

/** Where a secret lives. */
export const SCOPES = ['production', 'preview', 'build'] as const;
export type Scope = (typeof SCOPES)[number];
export const ENVIRONMENTS = ['production', 'preview'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const ROLES = ['admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const NAME_MAX = 255;
export const VALUE_MAX_BYTES = 64 * 1024;
export const SLUG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** NAME_RE as people read it in messages and the API's descriptions: `[A-Za-z_][A-Za-z0-9_]*`. */
export const NAME_PATTERN = NAME_RE.source.slice(1, -1);
/** The largest pull request number (PostgreSQL `integer`). */
export const PR_MAX = 2_147_483_647;
export const PROJECT_NAME_MAX = 100;
export const EMAIL_MAX = 254;
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 1024;

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export function parseScope(s: string, field = 'scope'): Scope {
  if (!isScope(s)) throw new ValidationError(field, `${field} must be one of production, preview, build (got ${quote(s)})`);
  return s;
}

export function parseEnvironment(s: string, field = 'environment'): Environment {
  if (s !== 'production' && s !== 'preview') {
    throw new ValidationError(field, `${field} must be production or preview (got ${quote(s)})`);
  }
  return s;
}

export function parseRole(s: string, field = 'role'): Role {
  if (!(ROLES as readonly string[]).includes(s)) {
    throw new ValidationError(field, `${field} must be one of admin, member, viewer (got ${quote(s)})`);
  }
  return s as Role;
}

/** Secret names: `[A-Za-z_][A-Za-z0-9_]*`, 1–255 characters, case-sensitive. */
export function validateSecretName(name: string, field = 'name'): string {
  if (name.length === 0) throw new ValidationError(field, `${field} must not be empty`);
  if (name.length > NAME_MAX) {
    throw new ValidationError(field, `${field} must be at most ${NAME_MAX} characters (got ${name.length})`);
  }
  if (!NAME_RE.test(name)) {
    throw new ValidationError(field, `${field} ${quote(name)} must start with a letter or _ and contain only letters, digits and _ (${NAME_PATTERN})`);
  }
  return name;
}

/** Project slugs: `[a-z0-9][a-z0-9-]{0,62}`. */
export function validateSlug(slug: string, field = 'slug'): string {
  if (!SLUG_RE.test(slug)) {
    throw new ValidationError(field, `${field} ${quote(slug)} must be 1–63 characters of a-z, 0-9 and -, starting with a letter or digit`);
  }
  return slug;
}

export function validateProjectName(name: string, field = 'name'): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new ValidationError(field, `${field} must not be empty`);
  if (trimmed.length > PROJECT_NAME_MAX) {
    throw new ValidationError(field, `${field} must be at most ${PROJECT_NAME_MAX} characters`);
  }
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new ValidationError(field, `${field} must not contain control characters`);
  return trimmed;
}

/**
 * Fly app names: lowercase letters, digits and dashes, 1–63 characters. The default app name is
 * the project slug, so every valid slug (even a one-character one) must be a valid app name.
 */
export function validateFlyApp(app: string, field = 'flyApp'): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(app)) {
    throw new ValidationError(field, `${field} ${quote(app)} must be 1–63 characters of a-z, 0-9 and -, starting with a letter or digit`);
  }
  return app;
}

/** Preview app pattern: like a Fly app name, with `<slug>` and `<pr>` placeholders; must contain `<pr>`. */
export function validatePreviewPattern(pattern: string, field = 'flyPreviewPattern'): string {
  if (!pattern.includes('<pr>') || !/^[a-z0-9<>-]{2,80}$/.test(pattern) || /<(?!slug>|pr>)/.test(pattern)) {
    throw new ValidationError(field, `${field} ${quote(pattern)} must use a-z, 0-9, - and the placeholders <slug> and <pr> (which is required)`);
  }
  return pattern;
}

export function validateEmail(email: string, field = 'email'): string {
  const e = email.trim().toLowerCase();
  if (e.length === 0 || e.length > EMAIL_MAX || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) {
    throw new ValidationError(field, `${field} must be an email address like name@example.com`);
  }
  return e;
}

export function validatePassword(password: string, field = 'password'): string {
  if (password.length < PASSWORD_MIN) {
    throw new ValidationError(field, `${field} must be at least ${PASSWORD_MIN} characters`);
  }
  if (password.length > PASSWORD_MAX) throw new ValidationError(field, `${field} must be at most ${PASSWORD_MAX} characters`);
  return password;
}

export function validatePr(pr: unknown, field = 'pr'): number {
  const n = typeof pr === 'string' && /^\d+$/.test(pr) ? Number(pr) : pr;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > PR_MAX) {
    throw new ValidationError(field, `${field} must be a pull request number (a positive whole number)`);
  }
  return n;
}

/** Whether value bytes are text an environment variable or a command-line argument can carry: valid UTF-8 without NUL. */
export function isTextValue(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Has a lone UTF-16 surrogate, which cannot be encoded as UTF-8. */
function hasLoneSurrogate(s: string): boolean {
  return !s.isWellFormed();
}

/**
 * App secret values: UTF-8 text up to 64 KiB, no NUL. Returns the UTF-8 bytes.
 * The message never quotes the value.
 */
export function validateTextValue(value: string, field = 'value'): Uint8Array {
  if (hasLoneSurrogate(value)) throw new ValidationError(field, `${field} must be valid UTF-8 text (it has a lone surrogate)`);
  if (value.includes('\u0000')) {
    throw new ValidationError(field, `${field} must not contain a NUL character (an environment variable cannot hold one)`);
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > VALUE_MAX_BYTES) {
    throw new ValidationError(field, `${field} must be at most ${VALUE_MAX_BYTES} bytes of UTF-8 (got ${bytes.length})`, 'payload_too_large');
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Build secret values: any bytes up to 64 KiB. */
export function validateBinaryValue(value: Uint8Array, field = 'valueBase64'): Uint8Array {
  if (value.length > VALUE_MAX_BYTES) {
    throw new ValidationError(field, `${field} must be at most ${VALUE_MAX_BYTES} bytes (got ${value.length})`, 'payload_too_large');
  }
  return value;
}

/** Strict base64 (standard alphabet, padding optional). */
export function decodeBase64(input: string, field = 'valueBase64'): Uint8Array {
  const s = input.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1) {
    throw new ValidationError(field, `${field} must be standard base64`);
  }
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * Validate a value for a scope: app scopes take text, build takes bytes (text or base64).
 * Exactly one of `value` / `valueBase64` must be given.
 */
export function valueForScope(scope: Scope, input: { value?: string | undefined; valueBase64?: string | undefined }, fieldPrefix = ''): Uint8Array {
  const has = (x: unknown) => typeof x === 'string';
  if (has(input.value) === has(input.valueBase64)) {
    throw new ValidationError(`${fieldPrefix}value`, `give exactly one of ${fieldPrefix}value or ${fieldPrefix}valueBase64`);
  }
  if (has(input.value)) return validateTextValue(input.value!, `${fieldPrefix}value`);
  const bytes = validateBinaryValue(decodeBase64(input.valueBase64!, `${fieldPrefix}valueBase64`), `${fieldPrefix}valueBase64`);
  if (scope !== 'build') {
    // App secrets are text: a base64 body must decode to valid UTF-8 without NUL.
    // ignoreBOM keeps a leading U+FEFF, so a BOM-prefixed text value round-trips byte for byte.
    const text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes);
    if (!Buffer.from(text, 'utf8').equals(Buffer.from(bytes))) {
      throw new ValidationError(`${fieldPrefix}valueBase64`, `${fieldPrefix}valueBase64 must decode to UTF-8 text for ${scope} secrets`);
    }
    return validateTextValue(text, `${fieldPrefix}valueBase64`);
  }
  return bytes;
}

/**
 * Where a secret is stored: a scope, or a per-pull-request preview override `preview#<pr>`
 * (sealed with the preview key pair, its full scope string bound in the AAD).
 */
export type StoredScope = Scope | `preview#${number}`;

/** The stored scope of the preview override for pull request `pr`. */
export function overrideScope(pr: number): `preview#${number}` {
  return `preview#${pr}`;
}

/** The pull request of an override scope string, or null for a plain scope. */
export function overridePr(scope: string): number | null {
  const m = /^preview#([1-9]\d{0,9})$/.exec(scope);
  return m ? Number(m[1]) : null;
}

/** The scope whose key pair seals a stored scope: overrides use the preview key pair. */
export function keyScope(scope: string): string {
  return overridePr(scope) !== null ? 'preview' : scope;
}

/** The stored scope for a scope and an optional pull request (an override is only for preview). */
export function storedScope(scope: Scope, pr: number | string | undefined | null, field = 'pr'): StoredScope {
  if (pr === undefined || pr === null || pr === '') return scope;
  if (scope !== 'preview') throw new ValidationError(field, `${field} is only for preview secrets (a per-pull-request override)`);
  return overrideScope(validatePr(pr, field));
}
