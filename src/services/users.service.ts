import type { ApiToken, User } from '../domain/contract.js';
import { DUMMY_HASH, type PasswordHasher, passwordHasher } from './password-hash.js';
import { ConflictError, KeyloftError, NotFoundError, UnauthenticatedError, quote, ValidationError } from '../domain/errors.js';
import { validateEmail, validatePassword } from '../domain/rules.js';
import { hashToken, newId, newToken, safeEqual } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { isUniqueViolation } from '../store/executor.js';
import type { Transaction } from 'kysely';
import type { ApiTokenRow, DB } from '../store/schema.js';
import { consumeSetting, countFailure, isKnownAddress, lockUntil, rememberAddress, setLastLogin, sweepSpent } from '../store/signin.repository.js';
import {
  clearThrottle,
  countUsers,
  deleteExpiredSessions,
  deleteSession,
  findApiTokenByHash,
  findSession,
  findUserByEmail,
  findUserById,
  getSetting,
  getThrottles,
  insertApiToken,
  insertSession,
  insertUser,
  listApiTokens,
  listUsers,
  putSetting,
  revokeApiToken,
  touchApiToken,
  touchSession,
} from '../store/users.repository.js';
import { type Actor, actorLabel, requireUser } from './actor.js';
import type { BaseDeps } from './deps.js';
import { issuedInFuture } from './clock.js';

/** Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). */

/**
 * Lockout policy. Failures lock the (account, address) pair with growing delays: after
 * `pairFailures` failures 1 minute, doubling with every further failure up to an hour, counted
 * over a day. An address that already signed in to the account is never locked by failures
 * from elsewhere; other addresses are also held back once the account as a whole has seen
 * `accountFailures` failures (a spread-out guess). One address guessing at many accounts is
 * locked after `addressFailures`.
 */
export const LOCKOUT = {
  pairFailures: 5,
  pairWindowMs: 24 * 3_600_000,
  pairBaseLockMs: 60_000,
  pairMaxLockMs: 3_600_000,
  accountFailures: 20,
  addressFailures: 20,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
} as const;

/** How long a lock lasts after the `n`-th failure of an (account, address) pair (0: not locked yet). */
export function pairLockMs(n: number): number {
  if (n < LOCKOUT.pairFailures) return 0;
  return Math.min(LOCKOUT.pairMaxLockMs, LOCKOUT.pairBaseLockMs * 2 ** Math.min(20, n - LOCKOUT.pairFailures));
}

/** Throttle keys: per (account, address), per account, per address. */
export function throttleKeys(email: string, ip: string) {
  return { pair: `pair:${email}|${ip}`, acct: `acct:${email}`, addr: `ip:${ip}` };
}

/** Reset links live one hour. */
export const RESET_TTL_MS = 3_600_000;

const SETUP_TOKEN_KEY = 'setup_token_hash';

/** A personal API token as listed: never the token itself. */
export type ApiTokenInfo = ApiToken;
export type { User };

export interface NewSession {
  token: string;
  csrfToken: string;
  user: User;
  expiresAt: number;
}

type Deps = BaseDeps & {
  passwords?: PasswordHasher;
  sessionTtlMs: number;
  sessionMaxMs: number /** KEYLOFT_SSO_ONLY: password sign-in is off. */;
  ssoOnly?: boolean;
};

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function tokenInfo(t: ApiTokenRow): ApiTokenInfo {
  return {
    id: t.id,
    name: t.name,
    createdAt: new Date(t.created_at).toISOString(),
    lastUsedAt: iso(t.last_used_at),
    expiresAt: iso(t.expires_at),
    readOnly: t.read_only === 1,
  };
}

