import { type PasswordHasher, passwordHasher } from './password-hash.js';
import { createHmac, randomBytes } from 'node:crypto';
import type * as Oidc from 'openid-client';
import type { SsoConfig } from '../config.js';
import { KeyloftError } from '../domain/errors.js';
import { EMAIL_MAX } from '../domain/rules.js';
import { hashToken, newId, newToken, tokenKind } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { isUniqueViolation } from '../store/executor.js';
import { insertSsoAttempt, takeSsoAttempt } from '../store/invitations.repository.js';
import { findUserByEmail, insertUser } from '../store/users.repository.js';
import type { BaseDeps } from './deps.js';
import { type NewSession, type UsersService } from './users.service.js';

/** How long a "Sign in with SSO" attempt may take at the identity provider. */
export const SSO_ATTEMPT_TTL_MS = 10 * 60_000;

function failed(message: string): KeyloftError {
  return new KeyloftError('sso_failed', message);
}

/**
 * state, nonce and the PKCE code verifier of one attempt, derived from the attempt's random
 * browser-bound token (kept in an HttpOnly cookie): nothing secret is stored server-side, and only
 * the browser that started the attempt can finish it.
 */
function derive(binding: string, label: string): string {
  return createHmac('sha256', binding).update(`keyloft-sso:${label}`).digest('base64url');
}

type Deps = BaseDeps & { passwords?: PasswordHasher; sso: SsoConfig; allowHttpLoopback: boolean; users: Pick<UsersService, 'openSession'> };

let oidcModule: Promise<typeof Oidc> | undefined;
/** openid-client, loaded with the first SSO sign-in rather than at start. */
const loadOidc = (): Promise<typeof Oidc> => (oidcModule ??= import('openid-client'));

/** OpenID Connect sign-in for people (authorization code + PKCE, openid-client). */
export function createSsoService(deps: Deps) {
  const { db, clock, sso } = deps;
  const passwords = deps.passwords ?? passwordHasher();
  let discovered: Promise<Oidc.Configuration> | undefined;

  function configuration(): Promise<Oidc.Configuration> {
    discovered ??= loadOidc()
      .then((oidc) =>
        oidc.discovery(
          new URL(sso.issuer),
          sso.clientId,
          sso.clientSecret,
          undefined,
          deps.allowHttpLoopback && sso.issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : undefined,
        ),
      )
      .catch((err: unknown) => {
        discovered = undefined; // try again at the next attempt
        throw new KeyloftError(
          'unavailable',
          `the identity provider at ${sso.issuer} could not be reached (${(err as { code?: string }).code ?? 'discovery failed'}); try again later`,
        );
      });
    return discovered;
  }

  return {
    /** Starts an attempt: the browser keeps `binding` (cookie) and goes to `authorizationUrl`. */
    async start(): Promise<{ binding: string; authorizationUrl: string }> {
      const config = await configuration();
      const oidc = await loadOidc();
      const binding = newToken('sso');
      const now = clock();
      await insertSsoAttempt(db, hashToken(binding), now, now + SSO_ATTEMPT_TTL_MS);
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: sso.redirectUri,
        scope: 'openid email',
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(derive(binding, 'pkce')),
        code_challenge_method: 'S256',
        state: derive(binding, 'state'),
        nonce: derive(binding, 'nonce'),
      });
      return { binding, authorizationUrl: url.href };
    },

    /**
     * Finishes an attempt at the callback: the attempt must be this browser's, unused and recent;
     * state, PKCE and nonce are checked by openid-client; the email must be verified and in an
     * allowed domain. A first sign-in creates the account with no project access.
     */
    async finish(binding: string | undefined, query: string, ip: string | null): Promise<NewSession> {
      const now = clock();
      const audit = async (action: string, actor: string, detail: Record<string, unknown>) =>
        insertAuditEvents(db, [{ at: now, projectId: null, actor, actorIp: ip, action, detail }]);
      if (!binding || binding.length > 200 || tokenKind(binding) !== 'sso' || !(await takeSsoAttempt(db, hashToken(binding), now))) {
        await audit('session.sso_failed', '(sso)', { reason: 'attempt' });
        throw failed('this sign-in attempt is unknown, expired or already used in this browser: start again with "Sign in with SSO"');
      }
      const config = await configuration();
      const oidc = await loadOidc();
      const current = new URL(sso.redirectUri);
      current.search = query;
      let claims: Record<string, unknown> | undefined;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: derive(binding, 'pkce'),
          expectedState: derive(binding, 'state'),
          expectedNonce: derive(binding, 'nonce'),
          idTokenExpected: true,
        });
        const id = tokens.claims()!;
        claims = { ...id };
        // Some providers put the email only in the UserInfo answer (for the code flow): ask there, for the same subject.
        if (typeof id.email !== 'string') claims = { ...(await oidc.fetchUserInfo(config, tokens.access_token, id.sub)) };
      } catch (err) {
        const e = err as { code?: string; error?: string; name?: string };
        await audit('session.sso_failed', '(sso)', { reason: String(e.error ?? e.code ?? e.name ?? 'error').slice(0, 60) });
        throw failed(
          'the identity provider\'s answer could not be verified (a wrong state, a used or expired code, or a refused sign-in): start again with "Sign in with SSO"',
        );
      }
      const email = typeof claims?.email === 'string' ? claims.email.trim().toLowerCase() : '';
      if (!email || email.length > EMAIL_MAX || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        await audit('session.sso_failed', '(sso)', { reason: 'no_email' });
        throw failed('the identity provider did not give an email address (keyloft asks for the "email" scope)');
      }
      if (claims?.email_verified !== true) {
        await audit('session.sso_failed', email, { reason: 'email_not_verified' });
        throw failed('the identity provider has not verified your email address, so keyloft cannot match it to an account');
      }
      const domain = email.slice(email.lastIndexOf('@') + 1);
      if (!sso.allowedDomains.includes(domain)) {
        await audit('session.sso_failed', email, { reason: 'domain_not_allowed' });
        throw failed(`single sign-on is not open to addresses at ${domain}: ask an admin of this keyloft for access`);
      }
      let user = await findUserByEmail(db, email);
      if (!user) {
        // No password anyone knows: a random one, hashed like any other (an SSO account signs in through SSO).
        const hash = await passwords.hash(randomBytes(32).toString('base64url'));
        const row = { id: newId('usr'), email, password_hash: hash, is_admin: 0, created_at: now, disabled_at: null, last_login_at: null };
        try {
          await db.transaction().execute(async (trx) => {
            await insertUser(trx, row);
            await insertAuditEvents(trx, [
              { at: now, projectId: null, actor: email, actorIp: ip, action: 'user.created', detail: { email, admin: false, via: 'sso' } },
            ]);
          });
          user = row;
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          user = await findUserByEmail(db, email);
          if (!user) throw err;
        }
      }
      await audit('session.sso_login', email, { issuer: sso.issuer });
      return deps.users.openSession(user.id);
    },
  };
}

export type SsoService = ReturnType<typeof createSsoService>;
