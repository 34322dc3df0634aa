import type { ApiTokenInfo } from '../../../services/users.service.js';
import { CredentialsTable, TokenBox } from '../components.js';
import { Badge, Csrf, Document, EmptyState, ErrorSummary, Field, type FormErrors, type PageCtx, RelTime } from '../ui.js';

export function TokensPage(p: { ctx: PageCtx; tokens: ApiTokenInfo[]; created?: { name: string; token: string }; name?: string; errors?: FormErrors }) {
  const e = p.errors?.fields ?? {};
  return (
    <Document ctx={p.ctx} title="API tokens" crumbs={[{ label: 'API tokens', href: '/account/tokens' }]}>
      <div class="page-head">
        <div>
          <h1>API tokens</h1>
          <p>
            Personal tokens for the <code>keyloft</code> CLI and automation. They act as you, in every project you belong to.
          </p>
        </div>
      </div>
      <div class="stack-lg">
        {p.created ? (
          <section class="card highlight" aria-labelledby="new-token-h">
            <div class="card-head">
              <div>
                <h2 id="new-token-h">Token “{p.created.name}” created</h2>
                <p>Copy it now: it is shown only this once and stored only as a hash.</p>
              </div>
            </div>
            <div class="card-body stack">
              <div class="field">
                <label for="new-token">Your new API token</label>
                <TokenBox id="new-token" value={p.created.token} />
              </div>
              <p class="hint">
                Use it with <code>keyloft login --url URL --token TOKEN</code> or <code>KEYLOFT_TOKEN</code>.
              </p>
            </div>
          </section>
        ) : null}
        <ErrorSummary errors={p.errors} />
        <form method="post" action="/account/tokens" novalidate class="card" aria-labelledby="create-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <h2 id="create-h">Create a token</h2>
          </div>
          <div class="card-body">
            <div class="secret-form">
              <Field name="name" label="Name" error={e.name} hint="What it is for, e.g. “laptop” or “GitHub Actions”.">
                {(a) => <input {...a} name="name" type="text" value={p.name ?? ''} maxLength={100} autocomplete="off" required />}
              </Field>
              <Field name="expiresInDays" label="Expires" error={e.expiresInDays}>
                {(a) => (
                  <select {...a} name="expiresInDays">
                    <option value="never">never</option>
                    <option value="7">in 7 days</option>
                    <option value="30">in 30 days</option>
                    <option value="90">in 90 days</option>
                    <option value="365">in a year</option>
                  </select>
                )}
              </Field>
              <div class="submit-cell">
                <button class="btn btn-primary" type="submit">
                  Create token
                </button>
              </div>
            </div>
            <div class="check">
              <input id="f-readOnly" name="readOnly" type="checkbox" />
              <label for="f-readOnly">Read-only: it can list and read metadata, but every change and every deployment start is refused.</label>
            </div>
          </div>
        </form>
        <section class="card" aria-labelledby="tokens-h">
          <div class="card-head">
            <h2 id="tokens-h">
              Your tokens <span class="muted">({p.tokens.length})</span>
            </h2>
          </div>
          {p.tokens.length === 0 ? (
            <EmptyState title="No API tokens">
              <p>Create one to use the CLI.</p>
            </EmptyState>
          ) : (
            <CredentialsTable
              rows={p.tokens}
              now={p.ctx.now}
              badges={(t) => (
                <>
                  {t.readOnly ? <Badge tone="blue">read-only</Badge> : null}
                  {t.expiresAt ? (
                    <span class="muted small">
                      expires <RelTime iso={t.expiresAt} now={p.ctx.now} />
                    </span>
                  ) : null}
                </>
              )}
              action={(t) => (
                <a class="btn btn-sm btn-danger-ghost" href={`/account/tokens/${encodeURIComponent(t.id)}/revoke`} aria-label={`Revoke ${t.name}`}>
                  Revoke
                </a>
              )}
            />
          )}
        </section>
      </div>
    </Document>
  );
}

export function ConfirmRevokePage(p: { ctx: PageCtx; token: ApiTokenInfo }) {
  return (
    <Document ctx={p.ctx} title="Revoke token" crumbs={[{ label: 'API tokens', href: '/account/tokens' }]}>
      <div class="narrow">
        <form method="post" action={`/account/tokens/${encodeURIComponent(p.token.id)}/revoke`} class="card danger" aria-labelledby="rv-h">
          <Csrf ctx={p.ctx} />
          <div class="card-head">
            <h2 id="rv-h">Revoke “{p.token.name}”?</h2>
          </div>
          <div class="card-body">
            <p>Anything that uses this token stops working at once. This cannot be undone.</p>
          </div>
          <div class="card-foot">
            <a class="btn" href="/account/tokens">
              Cancel
            </a>
            <button class="btn btn-danger" type="submit">
              Revoke token
            </button>
          </div>
        </form>
      </div>
    </Document>
  );
}
