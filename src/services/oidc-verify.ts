import { decodeJwt, decodeProtectedHeader, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose';
import { KeyloftError } from '../domain/errors.js';
import { issuerProblem } from '../domain/trust-policy.js';
import type { IssuerKeys } from './oidc-keys.js';

/** An ID token longer than this is refused before any parsing. */
export const ID_TOKEN_MAX_BYTES = 16 * 1024;
/** Leeway for `exp`, `nbf` and `iat`. */
export const CLOCK_LEEWAY_S = 60;
/** The only signature algorithms accepted (asymmetric: a public key can never be used as an HMAC secret). */
export const ALGORITHMS = ['RS256', 'ES256'] as const;

export type TokenReason =
  | 'too_large'
  | 'malformed'
  | 'unsupported_algorithm'
  | 'issuer_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'missing_claim';

const MESSAGES: Record<TokenReason, string> = {
  too_large: `the ID token is larger than ${ID_TOKEN_MAX_BYTES} bytes`,
  malformed: 'the ID token is not a well-formed signed JWT',
  unsupported_algorithm: `the ID token must be signed with ${ALGORITHMS.join(' or ')}`,
  issuer_not_allowed: 'the ID token names an issuer that is not an https:// URL',
  unknown_key: "the ID token's signing key (kid) is not in the issuer's key set",
  bad_signature: "the ID token's signature does not verify",
  expired: 'the ID token has expired',
  not_yet_valid: 'the ID token is not valid yet (nbf)',
  issued_in_future: 'the ID token was issued in the future (iat)',
  missing_claim: 'the ID token lacks a required claim (iss, sub, aud, exp, iat)',
};

/** A refused ID token: 401 `oidc_token_invalid` with `details.reason`. */
export class TokenRefusal extends KeyloftError {
  constructor(readonly reason: TokenReason) {
    super('oidc_token_invalid', MESSAGES[reason], 'idToken', { reason });
    this.name = 'TokenRefusal';
  }
}

/** No policy accepts the token: 403, one message whatever the reason, so policies cannot be probed. */
export class PolicyMismatch extends KeyloftError {
  constructor() {
    super('oidc_policy_mismatch', 'no trust policy of this project and environment accepts this ID token');
    this.name = 'PolicyMismatch';
  }
}

/** What can be read from a token before its signature is checked: enough to pick the policies and audit a refusal. */
export interface UnverifiedToken {
  issuer: string | undefined;
  subject: string | undefined;
  kid: string | undefined;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Reads the header and claims of an ID token without trusting them: size first (before any
 * parsing), then shape, algorithm and issuer form. Throws TokenRefusal.
 */
export function peekToken(
  idToken: string,
  allowHttpLoopback: boolean,
  seen: UnverifiedToken = { issuer: undefined, subject: undefined, kid: undefined },
): UnverifiedToken & { issuer: string } {
  if (Buffer.byteLength(idToken, 'utf8') > ID_TOKEN_MAX_BYTES) throw new TokenRefusal('too_large');
  // An unsigned token (`alg: none`) has an empty third part: say why it is refused.
  const parts = idToken.split('.');
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: JWTPayload;
  try {
    if (parts.length !== 3) throw new Error('parts');
    header = decodeProtectedHeader(idToken);
    claims = decodeJwt(idToken);
  } catch {
    throw new TokenRefusal('malformed');
  }
  seen.issuer = typeof claims.iss === 'string' ? claims.iss : undefined;
  seen.subject = typeof claims.sub === 'string' ? claims.sub : undefined;
  seen.kid = typeof header.kid === 'string' ? header.kid : undefined;
  if (typeof header.alg !== 'string' || !(ALGORITHMS as readonly string[]).includes(header.alg)) throw new TokenRefusal('unsupported_algorithm');
  if (!COMPACT_JWS.test(idToken)) throw new TokenRefusal('malformed');
  if (seen.issuer === undefined || seen.subject === undefined) throw new TokenRefusal('missing_claim');
  if (issuerProblem(seen.issuer, allowHttpLoopback)) throw new TokenRefusal('issuer_not_allowed');
  return { ...seen, issuer: seen.issuer };
}

/**
 * Verifies an ID token of `issuer` for one of `audiences`: signature with the issuer's keys
 * (RS256/ES256 only), `iss`, `aud`, `exp`, `nbf` and `iat` with 60 s leeway. An unknown `kid`
 * refreshes the issuer's keys (at most once a minute). Throws TokenRefusal, PolicyMismatch
 * (audience) or the keys' 503.
 */
export async function verifyToken(
  deps: { keys: IssuerKeys; clock: () => number },
  idToken: string,
  issuer: string,
  kid: string | undefined,
  audiences: string[],
): Promise<JWTPayload & { sub: string; iss: string }> {
  const keySet = await deps.keys.keysFor(issuer, kid);
  const now = deps.clock();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keySet, {
      issuer,
      audience: audiences,
      algorithms: [...ALGORITHMS],
      clockTolerance: CLOCK_LEEWAY_S,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'iat', 'sub'],
    }));
  } catch (err) {
    throw mapJoseError(err);
  }
  if (typeof payload.iat !== 'number' || payload.iat > now / 1000 + CLOCK_LEEWAY_S) throw new TokenRefusal('issued_in_future');
  return payload as JWTPayload & { sub: string; iss: string };
}

function mapJoseError(err: unknown): KeyloftError {
  if (err instanceof KeyloftError) return err;
  if (err instanceof joseErrors.JWTExpired) return new TokenRefusal('expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return err.reason === 'missing' ? new TokenRefusal('missing_claim') : new PolicyMismatch();
    if (err.claim === 'nbf') return new TokenRefusal('not_yet_valid');
    if (err.claim === 'iat') return new TokenRefusal(err.reason === 'missing' ? 'missing_claim' : 'issued_in_future');
    if (err.reason === 'missing') return new TokenRefusal('missing_claim');
    return new TokenRefusal('malformed');
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new TokenRefusal('bad_signature');
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys || err instanceof joseErrors.JWKSInvalid)
    return new TokenRefusal('unknown_key');
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return new TokenRefusal('unsupported_algorithm');
  return new TokenRefusal('malformed');
}
