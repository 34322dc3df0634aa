import argon2 from 'argon2';
import { ConflictError, KeyloftError, NotFoundError, UnauthenticatedError, quote, ValidationError } from '../domain/errors.js';
import { validateEmail, validatePassword } from '../domain/rules.js';
import { hashToken, newId, newToken, safeEqual } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { isUniqueViolation } from '../store/executor.js';
import type { ApiTokenRow } from '../store/schema.js';
import {
  clearThrottle,
  countUsers,
  deleteSession,
  deleteSetting,
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
  recordLoginFailure,
  revokeApiToken,
  touchApiToken,
  touchSession,
} from '../store/users.repository.js';
import { type Actor, actorLabel, requireUser } from './actor.js';
import type { BaseDeps } from './deps.js';

/** Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** Lockout policy: per account and per client address. */
export const LOCKOUT = {
  accountFailures: 5,
  addressFailures: 20,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
} as const;

const SETUP_TOKEN_KEY = 'setup_token_hash';

export interface User {
  id: string;
  email: string;
  isAdmin: boolean;
  createdAt: string;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface NewSession {
  token: string;
  csrfToken: string;
  user: User;
  expiresAt: number;
}

type Deps = BaseDeps & { sessionTtlMs: number; /** KEYLOFT_SSO_ONLY: password sign-in is off. */ ssoOnly?: boolean };

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function tokenInfo(t: ApiTokenRow): ApiTokenInfo {
  return { id: t.id, name: t.name, createdAt: new Date(t.created_at).toISOString(), lastUsedAt: iso(t.last_used_at) };
}

export function createUsersService(deps: Deps) {
  const { db, clock } = deps;
  // Verified against when the account does not exist, so unknown emails take as long as wrong passwords.
  const dummyHash = argon2.hash('keyloft-dummy-password', ARGON2_OPTIONS);

  async function createUserRow(emailIn: string, password: string, isAdmin: boolean, by: string, ip: string | null): Promise<User> {
    const email = validateEmail(emailIn, 'email');
    validatePassword(password, 'password');
    const hash = await argon2.hash(password, ARGON2_OPTIONS);
    const now = clock();
    const user = { id: newId('usr'), email, password_hash: hash, is_admin: isAdmin ? 1 : 0, created_at: now };
    try {
      await db.transaction().execute(async (trx) => {
        await insertUser(trx, user);
        await insertAuditEvents(trx, [{ at: now, projectId: null, actor: by, actorIp: ip, action: 'user.created', detail: { email, admin: isAdmin } }]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`a user with email ${quote(email)} already exists`, 'email');
      throw err;
    }
    return { id: user.id, email, isAdmin, createdAt: new Date(now).toISOString() };
  }

  async function newSession(userId: string, email: string, isAdmin: boolean): Promise<NewSession> {
    const token = newToken('session');
    const csrfToken = newToken('csrf');
    const now = clock();
    const expiresAt = now + deps.sessionTtlMs;
    await insertSession(db, { id_hash: hashToken(token), user_id: userId, csrf_token: csrfToken, created_at: now, expires_at: expiresAt, last_seen_at: now });
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

    /** Creates the first admin with the one-time setup token, and signs them in. */
    async setup(input: { setupToken: string; email: string; password: string }, ip: string | null): Promise<NewSession> {
      const stored = await getSetting(db, SETUP_TOKEN_KEY);
      if ((await countUsers(db)) > 0 || !stored) throw new KeyloftError('conflict', 'setup is already complete; sign in instead');
      if (!safeEqual(hashToken(input.setupToken.trim()), stored)) throw new ValidationError('setupToken', 'the setup token is not the one printed at first start');
      const user = await createUserRow(input.email, input.password, true, 'setup', ip);
      await deleteSetting(db, SETUP_TOKEN_KEY);
      return newSession(user.id, user.email, true);
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
     * repeated failures lock the account and the address.
     */
    async login(emailIn: string, password: string, ip: string): Promise<NewSession> {
      if (deps.ssoOnly) throw new KeyloftError('sso_only', 'password sign-in is turned off on this server: use "Sign in with SSO"');
      const email = typeof emailIn === 'string' ? emailIn.trim().toLowerCase().slice(0, 254) : '';
      const now = clock();
      const acctKey = `acct:${email}`;
      const ipKey = `ip:${ip}`;
      const throttles = await getThrottles(db, [acctKey, ipKey]);
      const locked = throttles.find((t) => t.locked_until > now);
      if (locked) {
        const minutes = Math.max(1, Math.ceil((locked.locked_until - now) / 60_000));
        throw new KeyloftError('locked_out', `too many failed sign-in attempts; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
      }
      const user = email ? await findUserByEmail(db, email) : undefined;
      const ok = await argon2.verify(user?.password_hash ?? (await dummyHash), String(password ?? '').slice(0, 1024));
      if (!user || !ok) {
        await db.transaction().execute(async (trx) => {
          // Counted in SQL, not from the values read above: parallel guesses must not overwrite each other's count.
          for (const [key, limit] of [[acctKey, LOCKOUT.accountFailures], [ipKey, LOCKOUT.addressFailures]] as const) {
            await recordLoginFailure(trx, key, now, { limit, windowMs: LOCKOUT.windowMs, lockMs: LOCKOUT.lockMs });
          }
          await insertAuditEvents(trx, [{ at: now, projectId: null, actor: email || '(empty)', actorIp: ip, action: 'session.login_failed' }]);
        });
        throw new UnauthenticatedError('email or password is wrong');
      }
      await clearThrottle(db, acctKey);
      return newSession(user.id, user.email, user.is_admin === 1);
    },

    /** A new session for a user whose identity another path proved (an accepted invitation, single sign-on). */
    async openSession(userId: string): Promise<NewSession> {
      const u = await findUserById(db, userId);
      if (!u) throw new UnauthenticatedError('the account no longer exists');
      return newSession(u.id, u.email, u.is_admin === 1);
    },

    /** The user of a live session (sliding expiry), or undefined. */
    async sessionUser(token: string): Promise<{ userId: string; email: string; isAdmin: boolean; csrfToken: string; idHash: string } | undefined> {
      const idHash = hashToken(token);
      const s = await findSession(db, idHash);
      const now = clock();
      if (!s) return undefined;
      if (s.expires_at <= now) {
        await deleteSession(db, idHash);
        return undefined;
      }
      if (now - s.last_seen_at > 60_000) await touchSession(db, idHash, now, now + deps.sessionTtlMs);
      return { userId: s.user_id, email: s.email, isAdmin: s.is_admin === 1, csrfToken: s.csrf_token, idHash };
    },

    async logout(token: string): Promise<void> {
      await deleteSession(db, hashToken(token));
    },

    /** Resolves a personal API token to its user, or undefined if unknown or revoked. */
    async tokenUser(token: string): Promise<{ userId: string; email: string; isAdmin: boolean; tokenName: string } | undefined> {
      const t = await findApiTokenByHash(db, hashToken(token));
      if (!t || t.revoked_at !== null) return undefined;
      const now = clock();
      if (t.last_used_at === null || now - t.last_used_at > 60_000) await touchApiToken(db, t.id, now);
      return { userId: t.user_id, email: t.email, isAdmin: t.is_admin === 1, tokenName: t.name };
    },

    /** Creates a personal API token; the token itself is returned this once and stored only as a hash. */
    async createToken(actor: Actor, nameIn: string): Promise<ApiTokenInfo & { token: string }> {
      const user = requireUser(actor);
      const name = String(nameIn ?? '').trim();
      if (name.length === 0 || name.length > 100 || /[\u0000-\u001f]/.test(name)) {
        throw new ValidationError('name', 'name must be 1–100 characters without control characters');
      }
      const token = newToken('api');
      const now = clock();
      const row: ApiTokenRow = { id: newId('tok'), user_id: user.userId, name, token_hash: hashToken(token), created_at: now, last_used_at: null, revoked_at: null };
      await db.transaction().execute(async (trx) => {
        await insertApiToken(trx, row);
        await insertAuditEvents(trx, [{ at: now, projectId: null, actor: actorLabel(actor), actorIp: actor.ip, action: 'token.created', detail: { name } }]);
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
      const actor: Actor = { kind: 'user', userId: u.id, email: u.email, isAdmin: u.is_admin === 1, via: 'session', ip: null };
      return this.createToken(actor, name);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
