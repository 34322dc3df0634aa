import type { ComponentChildren } from 'preact';
import type { UserSummary } from '../../../services/user-admin.service.js';
import { DataTable, TokenBox } from '../components.js';
import { Badge, Csrf, Document, EmptyState, type PageCtx, RelTime } from '../ui.js';

/**
 * The Users page's columns, in order. Each is a header and a cell; add a column (e.g. pending
 * invitations, SSO) by adding an entry here.
 */
export const USER_COLUMNS: Array<{ header: string; cell: (u: UserSummary, ctx: PageCtx) => ComponentChildren }> = [
  {
    header: 'Person',
    cell: (u, ctx) => (
      <>
        <strong>{u.email}</strong>
        {u.email === ctx.email ? <span class="muted"> (you)</span> : null}
        <div class="key-meta">
          {u.isAdmin ? <Badge tone="violet">instance admin</Badge> : null}
          {u.disabled ? <Badge tone="red">disabled</Badge> : null}
          {u.locked ? (
            <Badge tone="amber" dot>
              locked
            </Badge>
          ) : null}
        </div>
      </>
    ),
  },
  { header: 'Last sign-in', cell: (u, ctx) => (u.lastLoginAt ? <RelTime iso={u.lastLoginAt} now={ctx.now} /> : <span class="muted">never</span>) },
  {
    header: 'Projects',
    cell: (u) =>
      u.projects.length === 0 ? (
        <span class="muted">none</span>
      ) : (
        <span class="who" title={u.projects.join(', ')}>
          {u.projects.join(', ')}
        </span>
      ),
  },
];

function Action(p: { ctx: PageCtx; user: UserSummary; action: string; label: string; danger?: boolean }) {
  return (
    <form method="post" action={`/users/${encodeURIComponent(p.user.id)}/${p.action}`} class="inline-form">
      <Csrf ctx={p.ctx} />
      <button class={`btn btn-sm ${p.danger ? 'btn-danger-ghost' : ''}`} type="submit" aria-label={`${p.label}: ${p.user.email}`}>
        {p.label}
      </button>
    </form>
  );
}

export function UsersPage(p: { ctx: PageCtx; users: UserSummary[]; reset?: { email: string; url: string; expiresAt: string } }) {
  return (
    <Document ctx={p.ctx} title="Users" crumbs={[{ label: 'Users', href: '/users' }]}>
      <div class="page-head">
        <div>
          <h1>Users</h1>
          <p>Everyone with an account on this keyloft. Disabling someone ends their sessions and revokes their API tokens at once.</p>
        </div>
      </div>
      <div class="stack-lg">
        {p.reset ? (
          <section class="card highlight" aria-labelledby="reset-h">
            <div class="card-head">
              <div>
                <h2 id="reset-h">Password-reset link for {p.reset.email}</h2>
                <p>
                  Send it to them over a channel you trust. It works once, until <RelTime iso={p.reset.expiresAt} now={p.ctx.now} />, and is shown only now.
                </p>
              </div>
            </div>
            <div class="card-body">
              <div class="field">
                <label for="reset-url">One-time link</label>
                <TokenBox id="reset-url" value={p.reset.url} />
              </div>
            </div>
          </section>
        ) : null}
        <section class="card" aria-labelledby="users-h">
          <div class="card-head">
            <h2 id="users-h">
              People <span class="muted">({p.users.length})</span>
            </h2>
          </div>
          {p.users.length === 0 ? (
            <EmptyState title="No users" />
          ) : (
            <DataTable columns={USER_COLUMNS.map((c) => c.header)} actions>
              {p.users.map((u) => (
                <tr>
                  {USER_COLUMNS.map((c, i) => (
                    <td class={i === 0 ? 'primary' : undefined} data-label={c.header}>
                      {c.cell(u, p.ctx)}
                    </td>
                  ))}
                  <td class="actions">
                    {u.locked ? <Action ctx={p.ctx} user={u} action="unlock" label="Unlock" /> : null}
                    {u.disabled ? null : <Action ctx={p.ctx} user={u} action="password-reset" label="Reset password" />}
                    {u.isAdmin ? (
                      <Action ctx={p.ctx} user={u} action="unmake-admin" label="Remove admin" />
                    ) : (
                      <Action ctx={p.ctx} user={u} action="make-admin" label="Make admin" />
                    )}
                    {u.disabled ? (
                      <Action ctx={p.ctx} user={u} action="enable" label="Enable" />
                    ) : u.email === p.ctx.email ? null : (
                      <Action ctx={p.ctx} user={u} action="disable" label="Disable" danger />
                    )}
                  </td>
                </tr>
              ))}
            </DataTable>
          )}
        </section>
      </div>
    </Document>
  );
}
