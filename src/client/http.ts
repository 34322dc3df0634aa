/**
 * The one HTTP client of the keyloft API, for the commands a person runs (cli/) and for what runs
 * inside a CD job (pipeline/). One request function: method, URL (base + path), bearer token,
 * body, timeout and what to do with a 421.
 *
 * What it guarantees:
 * - the token goes only to the base URL it was given, never on: an HTTP redirect is not followed
 *   (it is an error naming where it pointed), and a 421 `wrong_role` is followed once, and only
 *   to the same origin or to a release URL the caller configured (KEYLOFT_RELEASE_URL, or the one
 *   saved with `keyloft login --release-url`);
 * - every request has a timeout; an unreachable server, a timeout or a redirect is
 *   CommandError(EXIT_UNREACHABLE), an answer that is not JSON is CommandError(EXIT_REFUSED);
 * - no error message carries a request body, a token or a value: they name the URL and the reason.
 *
 * Exit codes: see domain/exit-codes.ts. Imports only domain/.
 */
import { CommandError, EXIT_REFUSED, EXIT_UNREACHABLE } from '../domain/exit-codes.js';

/** The default time a request may take, connection to last byte. */
export const REQUEST_TIMEOUT_MS = 60_000;

/**
 * What a 421 `wrong_role` answer (an `api`-role server naming its release instance in
 * `details.releaseUrl`) may do: nothing (the reply is returned), be followed to the same origin or
 * one of `releaseUrls`, or — only for a request that carries no bearer token (the CI ID token
 * exchange) — be followed to any http(s) URL.
 */
export type Follow421 = { releaseUrls: readonly string[] } | 'anywhere-without-token';

export interface HttpRequest {
  method: string;
  /** The server's base URL (origin and optional path, trailing slashes ignored). */
  base: string;
  /** The path after the base, with its query (e.g. `/api/v1/me`). */
  path: string;
  /** Bearer token, sent only to `base` (and to an allowed 421 target). */
  token?: string | undefined;
  /** A string with `contentType` is sent as is; anything else is JSON-encoded. */
  body?: unknown;
  contentType?: string;
  /** Extra headers (e.g. a cookie and x-csrf-token during login). */
  headers?: Record<string, string>;
  /** Milliseconds before giving up (exit 3). Default REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default: a 421 is returned like any other status. */
  follow421?: Follow421;
  /** Appended to the error when the release URL a 421 named cannot be reached (e.g. "no secrets were fetched"). */
  releaseUnreachableNote?: string;
  /** Who is asked, for messages (default "the keyloft server"). */
  service?: string;
}

export interface HttpReply<T = unknown> {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when the body was empty, or not JSON on an error status. */
  body: T | undefined;
  /** The base URL that answered (the release URL when a 421 was followed). */
  base: string;
}

/** A base URL without trailing slashes. */
export function baseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Origin and path of an http(s) URL without trailing slashes, or undefined when it is not one. */
export function urlBase(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    if (u.username || u.password) return undefined;
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}

/** The origin of a URL for messages (the URL itself when it does not parse). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url.slice(0, 200);
  }
}

/** Why fetch failed, without the request (no body, no token). */
function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  return String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? err).slice(0, 300);
}

