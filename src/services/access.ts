import { ForbiddenError } from '../domain/errors.js';
import type { Role } from '../domain/rules.js';
import type { Executor } from '../store/executor.js';
import { findProjectById, findProjectBySlug, findProjectForMember, type ProjectWithRole } from '../store/projects.repository.js';
import { type Actor, forbiddenRole, projectNotFound, roleAtLeast } from './actor.js';

/**
 * Loads a project for an actor and checks the actor may act in it with at least `needed`.
 * A project the actor cannot see is reported as not found (404), never as forbidden.
 * Deploy keys and deploy tokens never pass here: they have routes of their own.
 */
export async function authorizeProject(ex: Executor, actor: Actor, slug: string, needed: Role, action: string): Promise<ProjectWithRole> {
  if (actor.kind === 'user') {
    const p = await findProjectForMember(ex, slug, actor.userId);
    if (!p) throw projectNotFound(slug);
    if (!roleAtLeast(p.role, needed)) throw forbiddenRole(needed, action);
    return p;
  }
  if (actor.kind === 'system') {
    const p = await findProjectBySlug(ex, slug);
    if (!p) throw projectNotFound(slug);
    return { ...p, role: 'admin' };
  }
  // A deploy key or a deployment token may only see that it is not allowed here, and only for its own project.
  const p = await findProjectById(ex, actor.projectId);
  if (!p || p.slug !== slug) throw projectNotFound(slug);
  throw new ForbiddenError(
    `${action} needs a person (a session or a personal API token); ${actor.kind === 'deploy-key' ? 'a deploy key' : 'a deploy token'} can only ${actor.kind === 'deploy-key' ? "start and complete this project's deployments" : 'read its own deployment and complete it'}`,
  );
}
