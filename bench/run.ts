// keyloft benchmark harness: `npm run bench [-- --db sqlite|postgres] [--quick] [--runs N] [--only W1,W2,…,W6,OIDC] [--json FILE] [--cpu-prof DIR] [--request-timeout-s 60] [--stall-s 120] [--docker-env]`.
// Starts a real `keyloft serve` process, drives it over HTTP with keep-alive and prints medians,
// p95s and throughput next to the in-process floor. It asserts nothing about time.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ADMIN_EMAIL, bootstrap } from '../test/helpers/client.js';
import {
  createStore,
  type DialectName,
  KEYLOFT_BIN,
  postgresAvailable,
  REPO_ROOT,
  startServer,
  storeEnv,
  type TestServer,
  type TestStore,
} from '../test/helpers/server.js';
import { Floor } from './floor.js';
import { activity, Client, setRequestTimeout } from './http.js';
import { oidcExchange } from './oidc.js';
import { median, quantile, type Run, type Summary, summarize, timeSeq } from './stats.js';

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  return v && !v.startsWith('--') ? v : '';
}
const dbName = (flag('--db') || 'sqlite') as DialectName;
if (dbName !== 'sqlite' && dbName !== 'postgres') throw new Error('--db must be sqlite or postgres');
const quick = argv.includes('--quick');
const RUNS = Number(flag('--runs') || (quick ? 1 : 3));
const only = flag('--only')
  ?.split(',')
  .map((s) => s.trim().toUpperCase());
