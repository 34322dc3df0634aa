import type { ExpressionBuilder } from 'kysely';
import type { Executor } from './executor.js';
import type { DB, NewProjectRow, ProjectKeyRow, ProjectRow } from './schema.js';

/** A project row joined with the caller's role in it. */
export type ProjectWithRole = ProjectRow & { role: string };

export async function insertProject(ex: Executor, row: NewProjectRow): Promise<void> {
  await ex.insertInto('projects').values(row).execute();
}

export async function findProjectBySlug(ex: Executor, slug: string): Promise<ProjectRow | undefined> {
  return ex.selectFrom('projects').selectAll().where('slug', '=', slug).executeTakeFirst();
}

export async function findProjectById(ex: Executor, id: string): Promise<ProjectRow | undefined> {
  return ex.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The project with `slug` if `userId` is a member of it, with the member's role. */
export async function findProjectForMember(ex: Executor, slug: string, userId: string): Promise<ProjectWithRole | undefined> {
  return ex
    .selectFrom('projects')
    .innerJoin('memberships', 'memberships.project_id', 'projects.id')
    .selectAll('projects')
    .select('memberships.role')
    .where('projects.slug', '=', slug)
    .where('memberships.user_id', '=', userId)
    .executeTakeFirst();
}

/**
 * findProjectForMember, with the id of the scope's active key pair (the newest not retired, as
 * activeProjectKey chooses it) in the same query: a write checks the key it sealed to is still the
 * one to seal to without a round trip of its own (issue 18 §4).
 */
/**
 * The id of the active key pair of `scope` of the project in the outer query's `projects` row:
 * the newest not retired (as activeProjectKey chooses it), as a correlated subquery.
 */
export function activeKeyIdOf(eb: ExpressionBuilder<DB, 'projects'>, scope: string) {
  return eb
    .selectFrom('project_keys')
    .select('project_keys.id')
    .whereRef('project_keys.project_id', '=', 'projects.id')
    .where('project_keys.scope', '=', scope)
    .where('project_keys.retired_at', 'is', null)
    .orderBy('project_keys.created_at', 'desc')
    .limit(1);
}

export async function findProjectForMemberWithActiveKey(
  ex: Executor,
  slug: string,
  userId: string,
  scope: string,
): Promise<(ProjectWithRole & { active_key_id: string | null }) | undefined> {
  return ex
    .selectFrom('projects')
    .innerJoin('memberships', 'memberships.project_id', 'projects.id')
    .selectAll('projects')
    .select('memberships.role')
    .select((eb) => activeKeyIdOf(eb, scope).as('active_key_id'))
    .where('projects.slug', '=', slug)
    .where('memberships.user_id', '=', userId)
    .executeTakeFirst();
}

export async function listProjectsForMember(ex: Executor, userId: string): Promise<ProjectWithRole[]> {
  return ex
    .selectFrom('projects')
    .innerJoin('memberships', 'memberships.project_id', 'projects.id')
    .selectAll('projects')
    .select('memberships.role')
    .where('memberships.user_id', '=', userId)
    .orderBy('projects.slug')
    .execute();
}

export async function updateProject(
  ex: Executor,
  id: string,
  patch: Partial<Pick<ProjectRow, 'name' | 'fly_app' | 'fly_preview_pattern' | 'preview_build_secrets'>>,
): Promise<void> {
  await ex.updateTable('projects').set(patch).where('id', '=', id).execute();
}

export async function deleteProject(ex: Executor, id: string): Promise<void> {
  await ex.deleteFrom('projects').where('id', '=', id).execute();
}

export async function insertProjectKey(ex: Executor, row: Omit<ProjectKeyRow, 'retired_at' | 'wrapped_data_key'>): Promise<void> {
  await ex
    .insertInto('project_keys')
    .values({ ...row, retired_at: null })
    .execute();
}

/** The active (not retired) key pair of a project scope. */
export async function activeProjectKey(ex: Executor, projectId: string, scope: string): Promise<ProjectKeyRow | undefined> {
  return ex
    .selectFrom('project_keys')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('scope', '=', scope)
    .where('retired_at', 'is', null)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

export async function projectKeysByIds(ex: Executor, ids: readonly string[]): Promise<ProjectKeyRow[]> {
  if (ids.length === 0) return [];
  return ex.selectFrom('project_keys').selectAll().where('id', 'in', ids).execute();
}
