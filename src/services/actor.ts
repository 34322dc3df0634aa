import { ForbiddenError, NotFoundError, quote } from '../domain/errors.js';
import type { Role } from '../domain/rules.js';

/**
 * Who is calling: a person (session or API token), a project deploy key, a CI ID token accepted by one of the
 * project's trust policies (it may only start deployments of the policy's environment, and of `pr` when the token
 * names one), or a running deployment's token.
 */
export type Actor =
  | {
      kind: 'user';
      userId: string;
      email: string;
      isAdmin: boolean;
      via: 'session' | 'token';
      tokenName?: string;
      /** A read-only personal API token: every write and start route refuses it. */
      readOnly?: boolean;
      /** The hash of the session this request came with (to tell "this session" apart). */
      sessionIdHash?: string;
      ip: string | null;
    }
  | { kind: 'deploy-key'; keyId: string; projectId: string; name: string; ip: string | null }
  | { kind: 'trust-policy'; policyId: string; projectId: string; name: string; environment: 'production' | 'preview'; pr: number | null; ip: string | null }
  | { kind: 'deployment'; deploymentId: string; projectId: string; environment: string; ip: string | null }
  | { kind: 'system'; name: string; ip: null };

/** How the actor is written in audit events and "updated by" columns. Never a token. */
export function actorLabel(a: Actor): string {
  switch (a.kind) {
    case 'user':
      return a.via === 'token' && a.tokenName ? `${a.email} (token ${a.tokenName})` : a.email;
    case 'deploy-key':
      return `deploy key ${a.name}`;
    case 'trust-policy':
      return `trust policy ${a.name}`;
    case 'deployment':
      return `deployment ${a.deploymentId}`;
    case 'system':
      return a.name;
  }
}

/** Who started a deployment, as recorded and returned (`startedBy`). */
export type StartedByKind = 'deploy_key' | 'trust_policy' | 'person';
export interface StartedBy {
  kind: StartedByKind;
  name: string;
}

/**
 * The starter an actor is recorded as, with the id the per-starter limits count by (deploy key id, policy id,
 * user id). Undefined for actors that can never start a deployment.
 */
export function starterOf(a: Actor): (StartedBy & { id: string }) | undefined {
  switch (a.kind) {
    case 'deploy-key':
      return { kind: 'deploy_key', name: a.name, id: a.keyId };
    case 'trust-policy':
      return { kind: 'trust_policy', name: a.name, id: a.policyId };
    case 'user':
      return { kind: 'person', name: a.email, id: a.userId };
    default:
      return undefined;
  }
}

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3 };

/** Whether `role` includes the rights of `needed`. */
export function roleAtLeast(role: string, needed: Role): boolean {
  return (RANK[role as Role] ?? 0) >= RANK[needed];
}

/** The person behind an actor, or forbidden for keys and deployments (which can use only their own routes). */
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