/** One request to one URL: no redirect followed, a timeout, JSON parsed. */
async function once(req: HttpRequest, base: string, service: string): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'keyloft-cli', ...(req.headers ?? {}) };
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  let payload: string | undefined;
  if (req.body !== undefined) {
    if (typeof req.body === 'string' && req.contentType) {
      headers['content-type'] = req.contentType;
      payload = req.body;
    } else {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(req.body);
    }
  }
  const url = `${base}${req.path.startsWith('/') ? req.path : `/${req.path}`}`;
  const timeoutMs = req.timeoutMs ?? REQUEST_TIMEOUT_MS;
  let res: Response;
  let text: string;
  try {
    // 'manual': a redirect comes back as a 3xx answer and is refused below, so the token never follows it.
    res = await fetch(url, { method: req.method, headers, body: payload, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (err) {
    throw new CommandError(`cannot reach ${service} at ${base} (${networkReason(err, timeoutMs)})`, EXIT_UNREACHABLE);
  }
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location');
    const to = location ? originOf(new URL(location, url).toString()) : 'nowhere';
    throw new CommandError(
      `cannot reach ${service} at ${base} (it answered HTTP ${res.status}, a redirect to ${to}; keyloft follows no redirect, so a token is only ever sent to the URL it is configured for: configure the URL it redirects to)`,
      EXIT_UNREACHABLE,
    );
  }
  let parsed: unknown;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (text && parsed === undefined && res.status < 400) {
    throw new CommandError(
      `${service} at ${base} did not answer with JSON (HTTP ${res.status} to ${req.method} ${req.path.split('?')[0]}); is this a keyloft server?`,
      EXIT_REFUSED,
    );
  }
  return { status: res.status, headers: res.headers, body: parsed, base };
}

/**
 * Sends one request to `base` + `path` and returns the reply, whatever its status (callers turn
 * error statuses into refusals). A 421 is followed at most once, as `follow421` allows; a 421
 * naming a URL that is not allowed is refused before anything is sent there.
 */
export async function request<T = unknown>(req: HttpRequest): Promise<HttpReply<T>> {
  const service = req.service ?? 'the keyloft server';
  const base = baseUrl(req.base);
  const reply = await once(req, base, service);
  if (reply.status !== 421 || !req.follow421) return reply as HttpReply<T>;
  const named = (reply.body as { error?: { details?: { releaseUrl?: unknown } } } | undefined)?.error?.details?.releaseUrl;
  const target = typeof named === 'string' ? urlBase(named) : undefined;
  if (!target) return reply as HttpReply<T>;
  if (req.follow421 === 'anywhere-without-token') {
    if (req.token) throw new Error('a 421 is followed anywhere only by a request without a token');
  } else {
    const allowed = new URL(target).origin === originOf(base) || req.follow421.releaseUrls.some((u) => urlBase(u) === target);
    if (!allowed) {
      throw new CommandError(
        `the server at ${originOf(base)} sends this request on to ${target}, which is neither that server nor a configured release URL, so the token was not sent there; ` +
          'if it is your release instance, set KEYLOFT_RELEASE_URL to it (or save it with `keyloft login --release-url`)',
        EXIT_REFUSED,
      );
    }
  }
  try {
    return (await once(req, target, service)) as HttpReply<T>;
  } catch (err) {
    // The api server is up but its release server is not: say which URL failed and who named it.
    if (err instanceof CommandError && err.exitCode === EXIT_UNREACHABLE) {
      const note = req.releaseUnreachableNote ? `; ${req.releaseUnreachableNote}` : '';
      throw new CommandError(
        `${err.message.replace(`cannot reach ${service}`, 'cannot reach the keyloft release server')}, named by the api server at ${originOf(base)} (its KEYLOFT_RELEASE_URL)${note}`,
        EXIT_UNREACHABLE,
      );
    }
    throw err;
  }
}

/** The server's error envelope: `{ error: { code, message, field }, requestId }`. */
interface ErrorEnvelope {
  error?: { code?: unknown; message?: unknown; field?: unknown };
}

function envelope(body: unknown): { code: string | undefined; message: string | undefined; field: string | undefined; present: boolean } {
  const env = (body && typeof body === 'object' ? body : {}) as ErrorEnvelope;
  return {
    code: typeof env.error?.code === 'string' ? env.error.code : undefined,
    message: typeof env.error?.message === 'string' ? env.error.message : undefined,
    field: typeof env.error?.field === 'string' && env.error.field ? env.error.field : undefined,
    present: !!env.error,
  };
}

/** A person's command refused: exit 2, or 3 for a gateway that cannot reach keyloft. Names the server's (value-free) message and field. */
export function refusal(status: number, body: unknown, url: string): CommandError {
  const { code, message, field, present } = envelope(body);
  if (!present && (status === 502 || status === 503 || status === 504)) {
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

/** A pipeline step refused (`what` e.g. "starting the deployment was"): exit 2 with the server's (value-free) message. */
export function refused(what: string, reply: Pick<HttpReply, 'status' | 'body'>): CommandError {
  const { code, message } = envelope(reply.body);
  const detail = message ? `: ${message}` : '';
  return new CommandError(`${what} refused (HTTP ${reply.status}${code ? ` ${code}` : ''})${detail}`, EXIT_REFUSED);
}
