import { randomBytes } from 'node:crypto';
import type { Executor } from './executor.js';
import type { AuditEventRow } from './schema.js';

export interface AuditInput {
  at: number;
  projectId: string | null;
  actor: string;
  actorIp: string | null;
  action: string;
  scope?: string | null;
  name?: string | null;
  version?: number | null;
  /** Non-secret details, stored as JSON. Never a value. */
  detail?: Record<string, unknown> | null;
}

/** Ids sort by time, so `ORDER BY id DESC` is newest first. */
export function auditId(at: number): string {
  return `${at.toString(36).padStart(10, '0')}${randomBytes(6).toString('hex')}`;
}

export async function insertAuditEvents(ex: Executor, events: readonly AuditInput[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e) => ({
    id: auditId(e.at),
    at: e.at,
    project_id: e.projectId,
    actor: e.actor,
    actor_ip: e.actorIp,
    action: e.action,
    scope: e.scope ?? null,
    name: e.name ?? null,
    version: e.version ?? null,
    detail: e.detail ? JSON.stringify(e.detail) : null,
  }));
  // Chunked: SQLite limits the number of bound parameters per statement.
  for (let i = 0; i < rows.length; i += 500)
    await ex
      .insertInto('audit_events')
      .values(rows.slice(i, i + 500))
      .execute();
}

export interface AuditQuery {
  projectId: string;
  limit: number;
  before?: string | undefined;
  action?: string | undefined;
  name?: string | undefined;
}

export async function listAuditEvents(ex: Executor, q: AuditQuery): Promise<AuditEventRow[]> {
  let query = ex.selectFrom('audit_events').selectAll().where('project_id', '=', q.projectId);
  if (q.before) query = query.where('id', '<', q.before);
  if (q.action) query = query.where('action', '=', q.action);
  if (q.name) query = query.where('name', '=', q.name);
  return query.orderBy('id', 'desc').limit(q.limit).execute();
}

export async function distinctAuditActions(ex: Executor, projectId: string): Promise<string[]> {
  const rows = await ex.selectFrom('audit_events').select('action').distinct().where('project_id', '=', projectId).orderBy('action').execute();
  return rows.map((r) => r.action);
}
