import type { Project } from '../../../services/projects.service.js';
import type { CopyResult } from '../../../services/reseal.service.js';
import type { ImportChange } from '../../../services/secrets.service.js';
import { DataTable } from '../components.js';
import { Badge, Csrf, EmptyState, type PageCtx, ScopeBadge } from '../ui.js';
import { Head, type SecretsMode, SettingsShell, settingsHref } from './settings.js';

/** Copy review: what a copy would write and skip (a dry run), with a Confirm form. Names and digests only. */
export function CopyReviewPage(p: { ctx: PageCtx; project: Project; result: CopyResult; names: string; overwrite: boolean }) {
  const { project, result: r } = p;
  const back = settingsHref(project.slug, r.from === 'build' && r.to === 'build' ? 'build' : 'secrets');
  return (
    <SettingsShell ctx={p.ctx} project={project} section="secrets" title="Review copy">
      <div>
        <p class="small">
          <a href={back}>← Secrets</a>
        </p>
        <Head title="Review copy">
          From <ScopeBadge scope={r.from} /> to <ScopeBadge scope={r.to} /> — nothing has been written yet. Values stay on the server and are never shown.
        </Head>
      </div>
      <section class="card" aria-labelledby="copy-review-h">
        <div class="card-head">
          <h2 id="copy-review-h">
            {r.copied.length} to copy, {r.skipped.length} skipped
          </h2>
        </div>
        {r.copied.length + r.skipped.length === 0 ? (
          <EmptyState title={`No secrets in ${r.from}`}>
            <p>There is nothing to copy.</p>
          </EmptyState>
        ) : (
          <DataTable columns={['Key', 'Result', 'Digest']}>
            {r.copied.map((c) => (
              <tr>
                <td class="primary" data-label="Key">
                  <span class="key">{c.name}</span>
                </td>
                <td data-label="Result">
                  {c.change === 'added' ? <Badge tone="green">will be added</Badge> : <Badge tone="amber">will be overwritten</Badge>}
                </td>
                <td data-label="Digest">
                  <span class="digest">{c.digest}</span>
                </td>
              </tr>
            ))}
            {r.skipped.map((s) => (
              <tr>
                <td class="primary" data-label="Key">
                  <span class="key">{s.name}</span>
                </td>
                <td data-label="Result">
                  <Badge tone="gray">{s.reason === 'exists' ? 'skipped: exists in target' : 'skipped: same value'}</Badge>
                </td>
                <td data-label="Digest">
                  <span class="muted">—</span>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
        <form method="post" action={settingsHref(project.slug, 'copy')} class="card-foot">
          <Csrf ctx={p.ctx} />
          <input type="hidden" name="from" value={r.from} />
          <input type="hidden" name="to" value={r.to} />
          <input type="hidden" name="names" value={p.names} />
          {p.overwrite ? <input type="hidden" name="overwrite" value="1" /> : null}
          <input type="hidden" name="confirm" value="1" />
          <a class="btn" href={back}>
            Cancel
          </a>
          <button class="btn btn-primary" type="submit" disabled={r.copied.length === 0}>
            Confirm copy of {r.copied.length} secret{r.copied.length === 1 ? '' : 's'}
          </button>
        </form>
      </section>
    </SettingsShell>
  );
}

const CHANGE_LABEL: Record<ImportChange['change'], { tone: 'green' | 'amber' | 'gray' | 'red'; text: string }> = {
  added: { tone: 'green', text: 'added' },
  changed: { tone: 'amber', text: 'changed' },
  unchanged: { tone: 'gray', text: 'unchanged' },
  removed: { tone: 'red', text: 'removed' },
};

/**
 * Import review: per name added / changed (digest old → new) / unchanged / removed with replace.
 * The pasted text stays on the server (sealed, bound to the session, ten minutes): the Confirm
 * form carries only its id, so no value — stored or pasted — is in the page.
 */
export function ImportReviewPage(p: {
  ctx: PageCtx;
  project: Project;
  mode: SecretsMode;
  scope: string;
  changes: ImportChange[];
  replace: boolean;
  pendingId: string;
}) {
  const { project } = p;
  const base = settingsHref(project.slug, p.mode);
  const shown = p.changes.filter((c) => c.change !== 'removed' || p.replace);
  const notInFile = p.changes.filter((c) => c.change === 'removed');
  const n = (k: ImportChange['change']) => p.changes.filter((c) => c.change === k).length;
  const writes = n('added') + n('changed') + (p.replace ? n('removed') : 0);
  return (
    <SettingsShell ctx={p.ctx} project={project} section={p.mode} title="Review import">
      <div>
        <p class="small">
          <a href={base}>← {p.mode === 'build' ? 'Build secrets' : 'Secrets'}</a>
        </p>
        <Head title="Review import">
          Into <ScopeBadge scope={p.scope} /> — nothing has been written yet. Digests identify values without showing them; the pasted text waits on the server,
          sealed, for 10 minutes.
        </Head>
      </div>
      <section class="card" aria-labelledby="import-review-h">
        <div class="card-head">
          <h2 id="import-review-h">
            {n('added')} added, {n('changed')} changed, {n('unchanged')} unchanged{p.replace ? `, ${n('removed')} removed` : ''}
          </h2>
        </div>
        <DataTable columns={['Key', 'Change', 'Digest']}>
          {shown.map((c) => (
            <tr>
              <td class="primary" data-label="Key">
                <span class="key">{c.name}</span>
              </td>
              <td data-label="Change">
                <Badge tone={CHANGE_LABEL[c.change].tone}>{CHANGE_LABEL[c.change].text}</Badge>
              </td>
              <td data-label="Digest">
                {c.change === 'changed' ? (
                  <>
                    <span class="digest">{c.digestBefore}</span> → <span class="digest">{c.digestAfter}</span>
                  </>
                ) : (
                  <span class="digest">{c.change === 'removed' ? c.digestBefore : c.digestAfter}</span>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
        {!p.replace && notInFile.length > 0 ? (
          <div class="card-body">
            <p class="muted">Not in the pasted text (kept; removed only with “replace”): {notInFile.map((c) => c.name).join(', ')}</p>
          </div>
        ) : null}
        <form method="post" action={`${base}/import`} class="card-foot">
          <Csrf ctx={p.ctx} />
          <input type="hidden" name="scope" value={p.scope} />
          <input type="hidden" name="pending" value={p.pendingId} />
          <input type="hidden" name="confirm" value="1" />
          <a class="btn" href={base}>
            Cancel
          </a>
          <button class="btn btn-primary" type="submit" disabled={writes === 0}>
            {writes === 0 ? 'Nothing to change' : `Confirm import (${writes} change${writes === 1 ? '' : 's'})`}
          </button>
        </form>
      </section>
    </SettingsShell>
  );
}
