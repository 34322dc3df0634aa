import { KeyloftError } from '../domain/errors.js';
import type { Role } from '../domain/rules.js';
import { findMembership } from '../store/members.repository.js';
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
  throw forbiddenRole(needed, action);
}

/**
 * A person must hold the membership's release grant (off by default, admins included) for anything that makes
 * values leave keyloft or reach a less trusted place: starting a deployment, copying production or build values.
 * Other actor kinds are not checked here.
 */
export async function requireReleaseGrant(ex: Executor, actor: Actor, projectId: string, what: string): Promise<void> {
  if (actor.kind !== 'user') return;
  if ((await findMembership(ex, projectId, actor.userId))?.canRelease) return;
  throw new KeyloftError(
    'release_not_granted',
    `${what}, so a person needs the release grant of this project (an admin sets it on the Members page or with keyloft members set-role --release); the pipeline uses a deploy key`,
  );
}
