import type { FastifyInstance, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the release route: how many values of each kind this reply hands out. */
    releasedCounts: { runtime: number; build: number } | null;
  }
}

/**
 * Prometheus metrics, hand-written in the text exposition format (version 0.0.4): a few
 * counters, one histogram and some gauges do not justify a dependency. Labels are the route
 * pattern (`/api/v1/projects/:slug/secrets`), never the raw URL, so no slug, name or token
 * reaches a label and the series stay bounded; unmatched requests share `route="unmatched"`.
 * No body is read: the release route records its counts on the request.
 */

/** The pool snapshot a PostgreSQL store offers (structurally the store's PoolStats). */
export interface PoolStatsSource {
  (): { total: number; idle: number; waiting: number; max: number };
}

export interface MetricsOptions {
  role: string;
  /** Defaults to the package version. */
  version?: string;
  /** PostgreSQL only: current connection-pool use. */
  poolStats?: PoolStatsSource | undefined;
}

/** The package version (dist/src/http/plugins → the repository root). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Latency buckets in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(n: number): string {
  if (n === Infinity) return '+Inf';
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = JSON.stringify(labels);
    const cur = this.values.get(key);
    if (cur) cur.value += by;
    else this.values.set(key, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(JSON.stringify(labels))?.value ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${labelText(labels)} ${num(value)}`);
  }
}

class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(labels: Labels, value: number): void {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => {
        out.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(le) })} ${s.counts[i]}`);
      });
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
  }
}

function gauge(out: string[], name: string, help: string, rows: Array<[Labels, number]>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const [labels, value] of rows) out.push(`${name}${labelText(labels)} ${num(value)}`);
}

/** The route pattern of a request (with its prefix), or `unmatched` for a 404 without a route. */
function routeOf(req: FastifyRequest): string {
  const url = req.routeOptions?.url;
  return typeof url === 'string' && url !== '' ? url : 'unmatched';
}

export interface Metrics {
  requests: Counter;
  duration: Histogram;
  authFailures: Counter;
  releases: Counter;
  releasedValues: Counter;
  /** The whole exposition text. */
  render(): string;
}

/** Creates the registry of one process. */
export function createMetrics(opts: MetricsOptions): Metrics {
  const startedAt = Date.now() / 1000;
  const version = opts.version ?? packageVersion();
  const requests = new Counter('keyloft_http_requests_total', 'HTTP requests answered, by method, route pattern and status code.');
  const duration = new Histogram('keyloft_http_request_duration_seconds', 'Time to answer an HTTP request, by method and route pattern.', BUCKETS);
  const authFailures = new Counter(
    'keyloft_auth_failures_total',
    'Requests refused as unauthenticated (401) or forbidden (403), by route pattern and status code.',
  );
  const releases = new Counter('keyloft_releases_total', 'Successful releases: a running deployment fetched its pinned secrets.');
  const releasedValues = new Counter(
    'keyloft_released_values_total',
    'Secret values handed to deployments, by kind (runtime or build). Counts only, never values.',
  );
  // Present from the start so a dashboard shows 0, not "no data".
  releases.inc({}, 0);
  releasedValues.inc({ kind: 'runtime' }, 0);
  releasedValues.inc({ kind: 'build' }, 0);
  return {
    requests,
    duration,
    authFailures,
    releases,
    releasedValues,
    render() {
      const out: string[] = [];
      gauge(out, 'keyloft_info', 'This keyloft process: its role and version.', [[{ role: opts.role, version }, 1]]);
      requests.render(out);
      duration.render(out);
      authFailures.render(out);
      releases.render(out);
      releasedValues.render(out);
      if (opts.poolStats) {
        const p = opts.poolStats();
        gauge(out, 'keyloft_db_pool_connections', 'PostgreSQL pool connections open (total), of which idle.', [
          [{ state: 'total' }, p.total],
          [{ state: 'idle' }, p.idle],
        ]);
        gauge(out, 'keyloft_db_pool_waiting', 'Queries waiting for a free PostgreSQL pool connection.', [[{}, p.waiting]]);
        gauge(out, 'keyloft_db_pool_max', 'The PostgreSQL pool size limit.', [[{}, p.max]]);
      }
      const mem = process.memoryUsage();
      gauge(out, 'process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds.', [[{}, Math.floor(startedAt)]]);
      gauge(out, 'process_resident_memory_bytes', 'Resident memory size in bytes.', [[{}, mem.rss]]);
      gauge(out, 'nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', [[{}, mem.heapUsed]]);
      return `${out.join('\n')}\n`;
    },
  };
}

/**
 * Adds the hooks (on the root instance, so they see every route) and, when `expose` is true,
 * `GET /metrics`. The endpoint needs no authentication: it shows counts per route pattern only.
 */
export function registerMetrics(app: FastifyInstance, opts: MetricsOptions & { expose: boolean }): Metrics {
  const metrics = createMetrics(opts);
  const started = Symbol('keyloft.metrics.start');
  type Timed = FastifyRequest & { [started]?: bigint };

  app.addHook('onRequest', async (req) => {
    (req as Timed)[started] = process.hrtime.bigint();
  });

  // The release route records how many values it handed out (counts only; the body is not read).
  app.decorateRequest('releasedCounts', null);
  app.addHook('onSend', async (req, reply, payload: unknown) => {
    const counts = req.releasedCounts;
    if (counts && reply.statusCode === 200) {
      metrics.releases.inc();
      metrics.releasedValues.inc({ kind: 'runtime' }, counts.runtime);
      metrics.releasedValues.inc({ kind: 'build' }, counts.build);
    }
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const start = (req as Timed)[started];
    const route = routeOf(req);
    const method = METHODS.has(req.method) ? req.method : 'OTHER';
    const status = String(reply.statusCode);
    metrics.requests.inc({ method, route, status });
    if (start !== undefined) metrics.duration.observe({ method, route }, Number(process.hrtime.bigint() - start) / 1e9);
    if (reply.statusCode === 401 || reply.statusCode === 403) metrics.authFailures.inc({ route, status });
  });

  if (opts.expose) {
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      return metrics.render();
    });
  }
  return metrics;
}
