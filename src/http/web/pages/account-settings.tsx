import type { SessionInfo } from '../../../services/user-admin.service.js';
import { DataTable } from '../components.js';
import { Badge, Csrf, Document, ErrorSummary, Field, type FormErrors, type PageCtx, RelTime } from '../ui.js';

/** The Account page: change your password, see and end your sessions; API tokens are one link away. */
export function AccountPage(p: { ctx: PageCtx; sessions: SessionInfo[]; errors?: FormErrors }) {
  const e = p.errors?.fields ?? {};
  return (
    <Document ctx={p.ctx} title="Account" crumbs={[{ label: 'Account', href: '/account' }]}>
      <div class="page-head">
        <div>
          <h1>Account</h1>
          <p>
            Signed in as {p.ctx.email}. Personal API tokens are on <a href="/account/tokens">API tokens</a>.
          </p>
        </div>
      </div>
      <div class="stack-lg narrow">
        <form method="post" action="/account/password" novalidate class="card" aria-labelledby="pw-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <div>
              <h2 id="pw-h">Change password</h2>
              <p>Your other sessions end; this one stays signed in. API tokens keep working.</p>
            </div>
          </div>
          <div class="card-body stack">
            <ErrorSummary errors={p.errors} />
            <Field name="current" label="Current password" error={e.current}>
              {(a) => <input {...a} name="current" type="password" autocomplete="current-password" required />}
            </Field>
            <Field name="new" label="New password" error={e.new} hint="At least 10 characters.">
              {(a) => <input {...a} name="new" type="password" autocomplete="new-password" required />}
            </Field>
            <Field name="new2" label="Repeat the new password" error={e.new2}>
              {(a) => <input {...a} name="new2" type="password" autocomplete="new-password" required />}
            </Field>
          </div>
          <div class="card-foot">
            <span class="muted">The same rule as at setup.</span>
            <button class="btn btn-primary" type="submit">
              Change password
            </button>
          </div>
        </form>
        <section class="card" aria-labelledby="sessions-h">
          <div class="card-head">
            <h2 id="sessions-h">
              Sessions <span class="muted">({p.sessions.length})</span>
            </h2>
          </div>
          <DataTable columns={['Signed in', 'Last active', 'From']} actions>
            {p.sessions.map((s) => (
              <tr>
                <td class="primary" data-label="Signed in">
                  <RelTime iso={s.createdAt} now={p.ctx.now} /> {s.current ? <Badge tone="green">this session</Badge> : null}
                </td>
                <td data-label="Last active">
                  <RelTime iso={s.lastSeenAt} now={p.ctx.now} />
                </td>
                <td data-label="From">{s.ip ?? <span class="muted">unknown</span>}</td>
                <td class="actions">
                  {s.current ? null : (
                    <form method="post" action={`/account/sessions/${encodeURIComponent(s.id)}/revoke`} class="inline-form">
                      <Csrf ctx={p.ctx} />
                      <button class="btn btn-sm btn-danger-ghost" type="submit" aria-label="End this session">
                        End
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
        </section>
      </div>
    </Document>
  );
}
