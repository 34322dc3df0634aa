import type { Member, Project } from '../../../../services/projects.service.js';
import type { Invitation } from '../../../../services/invitations.service.js';
import { DataTable, TokenBox } from '../../components.js';
import {
  Badge,
  Csrf,
  ErrorSummary,
  Field,
  type FormErrors,
  formatDate,
  type PageCtx,
  RelTime,
} from '../../ui.js';
import { settingsHref, SettingsShell, Head, ReadOnlyNote } from './shell.js';

const ROLE_HELP: Record<string, string> = {
  admin: 'members, settings, delete project',
  member: 'write and delete secrets',
  viewer: 'metadata only',
};

/** What the release grant means, said plainly wherever it is set or shown. */
export const RELEASE_WARNING = 'can read values by starting a deployment';

function RoleOptions({ selected }: { selected: string }) {
  return (
    <>
      {(['viewer', 'member', 'admin'] as const).map((r) => (
        <option value={r} selected={selected === r}>
          {r}
        </option>
      ))}
    </>
  );
}

/** A link just created, shown once in the response to the POST that made it. */
export interface CreatedInvitation {
  email: string;
  url: string;
  expiresAt: string;
  emailed: boolean;
  mailFailed: boolean;
}

export function MembersPage(p: {
  ctx: PageCtx;
  project: Project;
  members: Member[];
  invitations?: Invitation[] | undefined;
  created?: CreatedInvitation | undefined;
  form?: { email: string; role: string; release?: boolean } | undefined;
  errors?: FormErrors | undefined;
}) {
  const { project } = p;
  const isAdmin = project.role === 'admin';
  const base = settingsHref(project.slug, 'members');
  const e = p.errors?.fields ?? {};
  const form = p.form ?? { email: '', role: 'member' };
  return (
    <SettingsShell ctx={p.ctx} project={project} section="members" title="Members">
      <Head title="Members">
        Admins manage members and settings; members write secrets; viewers see metadata only. Deployments are started by the pipeline (a deploy key);
        a person may start one only with the <strong>release</strong> grant, which an admin gives below: whoever has it {RELEASE_WARNING}.
      </Head>
      <ErrorSummary errors={p.errors} />
      {isAdmin ? (
        <>
          {p.created ? (
            <section class="card" aria-labelledby="invite-link-h">
              <div class="card-head">
                <div>
                  <h2 id="invite-link-h">Invitation link for {p.created.email}</h2>
                  <p>
                    {p.created.emailed
                      ? `E-mailed to ${p.created.email}. `
                      : p.created.mailFailed
                        ? 'The e-mail could not be sent (the failure was logged): send this link yourself. '
                        : 'Send this link to them. '}
                    It is shown only once, works once, and expires on {formatDate(p.created.expiresAt)}.
                  </p>
                </div>
              </div>
              <div class="card-body">
                <label class="sr-only" for="invite-url">
                  Invitation link
                </label>
                <TokenBox id="invite-url" value={p.created.url} />
              </div>
            </section>
          ) : null}
          <form method="post" action={settingsHref(project.slug, 'invitations')} novalidate class="card" aria-labelledby="invite-h">
            <Csrf ctx={p.ctx} />
            <div class="card-head">
              <div>
                <h2 id="invite-h">Invite a person</h2>
                <p>They get a one-time link (valid 7 days): a new person sets a password, someone with an account signs in and accepts.</p>
              </div>
            </div>
            <div class="card-body">
              <div class="secret-form">
                <Field name="email" label="Email" error={e.email}>
                  {(a) => <input {...a} name="email" type="email" value={form.email} autocomplete="off" required />}
                </Field>
                <Field name="role" label="Role" error={e.role}>
                  {(a) => (
                    <select {...a} name="role">
                      <RoleOptions selected={form.role} />
                    </select>
                  )}
                </Field>
                <div class="field">
                  <label class="check">
                    <input type="checkbox" name="release" value="yes" checked={form.release === true} aria-describedby="release-warn" /> Release grant
                  </label>
                  <p class="hint" id="release-warn">
                    Warning: a person with the release grant {RELEASE_WARNING}.
                  </p>
                </div>
                <div class="submit-cell">
                  <button class="btn btn-primary" type="submit">
                    Invite
                  </button>
                </div>
              </div>
              <label class="check">
                <input type="checkbox" name="release" value="on" checked={form.release === true} /> Also grant <strong>release</strong>: they can read values by starting a
                deployment
              </label>
            </div>
          </form>
          {(p.invitations ?? []).length > 0 ? (
            <section class="card" aria-labelledby="pending-h">
              <div class="card-head">
                <h2 id="pending-h">
                  Pending invitations <span class="muted">({(p.invitations ?? []).length})</span>
                </h2>
              </div>
              <DataTable columns={['Email', 'Role', 'Invited', 'Expires']} actions>
                {(p.invitations ?? []).map((inv) => (
                  <tr>
                    <td class="primary" data-label="Email">
                      {inv.email}
                    </td>
                    <td data-label="Role">
                      <Badge tone="gray">{inv.role}</Badge> {inv.release ? <Badge tone="amber">release</Badge> : null}
                    </td>
                    <td data-label="Invited">
                      <RelTime iso={inv.createdAt} now={p.ctx.now} /> <span class="muted">by {inv.createdBy}</span>
                    </td>
                    <td data-label="Expires">
                      <RelTime iso={inv.expiresAt} now={p.ctx.now} />
                    </td>
                    <td class="actions">
                      <form method="post" action={`${settingsHref(project.slug, 'invitations')}/${encodeURIComponent(inv.id)}/revoke`} class="inline-form">
                        <Csrf ctx={p.ctx} />
                        <button class="btn btn-sm btn-danger-ghost" type="submit" aria-label={`Revoke the invitation of ${inv.email}`}>
                          Revoke
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </DataTable>
            </section>
          ) : null}
        </>
      ) : (
        <ReadOnlyNote role={project.role} need="admin" what="add or remove members" />
      )}
      <section class="card" aria-labelledby="members-h">
        <div class="card-head">
          <h2 id="members-h">
            People <span class="muted">({p.members.length})</span>
          </h2>
        </div>
        <DataTable columns={['Email', 'Role', 'Release', 'Added']} actions={isAdmin}>
          {p.members.map((m, i) => (
            <tr>
              <td class="primary" data-label="Email">
                {m.email} {m.email === p.ctx.email ? <span class="badge badge-outline">you</span> : null}
              </td>
              <td data-label="Role">
                {isAdmin ? (
                  <form method="post" action={`${base}/role`} class="inline-form">
                    <Csrf ctx={p.ctx} />
                    <input type="hidden" name="email" value={m.email} />
                    <label class="sr-only" for={`role-${i}`}>
                      Role of {m.email}
                    </label>
                    <select id={`role-${i}`} name="role">
                      <RoleOptions selected={m.role} />
                    </select>
                    <input type="hidden" name="releaseShown" value="1" />
                    <label class="check" title={`release grant: ${RELEASE_WARNING}`}>
                      <input type="checkbox" name="release" value="yes" checked={m.release} aria-label={`Release grant of ${m.email} (${RELEASE_WARNING})`} /> release
                    </label>
                    <button class="btn btn-sm" type="submit">
                      Change
                    </button>
                  </form>
                ) : (
                  <span title={ROLE_HELP[m.role]}>
                    <Badge tone={m.role === 'admin' ? 'violet' : m.role === 'member' ? 'blue' : 'gray'}>{m.role}</Badge>
                  </span>
                )}
              </td>
              <td data-label="Release">
                {m.release ? (
                  <span title={RELEASE_WARNING} data-release="yes">
                    <Badge tone="amber">can release</Badge>
                  </span>
                ) : (
                  <span class="muted" data-release="no">
                    —
                  </span>
                )}
              </td>
              <td data-label="Added">
                <RelTime iso={m.addedAt} now={p.ctx.now} />
              </td>
              {isAdmin ? (
                <td class="actions">
                  <a class="btn btn-sm btn-danger-ghost" href={`${base}/remove?email=${encodeURIComponent(m.email)}`} aria-label={`Remove ${m.email}`}>
                    Remove
                  </a>
                </td>
              ) : null}
            </tr>
          ))}
        </DataTable>
      </section>
    </SettingsShell>
  );
}

export function ConfirmRemoveMemberPage(p: { ctx: PageCtx; project: Project; member: Member }) {
  const base = settingsHref(p.project.slug, 'members');
  return (
    <SettingsShell ctx={p.ctx} project={p.project} section="members" title="Remove member">
      <form method="post" action={`${base}/remove`} class="card danger" aria-labelledby="rm-h">
        <Csrf ctx={p.ctx} />
        <input type="hidden" name="email" value={p.member.email} />
        <div class="card-head">
          <h2 id="rm-h">Remove {p.member.email}?</h2>
        </div>
        <div class="card-body">
          <p>
            They lose their <strong>{p.member.role}</strong> access to {p.project.name} at once. Their API tokens stay valid for other projects.
          </p>
        </div>
        <div class="card-foot">
          <a class="btn" href={base}>
            Cancel
          </a>
          <button class="btn btn-danger" type="submit">
            Remove member
          </button>
        </div>
      </form>
    </SettingsShell>
  );
}

// ---------------------------------------------------------------- Audit log