const want = (w: string) => !only || only.includes(w);
const jsonOut = flag('--json') || undefined;
const profDir = flag('--cpu-prof') || undefined;
/** Extra node flags for the benchmarked server, e.g. --node-flags=--max-semi-space-size=2 (comma-separated). */
const nodeFlags = (argv.find((a) => a.startsWith('--node-flags='))?.slice('--node-flags='.length) ?? '').split(',').filter(Boolean);
/** --docker-env: run the server (START and the rest) with the Dockerfile's NODE_OPTIONS and glibc MALLOC_* settings, as the image does. */
const dockerEnvOn = argv.includes('--docker-env');
function dockerfileEnv(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  // The runtime stage's lines, without comments.
  const runtime = text
    .slice(text.lastIndexOf('\nFROM '))
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
  const env: Record<string, string> = {};
  for (const m of runtime.matchAll(/\b(NODE_OPTIONS|MALLOC_[A-Z_]+)=(?:"([^"]*)"|(\S+))/g)) env[m[1]!] = m[2] ?? m[3]!;
  return env;
}
const dockerEnv: Record<string, string> = dockerEnvOn ? dockerfileEnv() : {};
const W1_N = quick ? 300 : 1000;
const W2_REPS = quick ? 20 : 50;
/** First releases of freshly written versions per W2 run (each rewrites every value first). */
const W2_FRESH = quick ? 2 : 5;
const W3_N = 200;
const W4_SECONDS = Number(flag('--w4-seconds') || (quick ? 3 : 10));
const W4_CLIENTS = 16;
const W5_REPS = quick ? 20 : 50;
const S1_PROJECTS = Number(flag('--s1-projects') || (quick ? 100 : 1000));
const S1_SECRETS = 100;
const START_RUNS = quick ? 3 : 7;
const OIDC_N = 200;
const FLUSH_N = quick ? 200 : 500;
const W6_WRITERS = 16;
const W6_PER_WRITER = quick ? 25 : 50;
const W6_SECRETS = 5;
/** Bound of one harness request, and of a workload with no answer at all (the server idle or stuck). */
const REQUEST_TIMEOUT_S = Number(flag('--request-timeout-s') || 60);
const STALL_S = Number(flag('--stall-s') || 120);
setRequestTimeout(REQUEST_TIMEOUT_S * 1000);

const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const hex64 = () => randomBytes(32).toString('hex');
const keyName = (i: number) => `KEY_${String(i + 1).padStart(4, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): { rss: number; hwm: number; priv: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  // Private (not shared with other processes, e.g. the node binary's code pages that RSS also counts).
  let priv = NaN;
  try {
    const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const k = (n: string) => Number(new RegExp(`^${n}:\\s+(\\d+) kB`, 'm').exec(r)?.[1] ?? NaN);
    priv = (k('Private_Dirty') + k('Private_Clean')) / 1024;
  } catch {}
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, priv };
}

const IDLE_HOLD_S = 3;
const IDLE_CAP_S = 45;

/**
 * Resident memory of a server left idle: VmRSS read every second until it has fallen below its first
 * reading and then not fallen further for IDLE_HOLD_S seconds, or IDLE_CAP_S seconds have passed.
 * V8's memory reducer shrinks the heap only some seconds after the last activity (8 s after the last
 * full GC, later when that timer finds the process busy), so a reading taken right after a request is
 * not what an idle machine holds. Measured after the bench's set-up: Node 24 falls after 7-8 s, Node 20
 * after 8-27 s (once not within 30 s).
 */
async function settledRss(pid: number): Promise<ReturnType<typeof rssMb> & { seconds: number; fell: boolean }> {
  const start = Date.now();
  const first = rssMb(pid).rss;
  let low = first;
  let lowSince = Date.now();
  for (;;) {
    await sleep(1000);
    const now = rssMb(pid).rss;
    if (now < low - 0.05) {
      low = now;
      lowSince = Date.now();
    }
    const fell = low < first - 0.05;
    const elapsed = Date.now() - start;
    if ((fell && Date.now() - lowSince >= IDLE_HOLD_S * 1000) || elapsed >= IDLE_CAP_S * 1000) {
      return { ...rssMb(pid), seconds: Math.round(elapsed / 1000), fell };
    }
  }
}

/**
 * CPU time a process has run so far, in ms (Linux schedstat, nanoseconds): its main thread and all its
 * threads. Unlike wall-clock time it barely moves when other processes share the cores.
 */
function cpuMs(pid: number): { main: number; all: number } {
  let main = NaN;
  let all = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ms = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      all += ms;
      if (tid === String(pid)) main = ms;
    }
  } catch {
    return { main: NaN, all: NaN };
  }
  return { main, all };
}

/** Resets a process's peak resident memory (VmHWM) to its current one (Linux clear_refs, value 5). */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {}
}

/** Packages `npm ci --omit=dev` installs, counted from package-lock.json (every non-dev entry under node_modules). */
function prodPackageCount(): { count: number; names: string[] } {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[] }>;
  };
  const names: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    if (!path || p.dev) continue;
    if (p.os && !p.os.includes(process.platform)) continue;
    if (p.cpu && !p.cpu.includes(process.arch)) continue;
    names.push(path.replace(/^.*node_modules\//, ''));
  }
  return { count: names.length, names };
}

// ---------------------------------------------------------------- results
interface Row {
  id: string;
  what: string;
  figure: Summary | undefined;
  floor: Summary | undefined;
  /** How the figure is read: latency (median ms) or throughput (per second) or a plain value. */
  kind: 'latency' | 'throughput' | 'value';
  value?: number;
  unit?: string;
  floorValue?: number;
  target?: string;
  /** Median server-side time from the access log (`ms` of the "request" lines), when known. */
  serverMs?: number;
}
const rows: Row[] = [];
const extra: Record<string, unknown> = {};

function fmt(n: number | undefined, digits = 2): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  if (n >= 1000 || Number.isInteger(n)) return n.toFixed(0);
  if (n >= 100) return n.toFixed(1);
  return n.toFixed(digits);
}

function printTable(): string {
  const head = ['id', 'workload', 'median ms', 'p95 ms', 'per s', 'server ms', 'floor median ms', 'floor per s', 'ratio', 'target'];
  const body = rows.map((r) => {
    if (r.kind === 'value') {
      const ratio = r.floorValue ? r.value! / r.floorValue : undefined;
      return [
        r.id,
        r.what,
        `${fmt(r.value)} ${r.unit ?? ''}`.trim(),
        '',
        '',
        '',
        r.floorValue !== undefined ? `${fmt(r.floorValue)} ${r.unit ?? ''}`.trim() : '',
        '',
        ratio ? `${fmt(ratio)}×` : '',
        r.target ?? '',
      ];
    }
    const f = r.figure;
    const fl = r.floor;
    let ratio: number | undefined;
    if (f && fl) ratio = r.kind === 'throughput' ? fl.perSec / f.perSec : f.median / fl.median;
    return [
      r.id,
      r.what,
      fmt(f?.median, 3),
      fmt(r.kind === 'throughput' ? f?.p99 : f?.p95, 3) + (r.kind === 'throughput' ? ' (p99)' : ''),
      r.id === 'start' ? '' : fmt(f?.perSec, 0),
      r.serverMs === undefined ? '' : fmt(r.serverMs, 3),
      fmt(fl?.median, 3),
      r.id === 'start' ? '' : fmt(fl?.perSec, 0),
      ratio === undefined ? '' : `${fmt(ratio)}×`,
      r.target ?? '',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** Median `ms` of the server's access-log lines after `from` whose method and path match. */
function serverTime(c: { server: TestServer }, from: number, method: string, path: RegExp): number | undefined {
  const ms: number[] = [];
  for (const line of c.server.output().slice(from).split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    try {
      const l = JSON.parse(line) as { method?: string; url?: string; ms?: number };
      if (l.method === method && l.url && path.test(l.url) && typeof l.ms === 'number') ms.push(l.ms);
    } catch {
      /* not a log line */
    }
  }
  return ms.length ? median(ms) : undefined;
}
const mark = (c: { server: TestServer }) => c.server.output().length;

// ---------------------------------------------------------------- workloads
interface Ctx {
  server: TestServer;
  store: TestStore;
  api: Client;
  floor: Floor;
}

async function createProject(api: Client, slug: string, secrets: Array<{ name: string; scope: string; value: string }> = []): Promise<void> {
  await api.json('POST', '/api/v1/projects', { slug, name: slug, secrets });
  // The bench admin starts deployments as a person: that needs the project's release grant.
  await api.json('PATCH', `/api/v1/projects/${slug}/members/${encodeURIComponent(ADMIN_EMAIL)}`, { release: true });
}

async function importSecrets(api: Client, slug: string, scope: string, n: number): Promise<void> {
  const map: Record<string, string> = {};
  for (let i = 0; i < n; i++) map[keyName(i)] = hex64();
  await api.json('POST', `/api/v1/projects/${slug}/secrets/${scope}:import`, { secrets: map });
}

async function startDeployment(api: Client, slug: string): Promise<{ id: string; token: string }> {
  return api.json('POST', `/api/v1/projects/${slug}/deployments`, { environment: 'production' });
}

async function fetchSecrets(api: Client, d: { id: string; token: string }, expect: number): Promise<void> {
  const r = await api.call('GET', `/api/v1/deployments/${d.id}/secrets`, undefined, d.token);
  if (r.status !== 200) throw new Error(`release answered ${r.status}: ${r.text.slice(0, 200)}`);
  if (expect >= 0) {
    const n = Object.keys((JSON.parse(r.text) as { runtime: object }).runtime).length;
    if (n !== expect) throw new Error(`release gave ${n} values, expected ${expect}`);
  }
}

async function complete(api: Client, d: { id: string; token: string }): Promise<void> {
  await api.json('POST', `/api/v1/deployments/${d.id}/complete`, { status: 'succeeded' }, [200], d.token);
}

async function w1(c: Ctx): Promise<void> {
  const runs: Run[] = [];
  const floors: Run[] = [];
  const from = mark(c);
  for (let r = 0; r < RUNS; r++) {
    const slug = `w1-${r}-${randomBytes(3).toString('hex')}`;
    await createProject(c.api, slug);
    runs.push(await timeSeq(W1_N, (i) => c.api.json('PUT', `/api/v1/projects/${slug}/secrets/production/${keyName(i)}`, { value: hex64() }, [201])));
    const fslug = `floor-w1-${r}-${randomBytes(3).toString('hex')}`;
    await createProject(c.api, fslug);
    const p = await c.floor.project(fslug);
    floors.push(await timeSeq(W1_N, (i) => c.floor.create(p, 'production', keyName(i), hex64())));
    log(`W1 run ${r + 1}: median ${median(runs.at(-1)!.samples).toFixed(3)} ms, floor ${median(floors.at(-1)!.samples).toFixed(3)} ms`);
  }
  const row: Row = {
    id: 'W1',
    what: `create ${W1_N} secrets, one request each`,
    kind: 'latency',
    figure: summarize(runs),
    floor: summarize(floors),
    target: '≤ 1 ms',
    serverMs: serverTime(c, from, 'PUT', /^\/api\/v1\/projects\/w1-/),
  };
  rows.push(row);
  await flushRatioRow(c, row);
}

/** The flush floor (bench/floor.ts flushFloor): median of sequential one-row durable commits, measured once per process. */
let flushSummary: Summary | undefined;
async function flushFloor(c: Ctx): Promise<Summary> {
  if (flushSummary) return flushSummary;
  const f = await c.floor.flushFloor(c.store.dataDir);
  try {
    for (let i = 0; i < 20; i++) await f.commit();
    const runs: Run[] = [];
    for (let r = 0; r < Math.max(RUNS, 3); r++) runs.push(await timeSeq(FLUSH_N, () => f.commit()));
    flushSummary = summarize(runs);
  } finally {
    await f.close();
  }
  log(`flush floor: median ${flushSummary.median.toFixed(3)} ms, ${flushSummary.perSec.toFixed(0)} commits/s`);
  rows.push({
    id: 'flush',
    what: dbName === 'sqlite' ? 'flush floor: one-row commit, WAL, synchronous=FULL, same disk' : 'flush floor: one-row INSERT commit',
    kind: 'latency',
    figure: flushSummary,
    floor: undefined,
  });
  return flushSummary;
}

/** A W1/W3 row's ratio to the flush floor (the sequential write is bound by its commit's flush). */
async function flushRatioRow(c: Ctx, of: Row): Promise<void> {
  const f = await flushFloor(c);
  rows.push({ id: `${of.id}/flush`, what: `${of.id} against the flush floor`, kind: 'latency', figure: of.figure, floor: f, target: '≤ 1.3×' });
}

/**
 * W6: 16 writers at once, each creating then overwriting secrets of its own (one request each) in
 * one project. Throughput against 1/flush: above 1 only if several requests' commits share a flush.
 */
async function w6(c: Ctx): Promise<void> {
  const slug = `w6-${randomBytes(3).toString('hex')}`;
  await createProject(c.api, slug);
  const f = await flushFloor(c);
  const runs: Run[] = [];
  const from = mark(c);
  for (let r = 0; r < RUNS; r++) {
    const samples: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: W6_WRITERS }, async (_, w) => {
        const api = new Client(c.server.url, c.api.token);
        try {
          for (let i = 0; i < W6_PER_WRITER; i++) {
            const name = `W6_${String(w).padStart(2, '0')}_${i % W6_SECRETS}`;
            const a = performance.now();
            await api.json('PUT', `/api/v1/projects/${slug}/secrets/production/${name}`, { value: hex64() }, [200, 201]);
            samples.push(performance.now() - a);
          }
        } finally {
          api.close();
        }
      }),
    );
    runs.push({ samples, wallMs: performance.now() - t0 });
    const s = summarize(runs.slice(-1));
    log(`W6 run ${r + 1}: ${s.perSec.toFixed(0)} writes/s (1/flush ${f.perSec.toFixed(0)}/s), p50 ${s.median.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`);
  }
  // The floor's per s is 1/flush: the ratio column (floor per s / figure per s) below 1 means group commit.
  rows.push({
    id: 'W6',
    what: `${W6_WRITERS} writers × ${W6_PER_WRITER} writes (create, then overwrite own secrets) vs 1/flush`,
    kind: 'throughput',
    figure: summarize(runs),
    floor: f,
    serverMs: serverTime(c, from, 'PUT', /^\/api\/v1\/projects\/w6-/),
  });
}

async function w3(c: Ctx): Promise<void> {
  const slug = `w3-${randomBytes(3).toString('hex')}`;
  await createProject(c.api, slug, [{ name: 'KEY_0001', scope: 'production', value: hex64() }]);
  const fslug = `floor-w3-${randomBytes(3).toString('hex')}`;
  await createProject(c.api, fslug, [{ name: 'KEY_0001', scope: 'production', value: hex64() }]);
  const p = await c.floor.project(fslug);
  const runs: Run[] = [];
  const floors: Run[] = [];
  const from = mark(c);
  for (let r = 0; r < RUNS; r++) {
    runs.push(await timeSeq(W3_N, () => c.api.json('PUT', `/api/v1/projects/${slug}/secrets/production/KEY_0001`, { value: hex64() }, [200])));
    floors.push(await timeSeq(W3_N, () => c.floor.overwrite(p, 'production', 'KEY_0001', hex64())));
    log(`W3 run ${r + 1}: median ${median(runs.at(-1)!.samples).toFixed(3)} ms, floor ${median(floors.at(-1)!.samples).toFixed(3)} ms`);
  }
  const row: Row = {
    id: 'W3',
    what: `overwrite one secret ${W3_N} times`,
    kind: 'latency',
    figure: summarize(runs),
    floor: summarize(floors),
    target: '≤ 1 ms',
    serverMs: serverTime(c, from, 'PUT', /^\/api\/v1\/projects\/w3-/),
  };
  rows.push(row);
  await flushRatioRow(c, row);
}

/**
 * W2 (start + fetch; the completion that follows is not timed) and W2' (fetch alone on a running
 * deployment), for a project of `n` secrets. Each run first rewrites all `n` values and times the
 * first release of those fresh versions (W2·new: one HPKE open per value, then their fast forms
 * stored); the W2 deployments that follow pin the same versions and open their fast forms (AES).
 */
async function w2pairs(c: Ctx, slug: string, n: number, label: string): Promise<Record<string, Summary>> {
  const pid = (await c.floor.project(slug)).id;
  const both: Run[] = [];
  const fresh: Run[] = [];
  const firstFetch: Run[] = [];
  const fetchOnly: Run[] = [];
  const floorBoth: Run[] = [];
  const floorFast: Run[] = [];
  const floorFetch: Run[] = [];
  for (let r = 0; r < RUNS; r++) {
    const nw: number[] = [];
    for (let i = 0; i < W2_FRESH; i++) {
      await importSecrets(c.api, slug, 'production', n);
      const a = performance.now();
      const d = await startDeployment(c.api, slug);
      await fetchSecrets(c.api, d, n);
      nw.push(performance.now() - a);
      await complete(c.api, d);
    }
    fresh.push({ samples: nw, wallMs: nw.reduce((x, y) => x + y, 0) });
    const pair: number[] = [];
    const ff: number[] = [];
    let done = 0;
    for (let i = 0; i < W2_REPS; i++) {
      const a = performance.now();
      const d = await startDeployment(c.api, slug);
      const b = performance.now();
      await fetchSecrets(c.api, d, n);
      const e = performance.now();
      pair.push(e - a);
      ff.push(e - b);
      done += e - a;
      await complete(c.api, d);
    }
    both.push({ samples: pair, wallMs: done });
    firstFetch.push({ samples: ff, wallMs: ff.reduce((x, y) => x + y, 0) });
    const d = await startDeployment(c.api, slug);
    await fetchSecrets(c.api, d, n);
    fetchOnly.push(await timeSeq(W2_REPS, () => fetchSecrets(c.api, d, n)));
    await complete(c.api, d);
    floorBoth.push(
      await timeSeq(W2_REPS, async () => {
        const id = await c.floor.start(pid, 'production');
        await c.floor.fetch(id);
      }),
    );
    floorFast.push(
      await timeSeq(W2_REPS, async () => {
        const id = await c.floor.start(pid, 'production');
        await c.floor.fetchFast(id);
      }),
    );
    const fid = await c.floor.start(pid, 'production');
    floorFetch.push(await timeSeq(W2_REPS, () => c.floor.fetchFast(fid)));
    log(
      `${label} ${n} run ${r + 1}: first release ${median(nw).toFixed(3)} ms; later start+fetch ${median(pair).toFixed(3)} ms (first fetch ${median(ff).toFixed(3)}), repeat fetch ${median(fetchOnly.at(-1)!.samples).toFixed(3)} ms; floors HPKE ${median(floorBoth.at(-1)!.samples).toFixed(3)} / AES ${median(floorFast.at(-1)!.samples).toFixed(3)} / fetch ${median(floorFetch.at(-1)!.samples).toFixed(3)} ms`,
    );
  }
  return {
    both: summarize(both),
    fresh: summarize(fresh),
    firstFetch: summarize(firstFetch),
    fetchOnly: summarize(fetchOnly),
    floorBoth: summarize(floorBoth),
    floorFast: summarize(floorFast),
    floorFetch: summarize(floorFetch),
  };
}

function pushW2(prefix: string, n: number, s: Record<string, Summary>, targets: { both?: string; fetch?: string } = {}): void {
  rows.push({
    id: `${prefix}W2·new`,
    what: `start + fetch, first release of ${n} freshly written values (HPKE, fast forms stored)`,
    kind: 'latency',
    figure: s.fresh,
    floor: s.floorBoth,
  });
  rows.push({
    id: `${prefix}W2`,
    what: `start + fetch, ${n} values released before (fast forms, AES)`,
    kind: 'latency',
    figure: s.both,
    floor: s.floorFast,
    ...(targets.both ? { target: targets.both } : {}),
  });
  rows.push({
    id: `${prefix}W2'`,
    what: `fetch alone (running deployment), ${n} values`,
    kind: 'latency',
    figure: s.fetchOnly,
    floor: s.floorFetch,
    ...(targets.fetch ? { target: targets.fetch } : {}),
  });
  rows.push({ id: `${prefix}W2'·1st`, what: `first fetch of a new deployment, ${n} values`, kind: 'latency', figure: s.firstFetch, floor: s.floorFetch });
}

