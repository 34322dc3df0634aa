import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'session' | 'api' | 'deploy-key' | 'deploy' | 'setup' | 'csrf' | 'invite' | 'sso' | 'reset';

const PREFIX: Record<TokenKind, string> = {
  session: 'kls',
  api: 'klt',
  'deploy-key': 'kldk',
  deploy: 'kldt',
  setup: 'klsetup',
  csrf: 'klcsrf',
  invite: 'klinv',
  sso: 'klsso',
  reset: 'klreset',
};

/** A new 256-bit random token with a kind prefix, e.g. `klt_…`. */
export function newToken(kind: TokenKind): string {
  return `${PREFIX[kind]}_${randomBytes(32).toString('base64url')}`;
}

/** The kind a token claims by its prefix, or undefined. */
export function tokenKind(token: string): TokenKind | undefined {
  const p = token.slice(0, token.indexOf('_'));
  return (Object.keys(PREFIX) as TokenKind[]).find((k) => PREFIX[k] === p);
}

/** What is stored for a token: SHA-256 (tokens carry 256 bits of entropy, so a fast hash suffices). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two strings (hashes them first so lengths do not leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** A random id with a prefix, for rows. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
