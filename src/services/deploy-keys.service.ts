import type { DeployKey } from '../domain/contract.js';
import { NotFoundError, quote, ValidationError } from '../domain/errors.js';
import { hashToken, newId, newToken } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { findDeployKeyByHash, insertDeployKey, listDeployKeys, revokeDeployKey, touchDeployKey } from '../store/deploy-keys.repository.js';
import { findProjectById } from '../store/projects.repository.js';
import type { DeployKeyRow } from '../store/schema.js';
import { authorizeProject, inProjectTx, type Need, requireReleaseGrant } from './access.js';
import { type Actor, actorLabel } from './actor.js';
import type { BaseDeps } from './deps.js';

const MANAGE: Need = { role: 'admin', action: 'managing deploy keys' };

/** A deploy key as listed: the API contract's DeployKey (never its token). */
export type DeployKeyInfo = DeployKey;

function info(k: DeployKeyRow): DeployKeyInfo {
  return {
    id: k.id,
    name: k.name,
    createdAt: new Date(k.created_at).toISOString(),
    createdBy: k.created_by,
    lastUsedAt: k.last_used_at === null ? null : new Date(k.last_used_at).toISOString(),
  };
}

/** Project deploy keys for the CD system: start and complete that project's deployments, nothing else. */
export function createDeployKeysService(deps: BaseDeps) {
  const { db, clock } = deps;
  return {
    async create(actor: Actor, slug: string, nameIn: string): Promise<DeployKeyInfo & { token: string }> {
      const name = String(nameIn ?? '').trim();
      if (name.length === 0 || name.length > 100 || /[\u0000-\u001f]/.test(name))
        throw new ValidationError('name', 'name must be 1–100 characters without control characters');
      const token = newToken('deploy-key');
      const now = clock();
      const row = await inProjectTx(db, actor, slug, MANAGE, async (trx, p) => {
        // A new key is shown to the person who creates it and starts deployments: the same release right as starting one.
        await requireReleaseGrant(trx, actor, p.id, 'a deploy key starts deployments, which release secret values');
        const row: DeployKeyRow = {
          id: newId('dk'),
          project_id: p.id,
          name,
          token_hash: hashToken(token),
          created_at: now,
          created_by: actorLabel(actor),
          last_used_at: null,
          revoked_at: null,
        };
        await insertDeployKey(trx, row);
        await insertAuditEvents(trx, [
          { at: now, projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'deploy_key.created', detail: { id: row.id, name } },
        ]);
        return row;
      });
      return { ...info(row), token };
    },

    async list(actor: Actor, slug: string): Promise<DeployKeyInfo[]> {
      const p = await authorizeProject(db, actor, slug, MANAGE.role, MANAGE.action);
      return (await listDeployKeys(db, p.id)).map(info);
    },

    async revoke(actor: Actor, slug: string, id: string): Promise<void> {
      const now = clock();
      await inProjectTx(db, actor, slug, MANAGE, async (trx, p) => {
        if (!(await revokeDeployKey(trx, p.id, id, now))) throw new NotFoundError(`deploy key ${quote(id)} was not found`, 'id');
        await insertAuditEvents(trx, [{ at: now, projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'deploy_key.revoked', detail: { id } }]);
      });
    },

    /** Resolves a deploy key token to its actor (not revoked, project still there). */
    async keyActor(token: string, ip: string | null): Promise<Actor | undefined> {
      const k = await findDeployKeyByHash(db, hashToken(token));
      if (!k || k.revoked_at !== null || !(await findProjectById(db, k.project_id))) return undefined;
      const now = clock();
      if (k.last_used_at === null || now - k.last_used_at > 60_000) await touchDeployKey(db, k.id, now);
      return { kind: 'deploy-key', keyId: k.id, projectId: k.project_id, name: k.name, ip };
    },
  };
}

export type DeployKeysService = ReturnType<typeof createDeployKeysService>;
