import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { randomBytes } from 'node:crypto';
import { KeyloftError } from '../../domain/errors.js';
import { openShownOnce, sealShownOnce } from '../../crypto/shown-once.js';
import { safeEqual } from '../../crypto/tokens.js';
import type { Actor } from '../../services/actor.js';
import type { Services } from '../../services/container.js';
import type { ResealService } from '../../services/reseal.service.js';
import { checkSameOrigin } from '../plugins/auth.js';
import { ERROR_STATUS } from '../plugins/errors.js';
import type { Flash, FormErrors, PageCtx } from './ui.js';

export const FLASH_COOKIE = 'keyloft_flash';
/** Double-submit token for the signed-out forms (login, setup): login CSRF protection. */
export const PRE_COOKIE = 'keyloft_pre';

export interface WebOptions {
  publicUrl: string | undefined;
  secureCookies: boolean;
  clock: () => number;
}

/** What the page routes get (here rather than in plugin.tsx, which imports the routes). */
export interface WebDeps {
  services: Services;
  opts: WebOptions;
  /** Restore and copy, on roles that hold the master key (absent on the api role). */
  reseal?: ResealService | undefined;
}

export type UserActor = Extract<Actor, { kind: 'user' }>;

/** Sends a rendered page. */
export function html(reply: FastifyReply, page: VNode, status = 200): FastifyReply {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .send(`<!doctype html>${renderToString(page)}`);
}

/** 303 See Other: the browser follows with a GET (post/redirect/get). */
export function seeOther(reply: FastifyReply, url: string): FastifyReply {
  return reply.redirect(url, 303);
}

/** A local path to return to after sign-in; anything else becomes /projects. */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') return '/projects';
  if (!/^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(next) || next.length > 500) return '/projects';
  if (next.startsWith('/login') || next.startsWith('/logout') || next.startsWith('/setup') || next.startsWith('/reset-password')) return '/projects';
  return next;
}

/** The form body as a flat map of strings (the first value of a repeated key). */
export function formBody(req: FastifyRequest): Record<string, string> {
  const body = req.body;
  const out: Record<string, string> = {};
  if (!body || typeof body !== 'object') return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}

/** Query parameters as strings. */
export function queryOf(req: FastifyRequest): Record<string, string> {
  const q = req.query as Record<string, unknown> | undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q ?? {})) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}

/** Browsers send textarea line breaks as CRLF; a value typed as lines means LF. */
export function textareaValue(v: string | undefined): string {
  return (v ?? '').replace(/\r\n/g, '\n');
}

// ---- flash messages: a code and a few non-secret arguments in a short-lived cookie ----

