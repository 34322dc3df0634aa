import type { Project } from '../../../../services/projects.service.js';
import type { VersionMeta } from '../../../../services/secrets.service.js';
import { DataTable } from '../../components.js';
import { Badge, Csrf, ErrorSummary, type FormErrors, type PageCtx, RelTime, ScopeBadge } from '../../ui.js';
import { projectHref } from '../projects.js';
import { settingsHref, canWrite, SettingsShell, Head } from './shell.js';
import type { SecretsMode } from './secrets.js';

export function HistoryPage(p: {
  ctx: PageCtx;
  project: Project;
  scope: string;
  name: string;
  versions: VersionMeta[];
  canRestore?: boolean;
  errors?: FormErrors;
}) {
  const { project } = p;
  const mode: SecretsMode = p.scope === 'build' ? 'build' : 'secrets';
  const restore = p.canRestore === true && canWrite(project);
  const restoreAction = `${projectHref(project.slug)}/settings/history/${p.scope}/${encodeURIComponent(p.name)}/restore`;
  return (
    <SettingsShell ctx={p.ctx} project={project} section={mode} title={`History of ${p.name}`}>
      <div>
        <p class="small">
          <a href={settingsHref(project.slug, mode)}>← {mode === 'build' ? 'Build secrets' : 'Secrets'}</a>
        </p>
        <Head title={`Version history`}>
          <span class="key">{p.name}</span> <ScopeBadge scope={p.scope} /> — metadata only; values are never shown.
          {restore ? ' Restoring a version makes it current again as a new version; the value is re-sealed on the server and never shown.' : null}
        </Head>
      </div>
      <ErrorSummary errors={p.errors} title="Nothing was restored" />
      <section class="card">
        <DataTable columns={['Version', 'Change', 'Digest', 'Size', 'When']} actions={restore}>
          {p.versions.map((v, i) => (
            <tr>
              <td class="primary" data-label="Version">
                <strong>v{v.version}</strong> {i === 0 ? <Badge tone="blue">current</Badge> : null}
              </td>
              <td data-label="Change">
                {v.kind === 'delete' ? (
                  <Badge tone="red">deleted</Badge>
                ) : v.kind === 'restore' ? (
                  <Badge tone="violet">restored</Badge>
                ) : (
                  <Badge tone="gray">set</Badge>
                )}
              </td>
              <td data-label="Digest">{v.digest ? <span class="digest">{v.digest}</span> : <span class="muted">—</span>}</td>
              <td data-label="Size">{v.size === null ? '—' : `${v.size} B`}</td>
              <td data-label="When">
                <RelTime iso={v.createdAt} now={p.ctx.now} />
                <span class="who" title={v.createdBy}>
                  by {v.createdBy}
                </span>
              </td>
              {restore ? (
                <td class="actions">
                  {i > 0 && v.kind !== 'delete' && v.digest !== null ? (
                    <form method="post" action={restoreAction} class="inline-form">
                      <Csrf ctx={p.ctx} />
                      <input type="hidden" name="version" value={String(v.version)} />
                      <button class="btn btn-sm" type="submit">
                        Restore v{v.version}
                        <span class="sr-only"> of {p.name}</span>
                      </button>
                    </form>
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
        </DataTable>
      </section>
    </SettingsShell>
  );
}

// ---------------------------------------------------------------- Members