async function w5(c: Ctx, slug: string, prefix = ''): Promise<Row> {
  const pid = (await c.floor.project(slug)).id;
  const runs: Run[] = [];
  const floors: Run[] = [];
  const from = mark(c);
  for (let r = 0; r < RUNS; r++) {
    // Timed: the request until its whole answer is read. Every answer is parsed and checked after
    // the run: parsing 190 kB of JSON is the client's work (about 1.5 ms), not the server's.
    const answers: string[] = [];
    runs.push(
      await timeSeq(W5_REPS, async () => {
        const a = await c.api.call('GET', `/api/v1/projects/${slug}/secrets?scope=production`);
        if (a.status !== 200) throw new Error(`W5: list answered ${a.status}: ${a.text.slice(0, 200)}`);
        answers.push(a.text);
      }),
    );
    for (const text of answers) {
      const n = (JSON.parse(text) as { secrets: unknown[] }).secrets.length;
      if (n !== 1000) throw new Error(`W5: listed ${n}`);
    }
    floors.push(await timeSeq(W5_REPS, () => c.floor.list(pid, 'production')));
    log(`${prefix}W5 run ${r + 1}: median ${median(runs.at(-1)!.samples).toFixed(3)} ms, floor ${median(floors.at(-1)!.samples).toFixed(3)} ms`);
  }
  const row: Row = {
    id: `${prefix}W5`,
    what: 'list metadata of 1,000 secrets',
    kind: 'latency',
    figure: summarize(runs),
    floor: summarize(floors),
    target: prefix ? '≤ 1.2× W5' : '≤ 5 ms',
    serverMs: serverTime(c, from, 'GET', new RegExp(`^/api/v1/projects/${slug}/secrets$`)),
  };
  rows.push(row);
  if (!prefix) await w5Changed(c, slug, pid);
  return row;
}