const FLASH_TEXT: Record<string, (a: Record<string, string>) => Flash> = {
  welcome: () => ({ kind: 'success', text: 'Welcome to keyloft. Your admin account is ready — create your first project.' }),
  signed_out: () => ({ kind: 'info', text: 'You have been signed out.' }),
  project_created: (a) => ({
    kind: 'success',
    text: `Created project ${a.name}${a.n && a.n !== '0' ? ` with ${a.n} secret${a.n === '1' ? '' : 's'}` : ''}.`,
  }),
  project_updated: () => ({ kind: 'success', text: 'Saved the project settings.' }),
  project_deleted: (a) => ({ kind: 'success', text: `Deleted project ${a.slug} and all of its secrets.` }),
  secret_added: (a) => ({ kind: 'success', text: `Added ${a.name} (${a.scope}) — applies at the next deployment` }),
  secret_updated: (a) => ({ kind: 'success', text: `Updated ${a.name} (${a.scope}) — applies at the next deployment` }),
  deployment_cancelled: (a) => ({ kind: 'success', text: `Cancelled deployment ${a.id}: it failed, and its deploy token no longer works.` }),
  deployment_not_running: (a) => ({ kind: 'info', text: `Deployment ${a.id} had already finished; nothing to cancel.` }),
  secret_unchanged: (a) => ({ kind: 'info', text: `${a.name} is unchanged (${a.scope}): that is already its value, so nothing was written.` }),
  secret_deleted: (a) => ({ kind: 'success', text: `Deleted ${a.name} (${a.scope}) — removed at the next deployment` }),
  imported: (a) => ({
    kind: 'success',
    text:
      a.written === '0'
        ? `Nothing to import into ${a.scope}: all ${a.unchanged} value${a.unchanged === '1' ? ' is' : 's are'} unchanged.`
        : `Imported into ${a.scope}: ${a.added} added, ${a.changed} updated, ${a.unchanged} unchanged${a.removed && a.removed !== '0' ? `, ${a.removed} removed` : ''} — applies at the next deployment`,
  }),
  secret_restored: (a) => ({ kind: 'success', text: `Restored v${a.from} of ${a.name} (${a.scope}) as v${a.version} — applies at the next deployment` }),
  copied: (a) => ({
    kind: 'success',
    text:
      a.written === '0'
        ? `Nothing copied from ${a.from} to ${a.to}: ${a.skipped} skipped.`
        : `Copied ${a.written} secret${a.written === '1' ? '' : 's'} from ${a.from} to ${a.to}${a.skipped !== '0' ? ` (${a.skipped} skipped)` : ''} — applies at the next deployment`,
  }),
  // The same words whether or not the email has an account (no enumeration): an email without one got an invitation.
  member_added: (a) => ({
    kind: 'success',
    text: `Added ${a.email} as ${a.role}${a.release === 'yes' ? ', with the release grant (can read values by starting a deployment)' : ''} (without a keyloft account yet, they were invited instead).`,
  }),
  invitation_revoked: (a) => ({ kind: 'success', text: `Revoked the invitation of ${a.email}.` }),
  invitation_accepted: (a) => ({ kind: 'success', text: `Welcome to ${a.slug}: you joined as ${a.role}.` }),
  member_updated: (a) => ({
    kind: 'success',
    text: `${a.email} is now ${a.role}${a.release === 'yes' ? ', with the release grant (can read values by starting a deployment)' : ''}.`,
  }),
  member_removed: (a) => ({ kind: 'success', text: `Removed ${a.email} from the project.` }),
  deploy_key_revoked: (a) => ({ kind: 'success', text: `Revoked the deploy key ${a.name}.` }),
  trust_policy_added: (a) => ({ kind: 'success', text: `Added the trust policy ${a.name}: matching CI ID tokens may start ${a.environment} deployments.` }),
  trust_policy_removed: (a) => ({ kind: 'success', text: `Deleted the trust policy ${a.name}.` }),
  token_revoked: (a) => ({ kind: 'success', text: `Revoked the API token ${a.name}.` }),
  user_changed: (a) => ({
    kind: 'success',
    text:
      {
        unlock: `Unlocked ${a.email}: every sign-in lock of the account is lifted.`,
        disable: `Disabled ${a.email}: their sessions ended and their API tokens were revoked.`,
        enable: `Enabled ${a.email}. They can sign in again (their old API tokens stay revoked).`,
        'make-admin': `${a.email} is now an instance admin.`,
        'unmake-admin': `${a.email} is no longer an instance admin.`,
      }[a.action ?? ''] ?? `Updated ${a.email}.`,
  }),
  password_changed: (a) => ({ kind: 'success', text: `Password changed.${a.n && a.n !== '0' ? ` ${a.n} other session${a.n === '1' ? '' : 's'} ended.` : ''}` }),
  password_reset: () => ({ kind: 'success', text: 'Your new password is set. Sign in with it.' }),
  session_revoked: () => ({ kind: 'success', text: 'The session ended.' }),
};

export type FlashCode = keyof typeof FLASH_TEXT;

export function setFlash(reply: FastifyReply, opts: WebOptions, code: FlashCode, args: Record<string, string | number> = {}): void {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) a[k] = String(v).slice(0, 300);
  const value = Buffer.from(JSON.stringify({ c: code, a }), 'utf8').toString('base64url');
  reply.setCookie(FLASH_COOKIE, value, { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.secureCookies, maxAge: 60 });
}

