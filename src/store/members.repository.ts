import type { Executor } from './executor.js';

export interface MemberRow {
  user_id: string;
  email: string;
  role: string;
  created_at: number;
  can_release: number;
}

/**
 * Adds a membership or changes its role; `canRelease` sets the release grant when given (a new membership
 * without it gets none). Never touches the grant when `canRelease` is undefined.
 */
export async function upsertMembership(
  ex: Executor,
  projectId: string,
  userId: string,
  role: string,
  now: number,
  canRelease?: boolean,
): Promise<'added' | 'updated'> {
  const existing = await ex.selectFrom('memberships').select('role').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  const grant = canRelease === undefined ? {} : { can_release: canRelease ? 1 : 0 };
  if (existing) {
    await ex
      .updateTable('memberships')
      .set({ role, ...grant })
      .where('project_id', '=', projectId)
      .where('user_id', '=', userId)
      .execute();
    return 'updated';
  }
  await ex
    .insertInto('memberships')
    .values({ project_id: projectId, user_id: userId, role, created_at: now, ...grant })
    .execute();
  return 'added';
}

/** A person's membership of a project: role and release grant; undefined when not a member. */
export async function findMembership(ex: Executor, projectId: string, userId: string): Promise<{ role: string; canRelease: boolean } | undefined> {
  const r = await ex
    .selectFrom('memberships')
    .select(['role', 'can_release'])
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r ? { role: r.role, canRelease: Number(r.can_release) === 1 } : undefined;
}

export async function deleteMembership(ex: Executor, projectId: string, userId: string): Promise<boolean> {
  const r = await ex.deleteFrom('memberships').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listMembers(ex: Executor, projectId: string): Promise<MemberRow[]> {
  return ex
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['memberships.user_id', 'users.email', 'memberships.role', 'memberships.created_at', 'memberships.can_release'])
    .where('memberships.project_id', '=', projectId)
    .orderBy('users.email')
    .execute();
}

export async function countAdmins(ex: Executor, projectId: string): Promise<number> {
  const r = await ex
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .where('role', '=', 'admin')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function findRole(ex: Executor, projectId: string, userId: string): Promise<string | undefined> {
  const r = await ex.selectFrom('memberships').select('role').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  return r?.role;
}