/**
 * W5·changed: the same list, each one right after an (untimed) overwrite of one secret of the
 * scope, so the server cannot send the answer it kept for the unchanged scope as it is: it reads
 * the changed secret again and patches the kept answer (ScopeListCache), the cost of the first list
 * after a small change. Same floor as W5.
 */
async function w5Changed(c: Ctx, slug: string, pid: string): Promise<void> {
  const runs: Run[] = [];
  const floors: Run[] = [];
  for (let r = 0; r < RUNS; r++) {
    const samples: number[] = [];
    for (let i = 0; i < W5_REPS; i++) {
      await c.api.json('PUT', `/api/v1/projects/${slug}/secrets/production/KEY_0001`, { value: hex64() }, [200]);
      const a0 = performance.now();
      const a = await c.api.call('GET', `/api/v1/projects/${slug}/secrets?scope=production`);
      samples.push(performance.now() - a0);
      if (a.status !== 200) throw new Error(`W5·changed: list answered ${a.status}: ${a.text.slice(0, 200)}`);
      const n = (JSON.parse(a.text) as { secrets: unknown[] }).secrets.length;
      if (n !== 1000) throw new Error(`W5·changed: listed ${n}`);
    }
    // Throughput from the timed lists alone (the overwrites between them are not timed).
    runs.push({ samples, wallMs: samples.reduce((a, b) => a + b, 0) });
    floors.push(await timeSeq(W5_REPS, () => c.floor.list(pid, 'production')));
    log(`W5·changed run ${r + 1}: median ${median(runs.at(-1)!.samples).toFixed(3)} ms, floor ${median(floors.at(-1)!.samples).toFixed(3)} ms`);
  }
  rows.push({
    id: 'W5·changed',
    what: 'the same list, each right after a write to the scope (kept answer patched)',
    kind: 'latency',
    figure: summarize(runs),
    floor: summarize(floors),
  });
}

