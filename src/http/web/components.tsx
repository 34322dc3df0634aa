import type { ComponentChildren } from 'preact';
import { RelTime } from './ui.js';

/** A secret shown only this once (an API token, a deploy key): read-only, with a Copy button the script reveals. */
export function TokenBox({ id, value }: { id: string; value: string }) {
  return (
    <div class="token-box">
      <input id={id} type="text" readOnly value={value} class="input-mono" autocomplete="off" spellcheck={false} />
      <button class="btn btn-primary" type="button" data-copy-target={id} hidden>
        Copy
      </button>
    </div>
  );
}

/** A credential listed by name, never by value (API tokens, deploy keys). */
export interface CredentialRow {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt?: string | null | undefined;
}

/** The Name / Created / Last used table of credentials, with a revoke action per row. */
export function CredentialsTable<T extends CredentialRow>(p: {
  rows: T[];
  now: number;
  /** Shown after the creation time (who created it), if any. */
  createdBy?: (row: T) => string;
  /** Shown under the name (e.g. read-only, expiry), if any. */
  badges?: (row: T) => ComponentChildren;
  action: (row: T) => ComponentChildren;
}) {
  return (
    <DataTable columns={['Name', 'Created', 'Last used']} actions>
      {p.rows.map((r) => {
        const by = p.createdBy?.(r);
        return (
          <tr>
            <td class="primary" data-label="Name">
              <strong>{r.name}</strong>
              {p.badges ? <div class="key-meta">{p.badges(r)}</div> : null}
            </td>
            <td data-label="Created">
              <RelTime iso={r.createdAt} now={p.now} />
              {by !== undefined ? (
                <span class="who" title={by}>
                  by {by}
                </span>
              ) : null}
            </td>
            <td data-label="Last used">{r.lastUsedAt ? <RelTime iso={r.lastUsedAt} now={p.now} /> : <span class="muted">never</span>}</td>
            <td class="actions">{p.action(r)}</td>
          </tr>
        );
      })}
    </DataTable>
  );
}

const ENV_FILTERS: Array<[string, string]> = [
  ['all', 'All'],
  ['production', 'Production'],
  ['preview', 'Preview'],
];

/** All / Production / Preview links to `href` (with `?env=` unless all); the current one is marked. */
export function EnvFilter({ href, current }: { href: string; current: string }) {
  return (
    <nav class="segmented" aria-label="Filter by environment">
      {ENV_FILTERS.map(([k, label]) => (
        <a href={k === 'all' ? href : `${href}?env=${k}`} aria-current={current === k ? 'true' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}

/** A responsive table: one header per column, then an unlabelled Actions column if `actions`; the rows are the children. */
export function DataTable({ columns, actions = false, children }: { columns: string[]; actions?: boolean; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="responsive">
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col">{c}</th>
            ))}
            {actions ? (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
