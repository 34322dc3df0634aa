import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { KeyloftError } from '../domain/errors.js';
import { issuerProblem } from '../domain/trust-policy.js';

/** Bounds of what keyloft fetches from an issuer and keeps. */
export interface IssuerKeysLimits {
  /** Per request (discovery document, JWKS). */
  timeoutMs: number;
  /** Per response body, counted while reading (a Content-Length is not trusted). */
  maxResponseBytes: number;
  /** Keys in one JWKS. */
  maxKeys: number;
  /** Issuers kept in the cache. */
  maxIssuers: number;
  /** JWKS bytes kept in the cache, over all issuers. */
  maxCacheBytes: number;
  /** A key set older than this is fetched again before use. */
  ttlMs: number;
  /** At most one fetch per issuer in this interval (unknown `kid`, expiry or failure alike). */
  minRefreshMs: number;
  /** When the issuer cannot be reached, a key set this old is still used. */
  maxStaleMs: number;
}

export const DEFAULT_LIMITS: IssuerKeysLimits = {
  timeoutMs: 5_000,
  maxResponseBytes: 64 * 1024,
  maxKeys: 100,
  maxIssuers: 64,
  maxCacheBytes: 4 * 1024 * 1024,
  ttlMs: 10 * 60_000,
  minRefreshMs: 60_000,
  maxStaleMs: 60 * 60_000,
};

type LocalSet = ReturnType<typeof createLocalJWKSet>;

interface Entry {
  keys: LocalSet;
  kids: ReadonlySet<string>;
  bytes: number;
  fetchedAt: number;
  /** Last fetch attempt (successful or not). */
  attemptAt: number;
  lastUsed: number;
}

/** Why an issuer's keys could not be had: a 503 with a message that names the issuer, never a response body. */
export function issuerUnavailable(issuer: string, why: string, retryInSeconds?: number): KeyloftError {
  return new KeyloftError(
    'oidc_issuer_unavailable',
    `the signing keys of issuer ${issuer.slice(0, 200)} could not be fetched (${why}); try again${retryInSeconds ? ` in ${retryInSeconds} s` : ' later'}`,
    undefined,
    retryInSeconds ? { retryAfterSeconds: retryInSeconds } : undefined,
  );
}

class FetchProblem extends Error {}