async function w4(c: Ctx, slug: string): Promise<void> {
  const d = await startDeployment(c.api, slug);
  await fetchSecrets(c.api, d, 100);
  const client = new Client(c.server.url, d.token, W4_CLIENTS);
  const from = mark(c);
  const samples: number[] = [];
  const end = performance.now() + W4_SECONDS * 1000;
  const t0 = performance.now();
  const cpu0 = cpuMs(c.server.process.pid!);
  let errors = 0;
  await Promise.all(
    Array.from({ length: W4_CLIENTS }, async () => {
      while (performance.now() < end) {
        const a = performance.now();
        const r = await client.call('GET', `/api/v1/deployments/${d.id}/secrets`);
        if (r.status !== 200) errors++;
        samples.push(performance.now() - a);
      }
    }),
  );
  const wall = performance.now() - t0;
  const cpu1 = cpuMs(c.server.process.pid!);
  const mem = rssMb(c.server.process.pid!);
  client.close();
  if (errors) throw new Error(`W4: ${errors} requests failed`);
  // Floor: the same fetch in-process, 16 concurrent loops for a third of the time.
  const pid = (await c.floor.project(slug)).id;
  const fid = await c.floor.start(pid, 'production');
  const fs: number[] = [];
  const fend = performance.now() + Math.max(1, W4_SECONDS / 3) * 1000;
  const f0 = performance.now();
  await Promise.all(
    Array.from({ length: W4_CLIENTS }, async () => {
      while (performance.now() < fend) {
        const a = performance.now();
        await c.floor.fetch(fid);
        fs.push(performance.now() - a);
      }
    }),
  );
  const fwall = performance.now() - f0;
  await complete(c.api, d);
  const fig: Summary = {
    median: median(samples),
    p95: quantile(samples, 0.95),
    p99: quantile(samples, 0.99),
    perSec: (samples.length * 1000) / wall,
    n: samples.length,
    runs: 1,
  };
  const flo: Summary = { median: median(fs), p95: quantile(fs, 0.95), p99: quantile(fs, 0.99), perSec: (fs.length * 1000) / fwall, n: fs.length, runs: 1 };
  log(
    `W4: ${fig.perSec.toFixed(0)} req/s, p50 ${fig.median.toFixed(2)} ms, p99 ${fig.p99.toFixed(2)} ms; floor ${flo.perSec.toFixed(0)}/s; RSS ${mem.rss.toFixed(1)} MB (peak ${mem.hwm.toFixed(1)}); server CPU per request ${(((cpu1.main - cpu0.main) * 1000) / samples.length).toFixed(0)} µs main thread, ${(((cpu1.all - cpu0.all) * 1000) / samples.length).toFixed(0)} µs all threads`,
  );
  rows.push({
    id: 'W4',
    what: `${W4_CLIENTS} clients × ${W4_SECONDS} s, fetch of 100 values`,
    kind: 'throughput',
    figure: fig,
    floor: flo,
    target: '≥ 2,500 req/s',
    serverMs: serverTime(c, from, 'GET', /^\/api\/v1\/deployments\/[^/]+\/secrets$/),
  });
  rows.push({
    id: 'RSS W4',
    what: 'resident memory at the end of W4 (peak during W4)',
    kind: 'value',
    value: mem.rss,
    unit: `MB (peak ${mem.hwm.toFixed(0)})`,
    figure: undefined,
    floor: undefined,
    target: 'peak ≤ 128 MB',
  });
}