/** Reads and clears the flash cookie. Unknown codes are ignored: the cookie never carries text. */
export function takeFlash(req: FastifyRequest, reply: FastifyReply, opts: WebOptions): Flash | undefined {
  const raw = req.cookies[FLASH_COOKIE];
  if (!raw) return undefined;
  reply.clearCookie(FLASH_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.secureCookies });
  try {
    const parsed = JSON.parse(Buffer.from(raw.slice(0, 2000), 'base64url').toString('utf8')) as { c?: unknown; a?: unknown };
    const fn = typeof parsed.c === 'string' && Object.hasOwn(FLASH_TEXT, parsed.c) ? FLASH_TEXT[parsed.c] : undefined;
    if (!fn) return undefined;
    const args: Record<string, string> = {};
    if (parsed.a && typeof parsed.a === 'object') {
      for (const [k, v] of Object.entries(parsed.a as Record<string, unknown>)) if (typeof v === 'string') args[k] = v.slice(0, 300);
    }
    return fn(args);
  } catch {
    return undefined;
  }
}

export function pageCtx(req: FastifyRequest, reply: FastifyReply, opts: WebOptions): PageCtx {
  const a = req.actor as UserActor;
  return { email: a.email, isAdmin: a.isAdmin, csrf: req.csrfToken ?? '', flash: takeFlash(req, reply, opts), now: opts.clock() };
}

// ---- signed-out forms: double-submit CSRF token ----

export function preToken(req: FastifyRequest, reply: FastifyReply, opts: WebOptions): string {
  const existing = req.cookies[PRE_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const t = randomBytes(32).toString('base64url');
  reply.setCookie(PRE_COOKIE, t, { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.secureCookies, maxAge: 3600 });
  return t;
}

/** The signed-out forms must carry the token of the pre-session cookie, and come from this origin. */
export function checkPreCsrf(req: FastifyRequest, publicUrl: string | undefined): void {
  checkSameOrigin(req, publicUrl, true);
  const cookie = req.cookies[PRE_COOKIE];
  const sent = formBody(req)._csrf;
  if (!cookie || !sent || !safeEqual(cookie, sent)) {
    throw new KeyloftError('csrf_failed', 'the form expired or came from another site; reload the page and try again', '_csrf');
  }
}

// ---- errors ----

const FORM_STATUSES = new Set([400, 401, 409, 413, 415, 422, 429]);

/**
 * Turns an error a person can fix into messages for the form (field → message).
 * Anything else (403, 404, bugs) is rethrown to the error page.
 * `mapField` renames service fields (e.g. `secrets[0].name`) to form fields.
 */
export function formErrors(err: unknown, mapField: (field: string) => string | undefined = (f) => f): FormErrors {
  if (!(err instanceof KeyloftError) || !FORM_STATUSES.has(ERROR_STATUS[err.code])) throw err;
  const field = err.field ? mapField(err.field) : undefined;
  if (field) return { fields: { [field]: err.message }, general: [] };
  return { fields: {}, general: [err.message] };
}

// ---- shown once, after a redirect: a new API token or deploy key for the next page view ----

const SHOWN_COOKIE = 'keyloft_shown';

/**
 * Post/redirect/get for a credential shown once: the POST seals it (under a key derived from this
 * browser's session token, see crypto/shown-once.ts) into a short-lived cookie scoped to the page
 * it redirects to; that page opens and clears it. A refresh shows the list without it and creates nothing.
 */
export function setShownOnce(req: FastifyRequest, reply: FastifyReply, opts: WebOptions, path: string, shown: { name: string; token: string }): void {
  if (!req.sessionToken) return;
  reply.setCookie(SHOWN_COOKIE, sealShownOnce(req.sessionToken, JSON.stringify(shown)), {
    path,
    httpOnly: true,
    sameSite: 'strict',
    secure: opts.secureCookies,
    maxAge: 120,
  });
}

/** Opens and clears the shown-once cookie of this page; undefined when absent, stale or not this session's. */
export function takeShownOnce(req: FastifyRequest, reply: FastifyReply, opts: WebOptions, path: string): { name: string; token: string } | undefined {
  const raw = req.cookies[SHOWN_COOKIE];
  if (!raw) return undefined;
  reply.clearCookie(SHOWN_COOKIE, { path, httpOnly: true, sameSite: 'strict', secure: opts.secureCookies });
  if (!req.sessionToken || raw.length > 4000) return undefined;
  const text = openShownOnce(req.sessionToken, raw);
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as { name?: unknown; token?: unknown };
    return typeof v.name === 'string' && typeof v.token === 'string' ? { name: v.name, token: v.token } : undefined;
  } catch {
    return undefined;
  }
}
