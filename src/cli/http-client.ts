/**
 * The CLI's side of the keyloft HTTP API: ApiClient (a server URL and the token bound to it, over
 * the one request function of client/http.ts that the pipeline uses too), server URL
 * normalisation, and how a failure becomes a message on stderr and an exit code.
 *
 * Which token goes with which URL is config-file.ts's resolveTarget: a saved token only for the
 * URL it was saved with. Exit codes: see domain/exit-codes.ts. No error message ever carries a
 * request body, a token or a value.
 */
import { refusal, request } from '../client/http.js';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';

/** A usage error (exit 1). */
export function usageError(message: string): CommandError {
  return new CommandError(message, EXIT_USAGE);
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
    let target = `/api/v1${path.startsWith('/') ? path : `/${path}`}`;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s) target += `?${s}`;
    }
    const res = await request<T>({
      method,
      base: this.url,
      path: target,
      token: this.token,
      body,
      ...(opts.contentType ? { contentType: opts.contentType } : {}),
      ...(opts.headers ? { headers: opts.headers } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    if (res.status >= 400) throw refusal(res.status, res.body, this.url);
    return { status: res.status, headers: res.headers, body: res.body as T };
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