/** Start to first healthy answer, on a fresh data directory and on a restart of it; floor: `node -e 0`. */
async function startTimes(): Promise<void> {
  const times: number[] = [];
  const restarts: number[] = [];
  // CPU time of the restarted server up to its first /healthz answer (main thread; all threads).
  const restartCpuMain: number[] = [];
  const restartCpuAll: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const store = await createStore(dbName);
    try {
      const t0 = performance.now();
      const s = await startServer(store, { env: { KEYLOFT_LOG_LEVEL: 'warn', ...dockerEnv } });
      const r = await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_S * 1000) });
      if (r.status !== 200) throw new Error('not healthy');
      await r.text();
      times.push(performance.now() - t0);
      // A restart on the now initialised store (migrations already applied, key present).
      await s.stop();
      const t1 = performance.now();
      const s2 = await startServer(store, { env: { KEYLOFT_LOG_LEVEL: 'warn', ...dockerEnv } });
      const r2 = await fetch(`${s2.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_S * 1000) });
      await r2.text();
      restarts.push(performance.now() - t1);
      const cpu = cpuMs(s2.process.pid!);
      restartCpuMain.push(cpu.main);
      restartCpuAll.push(cpu.all);
      await s2.stop();
    } finally {
      await store.cleanup();
    }
  }
  const bare: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    bare.push(performance.now() - t0);
  }
  const sum = (xs: number[]): Summary => ({
    median: median(xs),
    p95: quantile(xs, 0.95),
    p99: quantile(xs, 0.99),
    perSec: 1000 / median(xs),
    n: xs.length,
    runs: xs.length,
  });
  const s = sum(times);
  const s2 = sum(restarts);
  const f = sum(bare);
  log(`start to healthy: fresh median ${s.median.toFixed(0)} ms, restart ${s2.median.toFixed(0)} ms (node -e 0: ${f.median.toFixed(0)} ms)`);
  const cpuMain = median(restartCpuMain);
  const cpuAll = median(restartCpuAll);
  if (Number.isFinite(cpuMain))
    log(`restart CPU to healthy: main thread ${cpuMain.toFixed(0)} ms, all threads ${cpuAll.toFixed(0)} ms (median; /proc schedstat)`);
  rows.push({ id: 'start', what: 'process start → first 200 from /healthz, new data dir', kind: 'latency', figure: s, floor: f, target: '≤ 1,000 ms' });
  rows.push({ id: 'restart', what: 'the same, restart of an existing data dir', kind: 'latency', figure: s2, floor: f, target: '≤ 300 ms' });
  if (Number.isFinite(cpuMain))
    rows.push({
      id: 'restart CPU',
      what: 'CPU time of the restarted server up to its first /healthz answer (main thread)',
      kind: 'value',
      value: cpuMain,
      unit: `ms (all threads ${cpuAll.toFixed(0)})`,
      figure: undefined,
      floor: undefined,
      target: '',
    });
}

/** S1 filler: `n` other projects of 100 secrets, each with one completed deployment. */
async function fillOthers(c: Ctx, n: number): Promise<void> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    const api = new Client(c.server.url, c.api.token);
    while (next < n) {
      const i = next++;
      const slug = `other-${String(i).padStart(4, '0')}`;
      const secrets = Array.from({ length: S1_SECRETS }, (_, k) => ({ name: keyName(k), scope: 'production', value: hex64() }));
      await createProject(api, slug, secrets);
      const d = await startDeployment(api, slug);
      await complete(api, d);
      if ((i + 1) % 100 === 0) log(`S1 fill: ${i + 1}/${n} projects (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    api.close();
  };
  await Promise.all([worker(), worker()]);
}

