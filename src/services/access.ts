import type { Kysely, Transaction } from 'kysely';
import { ForbiddenError, KeyloftError } from '../domain/errors.js';
import type { Role } from '../domain/rules.js';
import { findMembership } from '../store/members.repository.js';
import type { Executor } from '../store/executor.js';
import {
  activeProjectKey,
  findProjectById,
  findProjectBySlug,
  findProjectForMember,
  findProjectForMemberWithActiveKey,
  type ProjectWithRole,
} from '../store/projects.repository.js';
import type { DB } from '../store/schema.js';
import { type Actor, forbiddenRole, projectNotFound, roleAtLeast } from './actor.js';

/** What an action needs: the least role in the project, and how the refusal names the action. */
export interface Need {
  role: Role;
  action: string;
}

/**
 * Loads a project for an actor and checks the actor may act in it with at least `needed`.
 * A project the actor cannot see is reported as not found, never as forbidden.
 * Deploy keys and deploy tokens never pass here: they have routes of their own.
 * Reads only; a write authorizes with `inProjectTx` (or `reauthorize`) inside its transaction.
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

/**
 * Runs `fn` in one transaction after authorizing the actor inside it, so the check and the
 * write see the same memberships: a member removed before the commit writes nothing.
 */
export async function inProjectTx<T>(
  db: Kysely<DB>,
  actor: Actor,
  slug: string,
  need: Need,
  fn: (trx: Transaction<DB>, project: ProjectWithRole) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => fn(trx, await authorizeProject(trx, actor, slug, need.role, need.action)));
}

/**
 * For writes that must seal before BEGIN (and so authorize before it too): checks again, inside
 * the write's transaction, that the actor still has `need` in the same project.
 */
export async function reauthorize(trx: Transaction<DB>, actor: Actor, project: { id: string; slug: string }, need: Need): Promise<ProjectWithRole> {
  const p = await authorizeProject(trx, actor, project.slug, need.role, need.action);
  // The slug now names another project (deleted and created again): the one sealed for is gone.
  if (p.id !== project.id) throw projectNotFound(project.slug);
  return p;
}

/**
 * `reauthorize`, also answering which key pair of `keyScope` is active now (null: none): a write
 * that sealed with a cached key checks it inside its transaction. For a person (every write of the
 * API) it is the same one query; other actors pay a second one.
 */
export async function reauthorizeWithActiveKey(
  trx: Transaction<DB>,
  actor: Actor,
  project: { id: string; slug: string },
  need: Need,
  keyScope: string,
): Promise<ProjectWithRole & { activeKeyId: string | null }> {
  if (actor.kind === 'user') {
    const p = await findProjectForMemberWithActiveKey(trx, project.slug, actor.userId, keyScope);
    if (!p) throw projectNotFound(project.slug);
    if (!roleAtLeast(p.role, need.role)) throw forbiddenRole(need.role, need.action);
    if (p.id !== project.id) throw projectNotFound(project.slug);
    const { active_key_id, ...rest } = p;
    return { ...rest, activeKeyId: active_key_id };
  }
  const p = await reauthorize(trx, actor, project, need);
  return { ...p, activeKeyId: (await activeProjectKey(trx, project.id, keyScope))?.id ?? null };
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
