import type { AuditEvent } from '../domain/contract.js';
import { ValidationError } from '../domain/errors.js';
import { distinctAuditActions, listAuditEvents } from '../store/audit.repository.js';
import { authorizeProject } from './access.js';
import type { Actor } from './actor.js';
import type { BaseDeps } from './deps.js';

/** The API contract's audit event (names and counts, never a value). */
export type { AuditEvent };

export function createAuditService(deps: BaseDeps) {
  const { db } = deps;
  return {
    /** A page of a project's audit events, newest first; `nextCursor` continues it. */
    async list(
      actor: Actor,
      slug: string,
      q: { limit?: number | undefined; before?: string | undefined; action?: string | undefined; name?: string | undefined },
    ): Promise<{ events: AuditEvent[]; nextCursor: string | null; actions: string[] }> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'reading the audit log');
      const limit = q.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new ValidationError('limit', 'limit must be a whole number from 1 to 200');
      const rows = await listAuditEvents(db, { projectId: p.id, limit: limit + 1, before: q.before, action: q.action, name: q.name });
      const page = rows.slice(0, limit);
      return {
        events: page.map((r) => ({
          id: r.id,
          at: new Date(r.at).toISOString(),
          actor: r.actor,
          ip: r.actor_ip,
          action: r.action,
          scope: r.scope,
          name: r.name,
          version: r.version,
          detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
        })),
        nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
        actions: await distinctAuditActions(db, p.id),
      };
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
