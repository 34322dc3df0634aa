import { type PasswordHasher, passwordHasher } from './password-hash.js';
import { ForbiddenError, KeyloftError, NotFoundError, quote, ValidationError } from '../domain/errors.js';
import { validateEmail, validatePassword } from '../domain/rules.js';
import { hashToken, newId, newToken } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import type { Executor } from '../store/executor.js';
import {
  clearAccountThrottles,
  consumePasswordReset,
  countActiveAdmins,
  deleteSessionOf,
  deleteSessionsOf,
  findPasswordReset,
  insertPasswordReset,
  listSessionsOf,
  listUsersWithProjects,
  lockedAccounts,
  revokeTokensOf,
  setAdmin,
  setDisabled,
  setPasswordHash,
  voidPasswordResetsOf,
} from '../store/signin.repository.js';
import { findUserByEmail, findUserById } from '../store/users.repository.js';
import { type Actor, actorLabel, requireUser } from './actor.js';
import type { BaseDeps } from './deps.js';
import { RESET_TTL_MS } from './users.service.js';

/** Argon2id at OWASP's recommended minimum (the same parameters as users.service). */

/** One row of the Users page and `GET /users`. New columns (invitations, SSO) extend this shape. */
export interface UserSummary {
  id: string;
  email: string;
  isAdmin: boolean;
  createdAt: string;
  lastLoginAt: string | null;
  locked: boolean;
  disabled: boolean;
  projects: string[];
}

export interface SessionInfo {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  ip: string | null;
  current: boolean;
}

