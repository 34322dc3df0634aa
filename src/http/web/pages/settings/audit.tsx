import type { AuditEvent } from '../../../../services/audit.service.js';
import type { Project } from '../../../../services/projects.service.js';
import { auditActionName } from '../../audit-names.js';
import { DataTable } from '../../components.js';
import { Badge, EmptyState, Field, type PageCtx, RelTime } from '../../ui.js';
import { settingsHref, SettingsShell, Head } from './shell.js';

function describe(e: AuditEvent): string {
  const d = e.detail ?? {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'object') continue;
    parts.push(`${k}: ${String(v)}`);
  }
  return parts.join(' · ');
}

/** A deployment started by a person (release grant), or a grant change: what an admin reviewing the log must not miss. */
function releaseMark(e: AuditEvent): string | null {
  const by = (e.detail as { startedBy?: { kind?: string } } | null)?.startedBy;
  if (e.action === 'deployment.started' && by?.kind === 'person') return 'started by a person';
  if (e.action === 'member.release_granted') return 'can read values';
  return null;
}

export function AuditPage(p: {
  ctx: PageCtx;
  project: Project;
  events: AuditEvent[];
  actions: string[];
  filter: { action: string; name: string };
  nextCursor: string | null;
  isFirstPage: boolean;
}) {
  const { project } = p;
  const base = settingsHref(project.slug, 'audit');
  const qs = (extra: Record<string, string>) => {
    const u = new URLSearchParams();
    if (p.filter.action) u.set('action', p.filter.action);
    if (p.filter.name) u.set('name', p.filter.name);
    for (const [k, v] of Object.entries(extra)) u.set(k, v);
    const s = u.toString();
    return s ? `${base}?${s}` : base;
  };
  return (
    <SettingsShell ctx={p.ctx} project={project} section="audit" title="Audit log">
      <Head title="Audit log">Who did what and when, newest first. Events name secrets and versions, never values.</Head>
      <form method="get" action={base} class="card" role="search" aria-label="Filter the audit log">
        <div class="card-body">
          <div class="secret-form">
            <Field name="action" label="Action">
              {(a) => (
                <select {...a} name="action">
                  <option value="" selected={!p.filter.action}>
                    All actions
                  </option>
                  {p.actions.map((x) => (
                    <option value={x} selected={p.filter.action === x}>
                      {auditActionName(x)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field name="q-name" label="Secret name">
              {(a) => <input {...a} name="name" type="search" class="input-mono" value={p.filter.name} placeholder="DATABASE_URL" spellcheck={false} />}
            </Field>
            <div class="submit-cell row">
              <button class="btn btn-primary" type="submit">
                Filter
              </button>
              {p.filter.action || p.filter.name ? (
                <a class="btn btn-ghost" href={base}>
                  Clear
                </a>
              ) : null}
            </div>
          </div>
        </div>
      </form>
      <section class="card" aria-label="Events">
        {p.events.length === 0 ? (
          <EmptyState title="No events">
            <p>{p.filter.action || p.filter.name ? 'Nothing matches these filters.' : 'Nothing has happened in this project yet.'}</p>
          </EmptyState>
        ) : (
          <DataTable columns={['When', 'Action', 'Target', 'Actor', 'Details']}>
            {p.events.map((e) => (
              <tr>
                <td class="primary" data-label="When">
                  <RelTime iso={e.at} now={p.ctx.now} />
                </td>
                <td data-label="Action">
                  <Badge
                    tone={
                      e.action.includes('deleted') || e.action.includes('removed') || e.action.includes('failed')
                        ? 'red'
                        : e.action.startsWith('secret.')
                          ? 'blue'
                          : 'gray'
                    }
                  >
                    <span title={e.action}>{auditActionName(e.action)}</span>
                  </Badge>
                  {releaseMark(e) ? (
                    <>
                      {' '}
                      <span data-release-mark>
                        <Badge tone="amber">{releaseMark(e)}</Badge>
                      </span>
                    </>
                  ) : null}
                </td>
                <td data-label="Target">
                  {e.name ? (
                    <span>
                      <span class="key">{e.name}</span>
                      {e.scope ? <span class="muted"> ({e.scope})</span> : null}
                      {e.version !== null ? <span class="muted"> v{e.version}</span> : null}
                    </span>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td data-label="Actor">
                  {e.actor}
                  {e.ip ? <span class="who">{e.ip}</span> : null}
                </td>
                <td data-label="Details" class="detail">
                  {describe(e) || '—'}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
        <div class="card-foot pager">
          {p.isFirstPage ? <span class="muted">Newest events</span> : <a href={qs({})}>← Newest</a>}
          {p.nextCursor ? (
            <a class="btn btn-sm" href={qs({ before: p.nextCursor })}>
              Older events →
            </a>
          ) : (
            <span class="muted">No older events</span>
          )}
        </div>
      </section>
    </SettingsShell>
  );
}
