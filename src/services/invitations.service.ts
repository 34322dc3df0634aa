import { type PasswordHasher, passwordHasher } from './password-hash.js';
import { ConflictError, KeyloftError, quote, ValidationError } from '../domain/errors.js';
import type { Invitation } from '../domain/contract.js';
import { parseRole, type Role, validateEmail, validatePassword } from '../domain/rules.js';
import { hashToken, newId, newToken, tokenKind } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import type { Executor } from '../store/executor.js';
import { isUniqueViolation } from '../store/executor.js';
import {
  consumeInvitation,
  findInvitationByHash,
  findPendingInvitation,
  insertInvitation,
  listPendingInvitations,
  revokeInvitation,
  updatePendingInvitation,
} from '../store/invitations.repository.js';
import { findRole, upsertMembership } from '../store/members.repository.js';
import type { InvitationRow } from '../store/schema.js';
import { findUserByEmail, insertUser } from '../store/users.repository.js';
import { authorizeProject } from './access.js';
import { type Actor, actorLabel, roleAtLeast } from './actor.js';
import type { BaseDeps } from './deps.js';
import { type NewSession, type UsersService } from './users.service.js';

/** How long an invitation link can be used. */
export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;

/** The API contract's invitation (never its link). */
export type { Invitation };

/** What the person holding a link sees before accepting it. */
export interface InvitationView {
  project: { slug: string; name: string };
  email: string;
  role: Role;
  release: boolean;
  invitedBy: string;
  expiresAt: string;
}

function toInvitation(r: InvitationRow): Invitation {
  return {
    id: r.id,
    email: r.email,
    role: r.role as Role,
    release: r.release === 1,
    createdAt: new Date(r.created_at).toISOString(),
    createdBy: r.created_by,
    expiresAt: new Date(r.expires_at).toISOString(),
  };
}

/**
 * Writes a new invitation (or, when one is pending for that email, changes its role and grant):
 * the caller has authorized an admin and runs this in its transaction. The token is returned
 * this once; only its hash is stored.
 */
export async function writeInvitation(
  trx: Executor,
  input: { projectId: string; email: string; role: Role; release: boolean; by: string; ip: string | null; now: number },
): Promise<{ invitation: Invitation; token: string | undefined; change: 'added' | 'updated' }> {
  const pending = await findPendingInvitation(trx, input.projectId, input.email, input.now);
  if (pending) {
    await updatePendingInvitation(trx, pending.id, input.role, input.release ? 1 : 0);
    await insertAuditEvents(trx, [
      {
        at: input.now,
        projectId: input.projectId,
        actor: input.by,
        actorIp: input.ip,
        action: 'invitation.updated',
        detail: { email: input.email, role: input.role, release: input.release },
      },
    ]);
    return { invitation: toInvitation({ ...pending, role: input.role, release: input.release ? 1 : 0 }), token: undefined, change: 'updated' };
  }
  const token = newToken('invite');
  const row: InvitationRow = {
    id: newId('inv'),
    project_id: input.projectId,
    email: input.email,
    role: input.role,
    release: input.release ? 1 : 0,
    token_hash: hashToken(token),
    created_at: input.now,
    created_by: input.by,
    expires_at: input.now + INVITATION_TTL_MS,
    accepted_at: null,
    accepted_by: null,
    revoked_at: null,
  };
  await insertInvitation(trx, row);
  await insertAuditEvents(trx, [
    {
      at: input.now,
      projectId: input.projectId,
      actor: input.by,
      actorIp: input.ip,
      action: 'invitation.created',
      detail: { email: input.email, role: input.role, release: input.release },
    },
  ]);
  return { invitation: toInvitation(row), token, change: 'added' };
}

function invalid(message = 'this invitation link is not valid: check that you copied all of it, or ask for a new invitation'): KeyloftError {
  return new KeyloftError('invitation_invalid', message);
}

type Deps = BaseDeps & { passwords?: PasswordHasher; users: Pick<UsersService, 'openSession'>; ssoOnly?: boolean };

