import type { Executor } from './executor.js';

export interface MemberRow {
  user_id: string;
  email: string;
  role: string;
  created_at: number;
}

export async function upsertMembership(ex: Executor, projectId: string, userId: string, role: string, now: number): Promise<'added' | 'updated'> {
  const existing = await ex
    .selectFrom('memberships')
    .select('role')
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (existing) {
    await ex.updateTable('memberships').set({ role }).where('project_id', '=', projectId).where('user_id', '=', userId).execute();
    return 'updated';
  }
  await ex.insertInto('memberships').values({ project_id: projectId, user_id: userId, role, created_at: now }).execute();
  return 'added';
}

export async function deleteMembership(ex: Executor, projectId: string, userId: string): Promise<boolean> {
  const r = await ex.deleteFrom('memberships').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listMembers(ex: Executor, projectId: string): Promise<MemberRow[]> {
  return ex
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['memberships.user_id', 'users.email', 'memberships.role', 'memberships.created_at'])
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
  const r = await ex
    .selectFrom('memberships')
    .select('role')
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r?.role;
}