/** A session's public id: a prefix of its stored hash (the token itself is never stored). */
export function sessionPublicId(idHash: string): string {
  return idHash.slice(0, 16);
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function requireInstanceAdmin(actor: Actor, action: string): void {
  if (actor.kind === 'system') return;
  if (actor.kind === 'user' && actor.isAdmin) return;
  throw new ForbiddenError(`${action} needs an instance admin`);
}

/**
 * Instance administration of people (Users page, `/users/*`, `keyloft admin`) and self-service
 * (password change, own sessions). Every change is audited in its own transaction.
 */
export function createUserAdminService(deps: BaseDeps & { passwords?: PasswordHasher }) {
  const { db, clock } = deps;
  const passwords = deps.passwords ?? passwordHasher();

  async function userOr404(ex: Executor, id: string) {
    const u = typeof id === 'string' && id.length <= 64 ? await findUserById(ex, id) : undefined;
    if (!u) throw new NotFoundError(`user ${quote(String(id))} was not found`, 'id');
    return u;
  }

  async function audit(ex: Executor, actor: Actor, action: string, detail: Record<string, unknown>): Promise<void> {
    await insertAuditEvents(ex, [{ at: clock(), projectId: null, actor: actorLabel(actor), actorIp: actor.ip, action, detail }]);
  }

  return {
    /** Every user: email, last sign-in, locked, disabled, projects (instance admins only). */
    async list(actor: Actor): Promise<UserSummary[]> {
      requireInstanceAdmin(actor, 'listing users');
      const now = clock();
      const [users, locked] = await Promise.all([listUsersWithProjects(db), lockedAccounts(db, now)]);
      return users.map((u) => ({
        id: u.id,
        email: u.email,
        isAdmin: u.is_admin === 1,
        createdAt: new Date(u.created_at).toISOString(),
        lastLoginAt: iso(u.last_login_at),
        locked: locked.has(u.email),
        disabled: u.disabled_at !== null,
        projects: u.projects,
      }));
    },

    /** The id of the user with this email (operator CLI). */
    async idByEmail(emailIn: string): Promise<string> {
      const email = validateEmail(emailIn, 'email');
      const u = await findUserByEmail(db, email);
      if (!u) throw new NotFoundError(`no user has the email ${quote(email)}`, 'email');
      return u.id;
    },

    /** Lifts every sign-in lock of an account (all its addresses). */
    async unlock(actor: Actor, id: string): Promise<{ email: string; cleared: number }> {
      requireInstanceAdmin(actor, 'unlocking an account');
      return db.transaction().execute(async (trx) => {
        const u = await userOr404(trx, id);
        const cleared = await clearAccountThrottles(trx, u.email);
        await audit(trx, actor, 'user.unlocked', { email: u.email });
        return { email: u.email, cleared };
      });
    },

    /** Disables an account: its sessions end and its API tokens are revoked at once; reset links are voided. */
    async disable(actor: Actor, id: string): Promise<{ email: string }> {
      requireInstanceAdmin(actor, 'disabling an account');
      const now = clock();
      return db.transaction().execute(async (trx) => {
        const u = await userOr404(trx, id);
        if (actor.kind === 'user' && actor.userId === u.id) throw new ValidationError('id', 'you cannot disable your own account; ask another instance admin');
        if (u.is_admin === 1 && u.disabled_at === null && (await countActiveAdmins(trx)) <= 1) {
          throw new KeyloftError('last_admin', `${u.email} is the last instance admin: make another person an instance admin first`, 'id');
        }
        await setDisabled(trx, u.id, u.disabled_at ?? now);
        const sessions = await deleteSessionsOf(trx, u.id);
        const tokens = await revokeTokensOf(trx, u.id, now);
        await voidPasswordResetsOf(trx, u.id, now);
        await audit(trx, actor, 'user.disabled', { email: u.email, sessionsEnded: sessions, tokensRevoked: tokens });
        return { email: u.email };
      });
    },

    /** Enables a disabled account again (its old tokens stay revoked). */
    async enable(actor: Actor, id: string): Promise<{ email: string }> {
      requireInstanceAdmin(actor, 'enabling an account');
      return db.transaction().execute(async (trx) => {
        const u = await userOr404(trx, id);
        await setDisabled(trx, u.id, null);
        await audit(trx, actor, 'user.enabled', { email: u.email });
        return { email: u.email };
      });
    },

    /** Makes or unmakes an instance admin; never removes the last one. */
    async setInstanceAdmin(actor: Actor, id: string, isAdmin: boolean): Promise<{ email: string; isAdmin: boolean }> {
      requireInstanceAdmin(actor, 'changing instance admins');
      return db.transaction().execute(async (trx) => {
        const u = await userOr404(trx, id);
        if (!isAdmin && u.is_admin === 1 && u.disabled_at === null && (await countActiveAdmins(trx)) <= 1) {
          throw new KeyloftError('last_admin', `${u.email} is the last instance admin: make another person an instance admin first`, 'id');
        }
        await setAdmin(trx, u.id, isAdmin);
        await audit(trx, actor, isAdmin ? 'user.admin_granted' : 'user.admin_revoked', { email: u.email });
        return { email: u.email, isAdmin };
      });
    },

    /**
     * A one-time password-reset link token for a user (256 bits, stored hashed, 1 hour). Earlier
     * unused links of that user stop working. The token is returned this once.
     */
    async createPasswordReset(actor: Actor, id: string): Promise<{ email: string; token: string; expiresAt: string }> {
      requireInstanceAdmin(actor, 'creating a password-reset link');
      const token = newToken('reset');
      const now = clock();
      const expiresAt = now + RESET_TTL_MS;
      return db.transaction().execute(async (trx) => {
        const u = await userOr404(trx, id);
        if (u.disabled_at !== null) throw new KeyloftError('account_disabled', `${u.email} is disabled: enable the account first`, 'id');
        await voidPasswordResetsOf(trx, u.id, now);
        await insertPasswordReset(trx, {
          id: newId('rst'),
          user_id: u.id,
          token_hash: hashToken(token),
          created_at: now,
          created_by: actorLabel(actor),
          expires_at: expiresAt,
          used_at: null,
        });
        await audit(trx, actor, 'user.password_reset_created', { email: u.email });
        return { email: u.email, token, expiresAt: new Date(expiresAt).toISOString() };
      });
    },

    /** The account a reset link is for, if the link is valid now; otherwise reset_link_invalid. */
    async resetLinkEmail(token: string): Promise<string> {
      const r = typeof token === 'string' && token.length <= 200 ? await findPasswordReset(db, hashToken(token)) : undefined;
      if (!r || r.used_at !== null || r.expires_at <= clock()) throw invalidLink();
      const u = await findUserById(db, r.user_id);
      if (!u || u.disabled_at !== null) throw invalidLink();
      return u.email;
    },

    /** Sets a new password through a reset link: the link is spent, every session ends, locks are lifted. */
    async completePasswordReset(token: string, password: string): Promise<{ email: string }> {
      await this.resetLinkEmail(token);
      validatePassword(password, 'password');
      const hash = await passwords.hash(password);
      const now = clock();
      return db.transaction().execute(async (trx) => {
        const r = await findPasswordReset(trx, hashToken(token));
        if (!r || !(await consumePasswordReset(trx, r.id, now))) throw invalidLink();
        const u = await userOr404(trx, r.user_id);
        await setPasswordHash(trx, u.id, hash);
        await deleteSessionsOf(trx, u.id);
        await clearAccountThrottles(trx, u.email);
        await insertAuditEvents(trx, [{ at: now, projectId: null, actor: u.email, actorIp: null, action: 'user.password_reset', detail: { email: u.email } }]);
        return { email: u.email };
      });
    },

    /** Changes the caller's own password (the current one required); every other session ends. */
    async changePassword(actor: Actor, current: string, next: string): Promise<{ sessionsEnded: number }> {
      const me = requireUser(actor);
      const u = await userOr404(db, me.userId);
      const ok = await passwords.verify(u.password_hash, String(current ?? '').slice(0, 1024));
      if (!ok) throw new ValidationError('current', 'current: the current password is wrong');
      validatePassword(next, 'new');
      const hash = await passwords.hash(next);
      return db.transaction().execute(async (trx) => {
        await setPasswordHash(trx, u.id, hash);
        const ended = await deleteSessionsOf(trx, u.id, me.sessionIdHash);
        await audit(trx, actor, 'user.password_changed', { sessionsEnded: ended });
        return { sessionsEnded: ended };
      });
    },

    /** The caller's live sessions, newest first. */
    async listSessions(actor: Actor): Promise<SessionInfo[]> {
      const me = requireUser(actor);
      return (await listSessionsOf(db, me.userId, clock())).map((s) => ({
        id: sessionPublicId(s.id_hash),
        createdAt: new Date(s.created_at).toISOString(),
        lastSeenAt: new Date(s.last_seen_at).toISOString(),
        expiresAt: new Date(s.expires_at).toISOString(),
        ip: s.ip,
        current: s.id_hash === me.sessionIdHash,
      }));
    },

    /** Ends one of the caller's own sessions (404 for anyone else's). */
    async revokeSession(actor: Actor, id: string): Promise<void> {
      const me = requireUser(actor);
      if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id)) throw new NotFoundError(`session ${quote(String(id))} was not found`, 'id');
      await db.transaction().execute(async (trx) => {
        const mine = (await listSessionsOf(trx, me.userId, 0)).find((s) => sessionPublicId(s.id_hash) === id);
        if (!mine) throw new NotFoundError(`session ${quote(id)} was not found`, 'id');
        await deleteSessionOf(trx, me.userId, mine.id_hash);
        await audit(trx, actor, 'session.revoked', { id });
      });
    },
  };
}

function invalidLink(): KeyloftError {
  return new KeyloftError(
    'reset_link_invalid',
    'this password-reset link is not valid: it has expired, was already used or was never issued. Ask an instance admin for a new one.',
  );
}

export type UserAdminService = ReturnType<typeof createUserAdminService>;
