import type { Project } from '../../../../services/projects.service.js';
import type { SecretMeta } from '../../../../services/secrets.service.js';
import { DataTable } from '../../components.js';
import { Badge, RelTime, ScopeBadge } from '../../ui.js';
import { projectHref } from '../projects.js';
import { canWrite, type SecretsMode, settingsHref } from './shell.js';

function StatusCell({ s }: { s: SecretMeta }) {
  if (s.status === 'pending_removal') {
    return (
      <>
        <Badge tone="red" dot>
          pending removal
        </Badge>
        <span class="status-note">
          {s.applied && s.applied.of > 0 ? `removed from ${s.applied.count} of ${s.applied.of} preview apps` : 'removed at the next deployment'}
        </span>
      </>
    );
  }
  if (s.scope === 'preview' && s.applied && s.applied.of > 0 && s.applied.count > 0 && s.applied.count < s.applied.of) {
    return (
      <>
        <Badge tone="amber" dot>
          applied to {s.applied.count} of {s.applied.of} preview apps
        </Badge>
        <span class="status-note">the others get it at their next deployment</span>
      </>
    );
  }
  if (s.status === 'deployed') {
    return (
      <Badge tone="green" dot>
        deployed
      </Badge>
    );
  }
  return (
    <>
      <Badge tone="amber" dot>
        pending
      </Badge>
      <span class="status-note">applies at the next deployment</span>
    </>
  );
}

export function SecretsTable(p: { project: Project; secrets: SecretMeta[]; mode: SecretsMode; now: number }) {
  const { project } = p;
  const write = canWrite(project);
  return (
    <DataTable columns={['Key', 'Digest', 'Last change', 'Status']} actions>
      {p.secrets.map((s) => {
        const prQ = s.pr !== undefined ? `pr=${s.pr}` : '';
        const history = `${projectHref(project.slug)}/settings/history/${s.scope}/${encodeURIComponent(s.name)}${prQ ? `?${prQ}` : ''}`;
        const del = `${settingsHref(project.slug, p.mode)}/delete?scope=${s.scope}&name=${encodeURIComponent(s.name)}${prQ ? `&${prQ}` : ''}`;
        return (
          <tr>
            <td class="primary" data-label="Key">
              <span class="key">{s.name}</span>
              <span class="key-meta">
                {p.mode === 'secrets' ? <ScopeBadge scope={s.scope} /> : null}
                {s.pr !== undefined ? <Badge tone="violet">override · PR #{s.pr}</Badge> : null}
                {s.binary ? <Badge tone="amber">binary</Badge> : null}
                <span>v{s.version}</span>
                <span aria-hidden="true">·</span>
                <a href={history}>
                  History
                  <span class="sr-only">
                    {' '}
                    of {s.name} ({s.scope})
                  </span>
                </a>
              </span>
              {s.binary ? (
                <span class="status-note">
                  binary: <code>keyloft deploy fly</code> cannot pass it as a <code>--build-secret</code> (text only); read it as a file with{' '}
                  <code>keyloft run --build</code>
                </span>
              ) : null}
            </td>
            <td data-label="Digest">
              {s.digest ? (
                <span class="digest" title="keyed digest of the value (HMAC), not the value">
                  {s.digest}
                </span>
              ) : (
                <span class="muted">deleted</span>
              )}
            </td>
            <td data-label="Last change">
              <RelTime iso={s.updatedAt} now={p.now} />
              <span class="who" title={s.updatedBy}>
                by {s.updatedBy}
              </span>
            </td>
            <td data-label="Status">
              <StatusCell s={s} />
            </td>
            <td class="actions">
              {write && !s.deleted ? (
                <a class="btn btn-sm btn-danger-ghost" href={del}>
                  Delete
                  <span class="sr-only">
                    {' '}
                    {s.name} ({s.scope}
                    {s.pr !== undefined ? ` PR #${s.pr}` : ''})
                  </span>
                </a>
              ) : null}
            </td>
          </tr>
        );
      })}
    </DataTable>
  );
}