/** Like the test helper's startServer, with extra node flags (e.g. --cpu-prof, not allowed in NODE_OPTIONS). */
function startWithNodeArgs(store: TestStore, nodeArgs: string[], env: Record<string, string>): Promise<TestServer> {
  const child = spawn(process.execPath, [...nodeArgs, KEYLOFT_BIN, 'serve'], { env: storeEnv(store, env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const onData = () => {
      const m = /keyloft \w+ listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      child.stdout!.off('data', onData);
      resolve({
        url: m[1]!,
        store,
        process: child,
        output: () => out,
        setupToken: /\b(klsetup_[A-Za-z0-9_-]+)/.exec(out)?.[1],
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    void exited.then((code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

/** /proc state of a process (R running, S sleeping, D disk wait, …) and its kernel wait channel. */
function procState(pid: number | undefined): string {
  if (!pid) return 'no pid';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    let wchan = '';
    try {
      wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
    } catch {
      /* not readable */
    }
    return `state ${state}${wchan ? `, waiting in ${wchan}` : ''}`;
  } catch {
    return 'gone';
  }
}

/**
 * Runs one workload under a watchdog: requests are bounded one by one (bench/http.ts), and a
 * workload that gets no answer for --stall-s seconds (a promise that never settles, a stuck floor)
 * fails with its name, what was in flight and the server's state instead of hanging the run.
 */
async function phase<T>(name: string, server: TestServer | undefined, fn: () => Promise<T>): Promise<T> {
  activity.workload = name;
  activity.lastAnswerAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const idle = (Date.now() - activity.lastAnswerAt) / 1000;
      if (idle < STALL_S) return;
      const tail = server ? server.output().slice(-1500) : '';
      reject(
        new Error(
          `${name}: no answer for ${idle.toFixed(0)} s; in flight: ${[...activity.inFlight].join(', ') || 'nothing (the harness awaits something else)'}; ` +
            `server ${server ? procState(server.process.pid) : 'not started'}; harness load ${loadavg()
              .map((l) => l.toFixed(2))
              .join(' ')}\nserver output, last lines:\n${tail}`,
        ),
      );
    }, 1000);
  });
  try {
    return await Promise.race([fn(), stalled]);
  } finally {
    clearInterval(timer);
  }
}

/** Stops the server; one that does not exit on SIGTERM within 10 s (stuck) is killed. */
async function stopServer(server: TestServer): Promise<void> {
  const killer = setTimeout(() => {
    log(`the server did not exit 10 s after SIGTERM (${procState(server.process.pid)}): SIGKILL`);
    server.process.kill('SIGKILL');
  }, 10_000);
  try {
    await server.stop();
  } finally {
    clearTimeout(killer);
  }
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  if (dbName === 'postgres' && !(await postgresAvailable())) throw new Error('no PostgreSQL reachable (set KEYLOFT_TEST_PG_URL)');
  const pkgs = prodPackageCount();
  log(
    `db ${dbName}, runs ${RUNS}${quick ? ', quick' : ''}; ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const loadBefore = loadavg();

  if (want('START')) await phase('START', undefined, startTimes);

  const store = await createStore(dbName);
  const env: Record<string, string> = {};
  if (process.env.KEYLOFT_LOG_LEVEL) env.KEYLOFT_LOG_LEVEL = process.env.KEYLOFT_LOG_LEVEL;
  // The OIDC workload's issuer listens on http://127.0.0.1.
  env.KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK = 'true';
  env.KEYLOFT_OIDC_RATE_LIMIT = '100000';
  if (profDir) mkdirSync(profDir, { recursive: true });
  const args = [...nodeFlags, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
  Object.assign(env, dockerEnv);
  const server = args.length > 0 ? await startWithNodeArgs(store, args, env) : await startServer(store, { env });
  try {
    const admin = await phase('setup', server, () => bootstrap(server));
    const api = new Client(server.url, admin.token);
    const databaseUrl = store.databaseUrl ?? join(store.dataDir, 'keyloft.db');
    const floor = await Floor.open(databaseUrl, store.dataDir);
    const c: Ctx = { server, store, api, floor };
    await sleep(500);
    const afterSetup = rssMb(server.process.pid!);
    rows.push({
      id: 'RSS after setup',
      what: 'resident memory 0.5 s after start and setup (not yet idle)',
      kind: 'value',
      value: afterSetup.rss,
      unit: `MB (private ${afterSetup.priv.toFixed(0)})`,
      figure: undefined,
      floor: undefined,
    });
    log(`RSS after setup ${afterSetup.rss.toFixed(1)} MB (private ${afterSetup.priv.toFixed(1)} MB)`);
    const idle = await phase('idle', server, () => settledRss(server.process.pid!));
    rows.push({
      id: 'RSS idle',
      what: `resident memory once idle after setup: VmRSS every 1 s until it has fallen and held ${IDLE_HOLD_S} s (V8's memory reducer, ~8 s after activity), at most ${IDLE_CAP_S} s`,
      kind: 'value',
      value: idle.rss,
      unit: `MB (private ${idle.priv.toFixed(0)}; ${idle.seconds} s${idle.fell ? '' : ', did not fall'})`,
      figure: undefined,
      floor: undefined,
      target: '≤ 80 MB',
    });
    log(`RSS idle ${idle.rss.toFixed(1)} MB (private ${idle.priv.toFixed(1)} MB) after ${idle.seconds} s idle${idle.fell ? '' : ' (did not fall)'}`);

    if (want('W1')) await phase('W1', server, () => w1(c));
    if (want('W3')) await phase('W3', server, () => w3(c));
    if (want('W6')) await phase('W6', server, () => w6(c));

    const needP = want('W2') || want('W4') || want('W5') || want('S1');
    if (needP) {
      await phase('setup p100/p1000', server, async () => {
        await createProject(api, 'p100');
        await importSecrets(api, 'p100', 'production', 100);
        await createProject(api, 'p1000');
        await importSecrets(api, 'p1000', 'production', 1000);
      });
    }
    let w5Row: Row | undefined;
    let base100: Record<string, Summary> | undefined;
    let base1000: Record<string, Summary> | undefined;
    if (want('W2') || want('S1')) {
      base100 = await phase('W2 100', server, () => w2pairs(c, 'p100', 100, 'W2'));
      pushW2('', 100, base100, { both: '≤ 5 ms' });
      base1000 = await phase('W2 1000', server, () => w2pairs(c, 'p1000', 1000, 'W2'));
      pushW2('', 1000, base1000, { both: '≤ 30 ms', fetch: '≤ 10 ms, ≤ 3× floor' });
    }
    if (want('W5') || want('S1')) w5Row = await phase('W5', server, () => w5(c, 'p1000'));
    // The W4 peak is its own: VmHWM is reset first (the set-up's Argon2 sign-in peaks at ~19 MiB more).
    if (want('W4')) resetPeak(server.process.pid!);
    if (want('W4')) await phase('W4', server, () => w4(c, 'p100'));
    if (want('OIDC')) {
      const from = mark(c);
      const o = await phase('OIDC', server, () => oidcExchange(api, OIDC_N, RUNS, log));
      if (o.jwksFetchesWhileTimed !== 0) log(`OIDC: the JWKS was fetched ${o.jwksFetchesWhileTimed} time(s) while timed: not a warm-cache figure`);
      rows.push({
        id: 'OIDC',
        what: `OIDC exchange (ID token → deployment), warm JWKS cache, ${OIDC_N} sequential`,
        kind: 'latency',
        figure: summarize(o.runs),
        floor: summarize(o.floors),
        serverMs: serverTime(c, from, 'POST', /^\/api\/v1\/oidc\/deployments$/),
      });
      rows.push({
        id: 'OIDC·key',
        what: `the same start with a deploy key (for comparison), ${OIDC_N} sequential`,
        kind: 'latency',
        figure: summarize(o.keyRuns),
        floor: undefined,
      });
    }

    if (want('S1')) {
      await phase('S1 fill', server, () => fillOthers(c, S1_PROJECTS));
      const s100 = await phase('S1 W2 100', server, () => w2pairs(c, 'p100', 100, 'S1 W2'));
      const s1000 = await phase('S1 W2 1000', server, () => w2pairs(c, 'p1000', 1000, 'S1 W2'));
      pushW2('S1 ', 100, s100, { both: '≤ 1.2× W2' });
      pushW2('S1 ', 1000, s1000, { both: '≤ 1.2× W2', fetch: "≤ 1.2× W2'" });
      const s5 = await phase('S1 W5', server, () => w5(c, 'p1000', 'S1 '));
      extra.s1 = {
        projects: S1_PROJECTS,
        ratioW2_100: s100.both!.median / base100!.both!.median,
        ratioW2_1000: s1000.both!.median / base1000!.both!.median,
        ratioW2f_1000: s1000.fetchOnly!.median / base1000!.fetchOnly!.median,
        ratioW5: s5.figure!.median / w5Row!.figure!.median,
      };
    }
    await sleep(1000);
    const endMem = rssMb(server.process.pid!);
    rows.push({
      id: 'RSS end',
      what: 'resident memory at the end, idle',
      kind: 'value',
      value: endMem.rss,
      unit: `MB (peak ${endMem.hwm.toFixed(0)})`,
      figure: undefined,
      floor: undefined,
    });
    rows.push({
      id: 'packages',
      what: '`npm ci --omit=dev` installs',
      kind: 'value',
      value: pkgs.count,
      unit: 'packages',
      figure: undefined,
      floor: undefined,
    });
    await floor.close();
    api.close();
  } finally {
    await stopServer(server);
    await store.cleanup();
  }

  const table = printTable();
  const header = [
    `keyloft bench — ${dbName}${quick ? ' (quick)' : ''}, ${RUNS} run(s); medians over runs of each run's median/p95${nodeFlags.length ? `; server node flags: ${nodeFlags.join(' ')}` : ''}${
      dockerEnvOn
        ? `; server env as the Dockerfile: ${Object.entries(dockerEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''
    }`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ].join('\n');
  const s1 = extra.s1 as Record<string, number> | undefined;
  const s1line = s1
    ? `S1 (${s1.projects} other projects × 100 secrets): W2 100 ${fmt(s1.ratioW2_100)}×, W2 1000 ${fmt(s1.ratioW2_1000)}×, W2' 1000 ${fmt(s1.ratioW2f_1000)}×, W5 ${fmt(s1.ratioW5)}× of the empty-database figures`
    : '';
  process.stdout.write(
    `\n${header}\n\n${table}\n${s1line ? `\n${s1line}\n` : ''}\nratio: figure median / floor median (W4: floor per s / figure per s; start: vs. \`node -e 0\`). The harness asserts nothing about time.\n`,
  );
  if (jsonOut)
    writeFileSync(jsonOut, JSON.stringify({ db: dbName, quick, runs: RUNS, loadBefore, loadAfter: loadavg(), rows, extra, packages: pkgs }, null, 2));
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
