import type { Member, Project } from '../../../../services/projects.service.js';
import { DataTable } from '../../components.js';
import {
  Badge,
  Csrf,
  ErrorSummary,
  Field,
  type FormErrors,
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

export function MembersPage(p: { ctx: PageCtx; project: Project; members: Member[]; form?: { email: string; role: string; release?: boolean }; errors?: FormErrors }) {
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
        <form method="post" action={base} novalidate class="card" aria-labelledby="add-member-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <div>
              <h2 id="add-member-h">Add a member</h2>
              <p>The person needs a keyloft account; an instance admin creates one with <code>keyloft admin create-user</code>.</p>
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
                  Add member
                </button>
              </div>
            </div>
          </div>
        </form>
      ) : (
        <ReadOnlyNote what="manage members (admins only)" />
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
