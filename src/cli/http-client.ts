/**
 * A small fetch-based client for the keyloft HTTP API, shared by the commands a person runs
 * (login, projects, secrets, link, deploy start/list/show, invitations). The pipeline's own
 * calls (`run`, `deploy fly`, completion with the deploy token) go through pipeline/run.ts.
 *
 * Exit codes: see domain/exit-codes.ts. No error message ever carries a request body.
 */
import { CommandError, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE } from '../domain/exit-codes.js';

/** A usage error (exit 1). */
export function usageError(message: string): CommandError {
  return new CommandError(message, EXIT_USAGE);
}

/** The server's error envelope: `{ error: { code, message, field }, requestId }`. */
interface ErrorEnvelope {
  error?: { code?: unknown; message?: unknown; field?: unknown };
  requestId?: unknown;
}

export interface RequestOptions {
  /** Content type of a string body (default: JSON-encode the body). */
  contentType?: string;
  /** Extra headers (e.g. a cookie and x-csrf-token during login). */
  headers?: Record<string, string>;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Milliseconds before giving up (exit 3). Default 60 s. */
  timeoutMs?: number;
}

export interface RawResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Normalises a server URL: http(s) only, no trailing slash, no path after the origin's base. */
export function normalizeUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw usageError(`not a URL: ${JSON.stringify(raw.slice(0, 200))} (expected e.g. https://keyloft.example.com)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`the server URL must start with http:// or https:// (got ${u.protocol})`);
  if (u.username || u.password) throw usageError('the server URL must not contain a user name or password');
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}

/** Describes why fetch failed, without the request (no body, no token). */
function networkReason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'the request timed out';
  const c = e?.cause;
  if (c?.code) return `${c.code}${c.message && !c.message.includes(c.code) ? ` (${c.message})` : ''}`.slice(0, 300);
  return (c?.message ?? e?.message ?? String(err)).slice(0, 300);
}

/** Turns an HTTP error reply into a CommandError: exit 2, or 3 for a gateway that cannot reach keyloft. */
export function refusal(status: number, body: unknown, url: string): CommandError {
  const env = (body && typeof body === 'object' ? body : {}) as ErrorEnvelope;
  const code = typeof env.error?.code === 'string' ? env.error.code : undefined;
  const message = typeof env.error?.message === 'string' ? env.error.message : undefined;
  const field = typeof env.error?.field === 'string' && env.error.field ? env.error.field : undefined;
  if (!env.error && (status === 502 || status === 503 || status === 504)) {
    return new CommandError(`cannot reach the keyloft server at ${url}: the gateway answered HTTP ${status}`, EXIT_UNREACHABLE);
  }
  let text = message ?? `HTTP ${status}`;
  if (status === 401) {
    text = `the server did not accept the token (${message ?? 'unauthenticated'}); run \`keyloft login\` again, or check KEYLOFT_TOKEN`;
  }
  const parts = [`server refused (${status}${code ? ` ${code}` : ''}): ${text}`];
  if (field) parts.push(`(field: ${field})`);
  return new CommandError(parts.join(' '), EXIT_REFUSED, { code, field });
}

/** The keyloft HTTP API at `url` (the server's base URL), authenticated with a bearer token. */
export class ApiClient {
  readonly url: string;
  readonly token: string | undefined;

  constructor(url: string, token?: string) {
    this.url = normalizeUrl(url);
    this.token = token;
  }

  /** Sends a request and returns the parsed JSON body; HTTP errors throw a CommandError (exit 2 or 3). */
  async request<T = unknown>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const r = await this.raw<T>(method, path, body, opts);
    return r.body;
  }

  /** Like request, but also returns the status and headers (login reads the session cookie). */
  async raw<T = unknown>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<RawResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'keyloft-cli', ...(opts.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      if (typeof body === 'string' && opts.contentType) {
        headers['content-type'] = opts.contentType;
        payload = body;
      } else {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
    }
    let target = `${this.url}/api/v1${path.startsWith('/') ? path : `/${path}`}`;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s) target += `?${s}`;
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(target, { method, headers, body: payload, redirect: 'error', signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
      text = await res.text();
    } catch (err) {
      throw new CommandError(`cannot reach the keyloft server at ${this.url}: ${networkReason(err)}`, EXIT_UNREACHABLE);
    }
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (res.status >= 400) throw refusal(res.status, parsed, this.url);
    if (text && parsed === undefined) {
      throw new CommandError(`the server at ${this.url} did not answer with JSON (HTTP ${res.status}); is this a keyloft server?`, EXIT_REFUSED);
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }
}

/** Prints a CLI failure to stderr (never a value) and exits with its code; unknown errors exit 1. */
export function handleCliError(err: unknown): never {
  if (err instanceof CommandError) {
    process.stderr.write(`keyloft: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const e = err as { message?: string };
  process.stderr.write(`keyloft: unexpected error: ${(e?.message ?? String(err)).slice(0, 500)}\n`);
  process.exit(1);
}

/** Wraps a commander action so that every failure goes through handleCliError. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      handleCliError(err);
    }
  };
}