export function createUsersService(deps: Deps) {
  const { db, clock } = deps;
  const passwords = deps.passwords ?? passwordHasher();

  async function createUserRow(
    emailIn: string,
    password: string,
    isAdmin: boolean,
    by: string,
    ip: string | null,
    first?: (trx: Transaction<DB>) => Promise<void>,
  ): Promise<User> {
    const email = validateEmail(emailIn, 'email');
    validatePassword(password, 'password');
    const hash = await passwords.hash(password);
    const now = clock();
    const user = { id: newId('usr'), email, password_hash: hash, is_admin: isAdmin ? 1 : 0, created_at: now, disabled_at: null, last_login_at: null };
    try {
      await db.transaction().execute(async (trx) => {
        if (first) await first(trx);
        await insertUser(trx, user);
        await insertAuditEvents(trx, [{ at: now, projectId: null, actor: by, actorIp: ip, action: 'user.created', detail: { email, admin: isAdmin } }]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`a user with email ${quote(email)} already exists`, 'email');
      throw err;
    }
    return { id: user.id, email, isAdmin, createdAt: new Date(now).toISOString() };
  }

  async function newSession(userId: string, email: string, isAdmin: boolean, ip: string | null): Promise<NewSession> {
    const token = newToken('session');
    const csrfToken = newToken('csrf');
    const now = clock();
    const expiresAt = now + Math.min(deps.sessionTtlMs, deps.sessionMaxMs);
    await insertSession(db, {
      id_hash: hashToken(token),
      user_id: userId,
      csrf_token: csrfToken,
      created_at: now,
      expires_at: expiresAt,
      last_seen_at: now,
      ip,
    });
    return { token, csrfToken, expiresAt, user: { id: userId, email, isAdmin, createdAt: new Date(now).toISOString() } };
  }

  return {
    /** Whether the first-run setup is still open (no user exists). */
    async needsSetup(): Promise<boolean> {
      return (await countUsers(db)) === 0;
    },

    /** On a server with no users: a new one-time setup token (its hash replaces any earlier one). */
    async issueSetupToken(): Promise<string | undefined> {
      if ((await countUsers(db)) > 0) return undefined;
      const token = newToken('setup');
      await putSetting(db, SETUP_TOKEN_KEY, hashToken(token));
      return token;
    },

    /**
     * Creates the first admin with the one-time setup token, and signs them in. The token is
     * consumed by a conditional delete in the transaction that creates the user, so it works
     * exactly once even when several requests race (on any number of instances).
     */
    async setup(input: { setupToken: string; email: string; password: string }, ip: string | null): Promise<NewSession> {
      const stored = await getSetting(db, SETUP_TOKEN_KEY);
      if ((await countUsers(db)) > 0 || !stored) throw new KeyloftError('conflict', 'setup is already complete; sign in instead');
      const sent = hashToken(input.setupToken.trim());
      if (!safeEqual(sent, stored)) throw new ValidationError('setupToken', 'the setup token is not the one printed at first start');
      const user = await createUserRow(input.email, input.password, true, 'setup', ip, async (trx) => {
        if (!(await consumeSetting(trx, SETUP_TOKEN_KEY, sent))) throw new KeyloftError('conflict', 'setup is already complete; sign in instead');
      });
      return newSession(user.id, user.email, true, ip);
    },

    /** Creates a user (instance admins only, or the operator CLI with a system actor). */
    async createUser(actor: Actor, input: { email: string; password: string; isAdmin?: boolean }): Promise<User> {
      if (actor.kind !== 'system' && !(actor.kind === 'user' && actor.isAdmin)) throw new KeyloftError('forbidden', 'only an instance admin can create users');
      return createUserRow(input.email, input.password, input.isAdmin ?? false, actorLabel(actor), actor.ip);
    },

    async listUsers(actor: Actor): Promise<User[]> {
      if (actor.kind !== 'system' && !(actor.kind === 'user' && actor.isAdmin)) throw new KeyloftError('forbidden', 'only an instance admin can list users');
      return (await listUsers(db)).map((u) => ({ id: u.id, email: u.email, isAdmin: u.is_admin === 1, createdAt: new Date(u.created_at).toISOString() }));
    },

    /**
     * Checks email and password and opens a new session (a new id every time).
     * Unknown accounts get the same answer, after the same work, as wrong passwords;
     * repeated failures lock the (account, address) pair with growing delays (see LOCKOUT).
     */
    async login(emailIn: string, password: string, ip: string): Promise<NewSession> {
      if (deps.ssoOnly) throw new KeyloftError('sso_only', 'password sign-in is turned off on this server: use "Sign in with SSO"');
      const email = typeof emailIn === 'string' ? emailIn.trim().toLowerCase().slice(0, 254) : '';
      const now = clock();
      const keys = throttleKeys(email, ip);
      const user = email ? await findUserByEmail(db, email) : undefined;
      // A known-good address is held back only by its own failures (and its own address-wide limit).
      const known = user ? await isKnownAddress(db, user.id, ip) : false;
      const throttles = await getThrottles(db, known ? [keys.pair, keys.addr] : [keys.pair, keys.addr, keys.acct]);
      const locked = throttles.find((t) => t.locked_until > now);
      if (locked) {
        const minutes = Math.max(1, Math.ceil((locked.locked_until - now) / 60_000));
        throw new KeyloftError('locked_out', `too many failed sign-in attempts; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
      }
      const ok = await passwords.verify(user?.password_hash ?? DUMMY_HASH, String(password ?? '').slice(0, 1024));
      if (!user || !ok) {
        await db.transaction().execute(async (trx) => {
          // Counted in SQL, not from the values read above: parallel guesses must not overwrite each other's count.
          const n = await countFailure(trx, keys.pair, email, now, LOCKOUT.pairWindowMs);
          if (pairLockMs(n) > 0) await lockUntil(trx, keys.pair, now + pairLockMs(n));
          if ((await countFailure(trx, keys.acct, email, now, LOCKOUT.windowMs)) >= LOCKOUT.accountFailures)
            await lockUntil(trx, keys.acct, now + LOCKOUT.lockMs);
          if ((await countFailure(trx, keys.addr, null, now, LOCKOUT.windowMs)) >= LOCKOUT.addressFailures)
            await lockUntil(trx, keys.addr, now + LOCKOUT.lockMs);
          await insertAuditEvents(trx, [{ at: now, projectId: null, actor: email || '(empty)', actorIp: ip, action: 'session.login_failed' }]);
        });
        throw new UnauthenticatedError('email or password is wrong');
      }
      // Only after the right password: telling a guesser that an account is disabled would reveal it exists.
      if (user.disabled_at !== null) throw new KeyloftError('account_disabled', 'this account is disabled; ask an instance admin of your keyloft to enable it');
      await db.transaction().execute(async (trx) => {
        await clearThrottle(trx, keys.pair);
        await rememberAddress(trx, user.id, ip, now);
        await setLastLogin(trx, user.id, now);
      });
      return newSession(user.id, user.email, user.is_admin === 1, ip);
    },

    /** Prunes expired sessions, spent reset links and stale lockout rows (run periodically). */
    async sweep(): Promise<{ sessions: number }> {
      const now = clock();
      const sessions = await deleteExpiredSessions(db, now);
      await sweepSpent(db, now, now - LOCKOUT.pairWindowMs);
      return { sessions };
    },

    /** A new session for a user whose identity another path proved (an accepted invitation, single sign-on). */
    async openSession(userId: string): Promise<NewSession> {
      const u = await findUserById(db, userId);
      if (!u) throw new UnauthenticatedError('the account no longer exists');
      // A disabled account gets no session by any path (invitation, single sign-on).
      if (u.disabled_at !== null) throw new KeyloftError('account_disabled', 'this account is disabled; ask an instance admin of your keyloft to enable it');
      return newSession(u.id, u.email, u.is_admin === 1, null);
    },

    /** The user of a live session (sliding expiry), or undefined. */
    async sessionUser(token: string): Promise<{ userId: string; email: string; isAdmin: boolean; csrfToken: string; idHash: string } | undefined> {
      const idHash = hashToken(token);
      const s = await findSession(db, idHash);
      const now = clock();
      if (!s) return undefined;
      // Issued or last seen "in the future": the clock moved back; refuse (without deleting: the clock may be the one that is wrong).
      if (issuedInFuture(s.created_at, now) || issuedInFuture(s.last_seen_at, now)) return undefined;
      // Idle expiry, and the absolute lifetime from sign-in however active the session was.
      const hardEnd = s.created_at + deps.sessionMaxMs;
      if (s.expires_at <= now || hardEnd <= now || s.disabled_at !== null) {
        await deleteSession(db, idHash);
        return undefined;
      }
      if (now - s.last_seen_at > 60_000) await touchSession(db, idHash, now, Math.min(now + deps.sessionTtlMs, hardEnd));
      return { userId: s.user_id, email: s.email, isAdmin: s.is_admin === 1, csrfToken: s.csrf_token, idHash };
    },

    async logout(token: string): Promise<void> {
      await deleteSession(db, hashToken(token));
    },

    /** Resolves a personal API token to its user, or undefined if unknown or revoked. */
    async tokenUser(token: string): Promise<{ userId: string; email: string; isAdmin: boolean; tokenName: string; readOnly: boolean } | undefined> {
      const t = await findApiTokenByHash(db, hashToken(token));
      const now = clock();
      if (!t || t.revoked_at !== null || t.disabled_at !== null || (t.expires_at !== null && t.expires_at <= now)) return undefined;
      if (t.last_used_at === null || now - t.last_used_at > 60_000) await touchApiToken(db, t.id, now);
      return { userId: t.user_id, email: t.email, isAdmin: t.is_admin === 1, tokenName: t.name, readOnly: t.read_only === 1 };
    },

    /** Creates a personal API token; the token itself is returned this once and stored only as a hash. */
    async createToken(
      actor: Actor,
      nameIn: string,
      opts: { expiresInDays?: number | undefined; readOnly?: boolean | undefined } = {},
    ): Promise<ApiTokenInfo & { token: string }> {
      const user = requireUser(actor);
      const name = String(nameIn ?? '').trim();
      if (name.length === 0 || name.length > 100 || /[\u0000-\u001f]/.test(name)) {
        throw new ValidationError('name', 'name must be 1–100 characters without control characters');
      }
      const days = opts.expiresInDays;
      if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 3650)) {
        throw new ValidationError('expiresInDays', 'expiresInDays must be a whole number of days from 1 to 3650 (or left out: no expiry)');
      }
      const token = newToken('api');
      const now = clock();
      const row: ApiTokenRow = {
        id: newId('tok'),
        user_id: user.userId,
        name,
        token_hash: hashToken(token),
        created_at: now,
        last_used_at: null,
        revoked_at: null,
        expires_at: days === undefined ? null : now + days * 86_400_000,
        read_only: opts.readOnly ? 1 : 0,
      };
      await db.transaction().execute(async (trx) => {
        await insertApiToken(trx, row);
        await insertAuditEvents(trx, [
          {
            at: now,
            projectId: null,
            actor: actorLabel(actor),
            actorIp: actor.ip,
            action: 'token.created',
            detail: { name, readOnly: row.read_only === 1, ...(days ? { expiresInDays: days } : {}) },
          },
        ]);
      });
      return { ...tokenInfo(row), token };
    },

    async listTokens(actor: Actor): Promise<ApiTokenInfo[]> {
      const user = requireUser(actor);
      return (await listApiTokens(db, user.userId)).map(tokenInfo);
    },

    async revokeToken(actor: Actor, id: string): Promise<void> {
      const user = requireUser(actor);
      const now = clock();
      await db.transaction().execute(async (trx) => {
        if (!(await revokeApiToken(trx, user.userId, id, now))) throw new NotFoundError(`token ${quote(id)} was not found`, 'id');
        await insertAuditEvents(trx, [{ at: now, projectId: null, actor: actorLabel(actor), actorIp: actor.ip, action: 'token.revoked', detail: { id } }]);
      });
    },

    /** Operator path: a token for a user by email (keyloft admin create-token). */
    async createTokenFor(emailIn: string, name: string): Promise<ApiTokenInfo & { token: string }> {
      const email = validateEmail(emailIn, 'email');
      const u = await findUserByEmail(db, email);
      if (!u) throw new NotFoundError(`no user has the email ${quote(email)}`, 'email');
      if (u.disabled_at !== null) throw new KeyloftError('account_disabled', `the account ${quote(email)} is disabled; enable it first`);
      const actor: Actor = { kind: 'user', userId: u.id, email: u.email, isAdmin: u.is_admin === 1, via: 'session', ip: null };
      return this.createToken(actor, name);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