export function createInvitationsService(deps: Deps) {
  const { db, clock } = deps;
  const passwords = deps.passwords ?? passwordHasher();

  /** The invitation behind a link, checked to be pending; a clear 410 otherwise. */
  async function pending(token: string) {
    const t = String(token ?? '');
    if (t.length > 200 || tokenKind(t) !== 'invite') throw invalid();
    const inv = await findInvitationByHash(db, hashToken(t));
    if (!inv) throw invalid();
    if (inv.revoked_at !== null) throw invalid('this invitation was revoked by a project admin: ask them for a new one');
    if (inv.accepted_at !== null) throw invalid('this invitation has already been used: sign in instead');
    if (inv.expires_at <= clock()) throw invalid('this invitation has expired (links last 7 days): ask a project admin for a new one');
    return inv;
  }

  return {
    /**
     * Invites an email to a project with a role (admin only). The answer does not depend on
     * whether the email has an account. An email already invited gets a new link (the old one is revoked).
     */
    async invite(
      actor: Actor,
      slug: string,
      input: { email: string; role: string; release?: boolean | undefined },
    ): Promise<{ invitation: Invitation; token: string }> {
      const email = validateEmail(input.email, 'email');
      const role = parseRole(input.role, 'role');
      const release = input.release === true;
      const now = clock();
      return db.transaction().execute(async (trx) => {
        const p = await authorizeProject(trx, actor, slug, 'admin', 'inviting people');
        const by = actorLabel(actor);
        // A fresh link every time: the admin sees it once, so asking again must give a usable one.
        const old = await findPendingInvitation(trx, p.id, email, now);
        if (old) await revokeInvitation(trx, p.id, old.id, now);
        const r = await writeInvitation(trx, { projectId: p.id, email, role, release, by, ip: actor.ip, now });
        return { invitation: r.invitation, token: r.token! };
      });
    },

    /** Pending invitations of a project (admin only): never a token. */
    async list(actor: Actor, slug: string): Promise<Invitation[]> {
      const p = await authorizeProject(db, actor, slug, 'admin', 'listing invitations');
      return (await listPendingInvitations(db, p.id, clock())).map(toInvitation);
    },

    async revoke(actor: Actor, slug: string, id: string): Promise<void> {
      const now = clock();
      await db.transaction().execute(async (trx) => {
        const p = await authorizeProject(trx, actor, slug, 'admin', 'revoking invitations');
        if (!(await revokeInvitation(trx, p.id, String(id).slice(0, 64), now))) {
          throw new KeyloftError('not_found', `no pending invitation has the id ${quote(String(id))}`, 'id');
        }
        await insertAuditEvents(trx, [{ at: now, projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'invitation.revoked', detail: { id } }]);
      });
    },

    /** What a link is for (project, email, role), or a 410 saying why it cannot be used. */
    async inspect(token: string): Promise<InvitationView> {
      const inv = await pending(token);
      return {
        project: { slug: inv.slug, name: inv.project_name },
        email: inv.email,
        role: inv.role as Role,
        release: inv.release === 1,
        invitedBy: inv.created_by,
        expiresAt: new Date(inv.expires_at).toISOString(),
      };
    },

    /**
     * Accepts an invitation. A signed-in person must have the invited email; someone signed out
     * sets a password and gets a new account (refused when that email already has one: sign in
     * first). The link works once, also under concurrent use. Returns a session for a new account.
     */
    async accept(
      token: string,
      input: { password?: string | undefined },
      actor: Actor | null,
      ip: string | null,
    ): Promise<{ slug: string; role: Role; session: NewSession | undefined }> {
      const inv = await pending(token);
      const role = inv.role as Role;
      const now = clock();
      const events = (by: string) => [
        { at: now, projectId: inv.project_id, actor: by, actorIp: ip, action: 'invitation.accepted', detail: { id: inv.id, email: inv.email } },
        {
          at: now,
          projectId: inv.project_id,
          actor: by,
          actorIp: ip,
          action: 'member.added',
          detail: { email: inv.email, role, release: inv.release === 1, via: 'invitation' },
        },
      ];
      // The release grant an admin put in the invitation (it lets the person read values by starting a deployment): audited as such.
      const granted = (by: string) =>
        inv.release === 1
          ? [
              {
                at: now,
                projectId: inv.project_id,
                actor: by,
                actorIp: ip,
                action: 'member.release_granted',
                detail: { email: inv.email, role, via: 'invitation', invitedBy: inv.created_by },
              },
            ]
          : [];
      if (actor) {
        if (actor.kind !== 'user') throw new KeyloftError('forbidden', 'an invitation is accepted by a person, not a deploy key or deploy token');
        if (actor.email !== inv.email) {
          throw new KeyloftError(
            'invitation_other_email',
            'this invitation is for another email address: sign out, then open the link again (or ask for an invitation to your own address)',
          );
        }
        await db.transaction().execute(async (trx) => {
          if (!(await consumeInvitation(trx, inv.id, actor.email, now))) throw invalid('this invitation has already been used: sign in instead');
          const current = await findRole(trx, inv.project_id, actor.userId);
          // An invitation never lowers a role someone already has, and never takes a release grant away.
          if (!current || !roleAtLeast(current, role))
            await upsertMembership(trx, inv.project_id, actor.userId, role, now, inv.release === 1 ? true : undefined);
          else if (inv.release === 1) await upsertMembership(trx, inv.project_id, actor.userId, current, now, true);
          await insertAuditEvents(trx, [...events(actorLabel(actor)), ...granted(actorLabel(actor))]);
        });
        return { slug: inv.slug, role, session: undefined };
      }

      if (deps.ssoOnly) throw new KeyloftError('sso_only', 'password sign-in is turned off on this server: use "Sign in with SSO" to accept');
      const password = input.password;
      if (typeof password !== 'string' || password.length === 0)
        throw new ValidationError('password', 'password is required: choose one to create your account');
      validatePassword(password, 'password');
      if (await findUserByEmail(db, inv.email)) {
        throw new ConflictError('an account with this email already exists: sign in, then open the link again to accept', 'password');
      }
      const hash = await passwords.hash(password);
      const userId = newId('usr');
      try {
        await db.transaction().execute(async (trx) => {
          if (!(await consumeInvitation(trx, inv.id, inv.email, now))) throw invalid('this invitation has already been used: sign in instead');
          await insertUser(trx, { id: userId, email: inv.email, password_hash: hash, is_admin: 0, created_at: now });
          await upsertMembership(trx, inv.project_id, userId, role, now, inv.release === 1);
          await insertAuditEvents(trx, [
            { at: now, projectId: null, actor: inv.email, actorIp: ip, action: 'user.created', detail: { email: inv.email, admin: false, via: 'invitation' } },
            ...events(inv.email),
            ...granted(inv.email),
          ]);
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConflictError('an account with this email already exists: sign in, then open the link again to accept', 'password');
        throw err;
      }
      return { slug: inv.slug, role, session: await deps.users.openSession(userId) };
    },
  };
}

export type InvitationsService = ReturnType<typeof createInvitationsService>;