/** GET a JSON document: no redirects, a timeout, and a body cut off at `maxBytes`. */
async function fetchJson(url: string, limits: IssuerKeysLimits): Promise<{ json: unknown; bytes: number }> {
  let res: Response;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    res = await fetch(url, {
      method: 'GET',
      redirect: 'error',
      signal,
      headers: { accept: 'application/json, application/jwk-set+json', 'user-agent': 'keyloft' },
    });
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    throw new FetchProblem(
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `no answer within ${limits.timeoutMs / 1000} s`
        : `unreachable${e.cause?.code ? `: ${e.cause.code}` : ''}`,
    );
  }
  try {
    if (res.status !== 200) throw new FetchProblem(`HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > limits.maxResponseBytes) throw new FetchProblem(`the response is larger than ${limits.maxResponseBytes} bytes`);
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    const reader = res.body?.getReader();
    if (reader) {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch {
          throw new FetchProblem(signal.aborted ? `no complete answer within ${limits.timeoutMs / 1000} s` : 'the response was cut off');
        }
        if (r.done) break;
        bytes += r.value.byteLength;
        if (bytes > limits.maxResponseBytes) {
          await reader.cancel().catch(() => {});
          throw new FetchProblem(`the response is larger than ${limits.maxResponseBytes} bytes`);
        }
        chunks.push(r.value);
      }
    }
    try {
      return { json: JSON.parse(Buffer.concat(chunks).toString('utf8')), bytes };
    } catch {
      throw new FetchProblem('the response is not JSON');
    }
  } finally {
    if (!res.bodyUsed) await res.body?.cancel().catch(() => {});
  }
}

/**
 * The signing keys of OpenID issuers: discovery (`/.well-known/openid-configuration` → `jwks_uri`),
 * then the JWKS, cached per issuer. Bounded in issuers, bytes and keys per set; refreshed when older
 * than `ttlMs` or when a token names an unknown `kid`, but never more than once per `minRefreshMs`
 * per issuer. Concurrent callers share one fetch. Only issuers the caller names are fetched: the
 * exchange names only issuers an admin put in a trust policy.
 */
export function createIssuerKeys(opts: { clock: () => number; allowHttpLoopback: boolean; limits?: Partial<IssuerKeysLimits> }) {
  const limits: IssuerKeysLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { clock } = opts;
  const cache = new Map<string, Entry>();
  const attempts = new Map<string, number>(); // issuer → last failed attempt, for issuers with no entry
  const inflight = new Map<string, Promise<Entry>>();

  function evict(): void {
    let total = 0;
    for (const e of cache.values()) total += e.bytes;
    while (cache.size > limits.maxIssuers || total > limits.maxCacheBytes) {
      let oldest: string | undefined;
      for (const [k, e] of cache) if (oldest === undefined || e.lastUsed < cache.get(oldest)!.lastUsed) oldest = k;
      if (oldest === undefined) break;
      total -= cache.get(oldest)!.bytes;
      cache.delete(oldest);
    }
    while (attempts.size > limits.maxIssuers) attempts.delete(attempts.keys().next().value!);
  }

  async function load(issuer: string): Promise<Entry> {
    const base = issuer.replace(/\/+$/, '');
    const discovery = await fetchJson(`${base}/.well-known/openid-configuration`, limits);
    const doc = discovery.json as { issuer?: unknown; jwks_uri?: unknown } | null;
    if (!doc || typeof doc !== 'object') throw new FetchProblem('the discovery document is not a JSON object');
    if (doc.issuer !== issuer) throw new FetchProblem('the discovery document names another issuer');
    if (typeof doc.jwks_uri !== 'string' || doc.jwks_uri.length > 2000) throw new FetchProblem('the discovery document has no jwks_uri');
    const problem = issuerProblem(doc.jwks_uri, opts.allowHttpLoopback);
    if (problem) throw new FetchProblem(`its jwks_uri ${problem}`);
    const { json, bytes } = await fetchJson(doc.jwks_uri, limits);
    const set = json as JSONWebKeySet | null;
    if (!set || typeof set !== 'object' || !Array.isArray(set.keys)) throw new FetchProblem('the JWKS has no keys array');
    if (set.keys.length > limits.maxKeys) throw new FetchProblem(`the JWKS holds ${set.keys.length} keys, more than the ${limits.maxKeys} keyloft accepts`);
    let keys: LocalSet;
    try {
      keys = createLocalJWKSet(set);
    } catch {
      throw new FetchProblem('the JWKS is malformed');
    }
    const kids = new Set(set.keys.map((k) => k?.kid).filter((k): k is string => typeof k === 'string'));
    const now = clock();
    return { keys, kids, bytes, fetchedAt: now, attemptAt: now, lastUsed: now };
  }

  /** Fetches now (sharing a fetch already under way); on failure keeps a usable stale entry. */
  async function refresh(issuer: string): Promise<Entry> {
    const running = inflight.get(issuer);
    if (running) return running;
    const p = (async () => {
      const previous = cache.get(issuer);
      try {
        const e = await load(issuer);
        cache.set(issuer, e);
        attempts.delete(issuer);
        evict();
        return e;
      } catch (err) {
        const now = clock();
        if (previous) previous.attemptAt = now;
        else attempts.set(issuer, now);
        const why = err instanceof FetchProblem ? err.message : 'unexpected error';
        if (previous && now - previous.fetchedAt < limits.maxStaleMs) return previous;
        throw issuerUnavailable(issuer, why, Math.ceil(limits.minRefreshMs / 1000));
      } finally {
        inflight.delete(issuer);
      }
    })();
    inflight.set(issuer, p);
    return p;
  }

  function retryIn(last: number, now: number): number {
    return Math.max(1, Math.ceil((last + limits.minRefreshMs - now) / 1000));
  }

  return {
    /**
     * The key set of `issuer` for verifying a token whose header names `kid`. Fetches when there is
     * none yet, when it has expired, or when it lacks `kid` — each at most once per minute per issuer.
     */
    async keysFor(issuer: string, kid: string | undefined): Promise<LocalSet> {
      const now = clock();
      const e = cache.get(issuer);
      if (!e) {
        const failed = attempts.get(issuer);
        if (failed !== undefined && now - failed < limits.minRefreshMs) throw issuerUnavailable(issuer, 'the last attempt failed', retryIn(failed, now));
        return (await refresh(issuer)).keys;
      }
      e.lastUsed = now;
      const expired = now - e.fetchedAt >= limits.ttlMs;
      const unknownKid = kid !== undefined && !e.kids.has(kid);
      if ((expired || unknownKid) && now - e.attemptAt >= limits.minRefreshMs) return (await refresh(issuer)).keys;
      if (expired && now - e.fetchedAt >= limits.maxStaleMs)
        throw issuerUnavailable(issuer, 'the cached keys are too old and the last attempt failed', retryIn(e.attemptAt, now));
      return e.keys;
    },
    /** What the cache holds (for tests and metrics): issuers, total bytes. */
    stats(): { issuers: number; bytes: number } {
      let bytes = 0;
      for (const e of cache.values()) bytes += e.bytes;
      return { issuers: cache.size, bytes };
    },
  };
}

export type IssuerKeys = ReturnType<typeof createIssuerKeys>;
