import { quote, ValidationError } from './errors.js';
import { type Environment, PR_MAX, parseEnvironment } from './rules.js';

/** Limits of a trust policy's fields (also the API schema's bounds). */
export const POLICY_NAME_MAX = 100;
export const ISSUER_MAX = 500;
export const AUDIENCE_MAX = 500;
export const PATTERN_MAX = 500;
export const CLAIMS_MAX = 20;
export const CLAIM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
/** Claims a policy cannot pattern-match: the verifier checks them itself (`sub` is the subject field). */
export const RESERVED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'] as const;
/** Trust policies per project. */
export const POLICIES_PER_PROJECT_MAX = 100;

export interface TrustPolicyInput {
  name: string;
  issuer: string;
  audience: string;
  subject: string;
  environment: Environment;
  claims: Record<string, string>;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Whether an issuer URL is acceptable: `https://` with a host, no user info, query or fragment;
 * with `allowHttpLoopback`, also `http://127.0.0.1[:port]` and `http://localhost[:port]`.
 * Returns the reason it is not, or undefined when it is.
 */
export function issuerProblem(issuer: string, allowHttpLoopback: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(issuer);
  } catch {
    return 'must be an absolute https:// URL';
  }
  if (u.username || u.password) return 'must not contain a user name or password';
  if (u.search || u.hash || issuer.includes('?') || issuer.includes('#')) return 'must not have a query or fragment';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && allowHttpLoopback && (u.hostname === '127.0.0.1' || u.hostname === 'localhost')) return undefined;
  if (u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost')) {
    return 'must be https:// (a loopback http:// issuer needs KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK=true, for tests and local development)';
  }
  return 'must be https://';
}

function text(raw: unknown, field: string, max: number): string {
  const s = typeof raw === 'string' ? raw.trim() : '';
  if (s.length === 0) throw new ValidationError(field, `${field} is required`);
  if (s.length > max) throw new ValidationError(field, `${field} must be at most ${max} characters (got ${s.length})`);
  if (CONTROL.test(s)) throw new ValidationError(field, `${field} must not contain control characters`);
  return s;
}

/**
 * Validates a new trust policy. The subject must start with literal text: a leading `*` would
 * accept tokens for any repository of the issuer (every GitHub repository in the world).
 */
export function validateTrustPolicy(input: Partial<Record<keyof TrustPolicyInput, unknown>>, allowHttpLoopback: boolean): TrustPolicyInput {
  const name = text(input.name, 'name', POLICY_NAME_MAX);
  const issuer = text(input.issuer, 'issuer', ISSUER_MAX);
  const problem = issuerProblem(issuer, allowHttpLoopback);
  if (problem) throw new ValidationError('issuer', `issuer ${problem} (got ${quote(issuer)})`);
  const audience = text(input.audience, 'audience', AUDIENCE_MAX);
  const subject = text(input.subject, 'subject', PATTERN_MAX);
  if (subject.startsWith('*')) {
    throw new ValidationError('subject', 'subject must start with literal text such as repo:OWNER/REPO: (a leading * would accept tokens of any repository)');
  }
  const environment = parseEnvironment(String(input.environment ?? ''), 'environment');
  const claims: Record<string, string> = {};
  const rawClaims = input.claims ?? {};
  if (typeof rawClaims !== 'object' || rawClaims === null || Array.isArray(rawClaims))
    throw new ValidationError('claims', 'claims must be an object of CLAIM: pattern');
  const entries = Object.entries(rawClaims as Record<string, unknown>);
  if (entries.length > CLAIMS_MAX) throw new ValidationError('claims', `claims may list at most ${CLAIMS_MAX} claims (got ${entries.length})`);
  for (const [claim, pattern] of entries) {
    const field = `claims.${claim}`;
    if (!CLAIM_NAME_RE.test(claim))
      throw new ValidationError('claims', `claim name ${quote(claim)} must be 1–64 characters of letters, digits and _.:- starting with a letter or _`);
    if ((RESERVED_CLAIMS as readonly string[]).includes(claim)) {
      throw new ValidationError(
        field,
        `claim ${claim} is checked by keyloft itself${claim === 'sub' ? ' (use the subject field)' : ''}; it cannot be a claim pattern`,
      );
    }
    claims[claim] = text(pattern, field, PATTERN_MAX);
  }
  return { name, issuer, audience, subject, environment, claims };
}

/** The pull request a GitHub-shaped token is for: its `ref` claim `refs/pull/N/merge` (or `/head`). */
export function pullRequestOf(claims: Record<string, unknown>): number | undefined {
  const ref = claims.ref;
  if (typeof ref !== 'string') return undefined;
  const m = /^refs\/pull\/([1-9][0-9]{0,9})\/(merge|head)$/.exec(ref);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= PR_MAX ? n : undefined;
}

/** A claim's value as text for pattern matching: strings as they are, numbers and booleans in JSON form; anything else does not match. */
export function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}
