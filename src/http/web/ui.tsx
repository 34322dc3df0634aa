import type { ComponentChildren, JSX } from 'preact';
import { ASSETS } from './assets.js';

/** What every signed-in page knows about the request. */
export interface PageCtx {
  email: string;
  isAdmin: boolean;
  csrf: string;
  flash: Flash | undefined;
  now: number;
}

export interface Flash {
  kind: 'success' | 'error' | 'info';
  text: string;
}

/** Field name → message, for errors shown next to fields and in the summary. */
export type FieldErrors = Record<string, string>;

/** Errors of a form submission: messages per field, and messages for the form as a whole. */
export interface FormErrors {
  fields: FieldErrors;
  general: string[];
  /** Where a field's message should link to (field name → element id). */
  ids?: Record<string, string>;
}

export function noErrors(): FormErrors {
  return { fields: {}, general: [] };
}

export function hasErrors(e: FormErrors | undefined): boolean {
  return !!e && (e.general.length > 0 || Object.keys(e.fields).length > 0);
}

function Head({ title }: { title: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="same-origin" />
      <title>{`${title} · keyloft`}</title>
      <link rel="icon" href={ASSETS.icon.path} type="image/svg+xml" />
      <link rel="stylesheet" href={ASSETS.css.path} />
      <script src={ASSETS.js.path} defer></script>
    </head>
  );
}

export function Logo({ size = 24 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="#18181b" />
      <path d="M9 22V10h3v5l5-5h4l-6 6 6 6h-4l-5-5v5z" fill="#fff" />
    </svg>
  );
}

/** A signed-out page (setup, login): a centered card. */
export function AuthDocument({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <html lang="en">
      <Head title={title} />
      <body>
        <main class="auth" id="main">
          <div class="auth-card">
            <div class="auth-brand">
              <span class="brand">
                <Logo size={28} />
                <span>keyloft</span>
              </span>
            </div>
            {children}
          </div>
        </main>
      </body>
    </html>
  );
}

export interface Crumb {
  label: string;
  href: string;
  badge?: string;
}

/** A signed-in page: top bar with breadcrumbs and the account menu, optional tabs, then content. */
export function Document(props: { ctx: PageCtx; title: string; crumbs?: Crumb[]; tabs?: ComponentChildren; children: ComponentChildren }) {
  const { ctx } = props;
  return (
    <html lang="en">
      <Head title={props.title} />
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="topbar">
          <div class="topbar-row">
            <a class="brand" href="/projects" aria-label="keyloft: all projects">
              <Logo />
              <span class="brand-name">keyloft</span>
            </a>
            <nav class="crumbs" aria-label="Breadcrumb">
              {(props.crumbs ?? []).map((c) => (
                <>
                  <span class="crumb-sep" aria-hidden="true">
                    /
                  </span>
                  <a href={c.href}>{c.label}</a>
                  {c.badge ? <span class="badge badge-outline role-pill">{c.badge}</span> : null}
                </>
              ))}
            </nav>
            <span class="spacer" />
            {ctx.isAdmin ? (
              <a class="topbar-link" href="/users">
                Users
              </a>
            ) : null}
            <AccountMenu ctx={ctx} />
          </div>
          {props.tabs}
        </header>
        <main class="container" id="main" tabIndex={-1}>
          {ctx.flash ? <FlashMessage flash={ctx.flash} /> : null}
          {props.children}
        </main>
      </body>
    </html>
  );
}

function AccountMenu({ ctx }: { ctx: PageCtx }) {
  return (
    <details class="menu">
      <summary aria-label={`Account menu for ${ctx.email}`}>
        <span class="avatar" aria-hidden="true">
          {ctx.email.slice(0, 1)}
        </span>
        <span class="menu-email">{ctx.email}</span>
      </summary>
      <div class="menu-panel">
        <div class="menu-head">
          <div>{ctx.email}</div>
          <div class="muted">{ctx.isAdmin ? 'Instance admin' : 'Signed in'}</div>
        </div>
        <a class="menu-item" href="/projects">
          Projects
        </a>
        <a class="menu-item" href="/account">
          Account
        </a>
        <a class="menu-item" href="/account/tokens">
          API tokens
        </a>
        <form method="post" action="/logout">
          <Csrf ctx={ctx} />
          <button class="menu-item" type="submit">
            Sign out
          </button>
        </form>
      </div>
    </details>
  );
}

export function Csrf({ ctx }: { ctx: { csrf: string } }) {
  return <input type="hidden" name="_csrf" value={ctx.csrf} />;
}

