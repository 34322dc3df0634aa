import type { TrustPolicy } from '../domain/contract.js';
import { ConflictError, NotFoundError, quote, ValidationError } from '../domain/errors.js';
import type { Environment } from '../domain/rules.js';
import { POLICIES_PER_PROJECT_MAX, validateTrustPolicy } from '../domain/trust-policy.js';
import { newId } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { isUniqueViolation } from '../store/executor.js';
import type { TrustPolicyRow } from '../store/schema.js';
import { countTrustPolicies, deleteTrustPolicy, insertTrustPolicy, listTrustPolicies } from '../store/trust-policies.repository.js';
import { authorizeProject, inProjectTx, type Need } from './access.js';
import { type Actor, actorLabel } from './actor.js';
import type { BaseDeps } from './deps.js';

/** The API contract's trust policy. */
export type { TrustPolicy };

/** A stored row as the domain value (claims parsed). */
export function toTrustPolicy(r: TrustPolicyRow): TrustPolicy {
  let claims: Record<string, string> = {};
  try {
    const parsed = JSON.parse(r.claims) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) claims = parsed as Record<string, string>;
  } catch {
    claims = {};
  }
  return {
    id: r.id,
    name: r.name,
    issuer: r.issuer,
    audience: r.audience,
    subject: r.subject,
    environment: r.environment as Environment,
    claims,
    createdAt: new Date(r.created_at).toISOString(),
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at).toISOString(),
  };
}

/**
 * Trust policies (admins only): which CI ID tokens may start a deployment of one environment of
 * the project. Creating and deleting one is audited; a policy holds no secret.
 */
export function createTrustPoliciesService(deps: BaseDeps & { allowHttpLoopback: boolean }) {
  const { db, clock } = deps;
  const need: Need = { role: 'admin', action: 'managing trust policies' };
  return {
    async create(actor: Actor, slug: string, input: Record<string, unknown>): Promise<TrustPolicy> {
      const now = clock();
      const by = actorLabel(actor);
      try {
        // Authorized inside the transaction that writes (an admin demoted before the commit writes nothing); the body is checked after that.
        return await inProjectTx(db, actor, slug, need, async (trx, p) => {
          const v = validateTrustPolicy(input, deps.allowHttpLoopback);
          if ((await countTrustPolicies(trx, p.id)) >= POLICIES_PER_PROJECT_MAX) {
            throw new ValidationError('name', `a project has at most ${POLICIES_PER_PROJECT_MAX} trust policies; delete one first`, 'unprocessable');
          }
          const row: TrustPolicyRow = {
            id: newId('tp'),
            project_id: p.id,
            name: v.name,
            issuer: v.issuer,
            audience: v.audience,
            subject: v.subject,
            environment: v.environment,
            claims: JSON.stringify(v.claims),
            created_at: now,
            created_by: by,
            last_used_at: null,
          };
          await insertTrustPolicy(trx, row);
          await insertAuditEvents(trx, [
            {
              at: now,
              projectId: p.id,
              actor: by,
              actorIp: actor.ip,
              action: 'trust_policy.created',
              detail: { id: row.id, name: v.name, issuer: v.issuer, audience: v.audience, subject: v.subject, environment: v.environment, claims: v.claims },
            },
          ]);
          return toTrustPolicy(row);
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConflictError(`a trust policy named ${quote(String(input.name ?? '').trim())} already exists in this project`, 'name');
        throw err;
      }
    },

    async list(actor: Actor, slug: string): Promise<TrustPolicy[]> {
      const p = await authorizeProject(db, actor, slug, need.role, need.action);
      return (await listTrustPolicies(db, p.id)).map(toTrustPolicy);
    },

    async remove(actor: Actor, slug: string, id: string): Promise<TrustPolicy> {
      const now = clock();
      return inProjectTx(db, actor, slug, need, async (trx, p) => {
        const row = await deleteTrustPolicy(trx, p.id, id);
        if (!row) throw new NotFoundError(`trust policy ${quote(id)} was not found`, 'id');
        await insertAuditEvents(trx, [
          { at: now, projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'trust_policy.deleted', detail: { id, name: row.name } },
        ]);
        return toTrustPolicy(row);
      });
    },
  };
}

export type TrustPoliciesService = ReturnType<typeof createTrustPoliciesService>;
