import { randomBytes } from 'node:crypto';
import type { Executor } from './executor.js';
import { Precompiled } from './precompiled.js';
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

/** The row an audit event is stored as (a new time-ordered id; the detail as JSON). */
export function auditRow(e: AuditInput): AuditEventRow {
  return {
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
  };
}

const INSERT_EVENT = new Precompiled(10, (ex: Executor, ...a: unknown[]) =>
  ex.insertInto('audit_events').values({
    id: a[0] as string,
    at: a[1] as number,
    project_id: a[2] as string | null,
    actor: a[3] as string,
    actor_ip: a[4] as string | null,
    action: a[5] as string,
    scope: a[6] as string | null,
    name: a[7] as string | null,
    version: a[8] as number | null,
    detail: a[9] as string | null,
  }),
);

export async function insertAuditEvents(ex: Executor, events: readonly AuditInput[]): Promise<void> {
  if (events.length === 0) return;
  const [e] = events;
  if (events.length === 1 && e) {
    // One event (every single write): the precompiled statement.
    const r = auditRow(e);
    await INSERT_EVENT.execute(ex, r.id, r.at, r.project_id, r.actor, r.actor_ip, r.action, r.scope, r.name, r.version, r.detail);
    return;
  }
  const rows = events.map(auditRow);
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