export function FlashMessage({ flash }: { flash: Flash }) {
  const icon = flash.kind === 'success' ? '✓' : flash.kind === 'error' ? '!' : 'i';
  return (
    <div class={`alert alert-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
      <span class="alert-icon" aria-hidden="true">
        {icon}
      </span>
      <p>{flash.text}</p>
    </div>
  );
}

/** The summary at the top of a form: every error, each linking to its field. */
export function ErrorSummary({ errors, title = 'Please fix the following' }: { errors: FormErrors | undefined; title?: string }) {
  if (!errors || !hasErrors(errors)) return null;
  const entries = Object.entries(errors.fields);
  return (
    <div class="alert alert-error" role="alert" id="error-summary" tabIndex={-1}>
      <span class="alert-icon" aria-hidden="true">
        !
      </span>
      <div>
        <p>
          <strong>{title}</strong>
        </p>
        <ul>
          {errors.general.map((m) => (
            <li>{m}</li>
          ))}
          {entries.map(([field, m]) => (
            <li>
              <a href={`#${errors.ids?.[field] ?? fieldId(field)}`}>{m}</a>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

/** A stable element id for a form field name. */
export function fieldId(name: string): string {
  return `f-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

interface FieldProps {
  name: string;
  label: string;
  id?: string;
  error?: string | undefined;
  hint?: ComponentChildren;
  class?: string;
  children: (a: { id: string; 'aria-invalid': 'true' | undefined; 'aria-describedby': string | undefined }) => JSX.Element;
}

/** A labelled control with its hint and its error right below it. */
export function Field(p: FieldProps) {
  const id = p.id ?? fieldId(p.name);
  const hintId = p.hint ? `${id}-hint` : undefined;
  const errId = p.error ? `${id}-error` : undefined;
  const describedBy = [errId, hintId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field ${p.class ?? ''}`}>
      <label for={id}>{p.label}</label>
      {p.children({ id, 'aria-invalid': p.error ? 'true' : undefined, 'aria-describedby': describedBy })}
      {p.error ? (
        <p class="field-error" id={errId}>
          {p.error}
        </p>
      ) : null}
      {p.hint ? (
        <p class="hint" id={hintId}>
          {p.hint}
        </p>
      ) : null}
    </div>
  );
}

export type BadgeTone = 'green' | 'amber' | 'red' | 'blue' | 'violet' | 'gray';

export function Badge({ tone, children, dot = false }: { tone: BadgeTone; children: ComponentChildren; dot?: boolean }) {
  return (
    <span class={`badge ${tone === 'gray' ? '' : `badge-${tone}`}`}>
      {dot ? <span class="dot" aria-hidden="true" /> : null}
      {children}
    </span>
  );
}

export function ScopeBadge({ scope }: { scope: string }) {
  const tone: BadgeTone = scope === 'production' ? 'blue' : scope === 'preview' ? 'gray' : 'violet';
  return <Badge tone={tone}>{scope}</Badge>;
}

/** "3 minutes ago", with the exact time as a tooltip and machine-readable attribute. */
export function RelTime({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={formatDate(iso)}>
      {relative(iso, now)}
    </time>
  );
}

export function relative(iso: string, now: number): string {
  const diff = Math.round((now - Date.parse(iso)) / 1000);
  if (diff < 0) {
    const s = -diff;
    if (s < 60) return 'in a few seconds';
    if (s < 3600) return `in ${Math.round(s / 60)} min`;
    if (s < 86400) return `in ${Math.round(s / 3600)} h`;
    return `in ${Math.round(s / 86400)} days`;
  }
  if (diff < 10) return 'just now';
  if (diff < 60) return `${diff} seconds ago`;
  const m = Math.floor(diff / 60);
  if (m < 60) return m === 1 ? '1 minute ago' : `${m} minutes ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return h === 1 ? '1 hour ago' : `${h} hours ago`;
  const d = Math.floor(h / 24);
  if (d < 30) return d === 1 ? 'yesterday' : `${d} days ago`;
  return formatDate(iso).slice(0, 10);
}

export function formatDate(iso: string): string {
  return iso
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
    .replace(/Z$/, ' UTC');
}

export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

/** The tab bar of a project page. */
export function ProjectTabs({ slug, active }: { slug: string; active: 'overview' | 'deployments' | 'settings' }) {
  const base = `/projects/${encodeURIComponent(slug)}`;
  const tab = (key: typeof active, href: string, label: string) => (
    <a href={href} aria-current={active === key ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <nav class="tabs" aria-label="Project">
      {tab('overview', base, 'Overview')}
      {tab('deployments', `${base}/deployments`, 'Deployments')}
      {tab('settings', `${base}/settings`, 'Project Settings')}
    </nav>
  );
}

export type SettingsSection = 'general' | 'secrets' | 'build' | 'members' | 'ci-identity' | 'audit';

export function SettingsNav({ slug, active }: { slug: string; active: SettingsSection }) {
  const base = `/projects/${encodeURIComponent(slug)}/settings`;
  const items: Array<[SettingsSection, string, string]> = [
    ['general', `${base}/general`, 'General'],
    ['secrets', `${base}/secrets`, 'Secrets'],
    ['build', `${base}/build`, 'Build'],
    ['members', `${base}/members`, 'Members'],
    ['ci-identity', `${base}/ci-identity`, 'CI identity'],
    ['audit', `${base}/audit`, 'Audit log'],
  ];
  return (
    <nav class="sidenav" aria-label="Project Settings">
      {items.map(([key, href, label]) => (
        <a href={href} aria-current={active === key ? 'page' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}
