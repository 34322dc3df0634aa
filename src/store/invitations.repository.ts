import type { Executor } from './executor.js';
import type { InvitationRow } from './schema.js';

export async function insertInvitation(ex: Executor, row: InvitationRow): Promise<void> {
  await ex.insertInto('invitations').values(row).execute();
}

/** An invitation by the hash of its token, with its project's slug and name (any state). */
export async function findInvitationByHash(ex: Executor, tokenHash: string): Promise<(InvitationRow & { slug: string; project_name: string }) | undefined> {
  return ex
    .selectFrom('invitations')
    .innerJoin('projects', 'projects.id', 'invitations.project_id')
    .selectAll('invitations')
    .select(['projects.slug', 'projects.name as project_name'])
    .where('invitations.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Invitations of a project that can still be accepted at `now`, newest first. */
export async function listPendingInvitations(ex: Executor, projectId: string, now: number): Promise<InvitationRow[]> {
  return ex
    .selectFrom('invitations')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
}

/** The pending invitation of `email` to a project, if any. */
export async function findPendingInvitation(ex: Executor, projectId: string, email: string, now: number): Promise<InvitationRow | undefined> {
  return ex
    .selectFrom('invitations')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Revokes a pending invitation; false when there is none with that id in the project. */
export async function revokeInvitation(ex: Executor, projectId: string, id: string, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('invitations')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('project_id', '=', projectId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Marks an invitation used, only if it is still pending at `now`: one conditional update, so
 * two parallel accepts of the same link cannot both succeed. False when it was not pending.
 */
export async function consumeInvitation(ex: Executor, id: string, acceptedBy: string, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('invitations')
    .set({ accepted_at: now, accepted_by: acceptedBy })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Changes the role (and release grant) of a pending invitation. */
export async function updatePendingInvitation(ex: Executor, id: string, role: string, release: number): Promise<void> {
  await ex.updateTable('invitations').set({ role, release }).where('id', '=', id).execute();
}

export async function insertSsoAttempt(ex: Executor, idHash: string, now: number, expiresAt: number): Promise<void> {
  await ex.insertInto('sso_attempts').values({ id_hash: idHash, created_at: now, expires_at: expiresAt }).execute();
}

/** Deletes an SSO attempt and says whether it existed unexpired: each attempt can be used once. */
export async function takeSsoAttempt(ex: Executor, idHash: string, now: number): Promise<boolean> {
  await ex.deleteFrom('sso_attempts').where('expires_at', '<=', now).execute();
  const r = await ex.deleteFrom('sso_attempts').where('id_hash', '=', idHash).where('expires_at', '>', now).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
