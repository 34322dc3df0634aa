import { ForbiddenError, NotFoundError, quote } from '../domain/errors.js';
import type { Role } from '../domain/rules.js';

/** Who is calling: a person (session or API token), a project deploy key, or a running deployment's token. */
export type Actor =
  | { kind: 'user'; userId: string; email: string; isAdmin: boolean; via: 'session' | 'token'; tokenName?: string; ip: string | null }
  | { kind: 'deploy-key'; keyId: string; projectId: string; name: string; ip: string | null }
  | { kind: 'deployment'; deploymentId: string; projectId: string; environment: string; ip: string | null }
  /** A CI ID token accepted by a trust policy: it may only start a deployment of that project and environment. */
  | { kind: 'trust-policy'; policyId: string; projectId: string; name: string; environment: string; ip: string | null }
  | { kind: 'system'; name: string; ip: null };

/** How the actor is written in audit events and "updated by" columns. Never a token. */
export function actorLabel(a: Actor): string {
  switch (a.kind) {
    case 'user':
      return a.via === 'token' && a.tokenName ? `${a.email} (token ${a.tokenName})` : a.email;
    case 'deploy-key':
      return `deploy key ${a.name}`;
    case 'deployment':
      return `deployment ${a.deploymentId}`;
    case 'trust-policy':
      return `trust policy ${a.name}`;
    case 'system':
      return a.name;
  }
}

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3 };

/** Whether `role` includes the rights of `needed`. */
export function roleAtLeast(role: string, needed: Role): boolean {
  return (RANK[role as Role] ?? 0) >= RANK[needed];
}

/** The person behind an actor, or a 403/404 for keys and deployments (which can use only their own routes). */
export function requireUser(a: Actor): Extract<Actor, { kind: 'user' }> {
  if (a.kind !== 'user') throw new ForbiddenError('this route needs a person (session or personal API token), not a deploy key or deploy token');
  return a;
}

export function projectNotFound(slug: string): NotFoundError {
  return new NotFoundError(`project ${quote(slug)} was not found`, 'slug');
}

export function forbiddenRole(needed: Role, action: string): ForbiddenError {
  return new ForbiddenError(`${action} needs the ${needed} role in this project`);
}
