// Memory on Fly.io's smallest machine (issue 18 target 1): the real server, run with exactly the
// Dockerfile's V8 flags (NODE_OPTIONS, read from the Dockerfile so the two cannot drift), under a
// W4-like load — 16 concurrent clients fetching a running deployment of 100 values for ~3 s —
// answers every request with 200, keeps its peak resident memory (VmHWM) under the cap, and still
// answers /healthz afterwards; left idle after its set-up, its resident memory is under a lower cap. Not timed: the load lasts a fixed while, and nothing is asserted
// about speed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN_EMAIL, bootstrap, grantRelease } from '../helpers/client.js';
import { createStore, REPO_ROOT, startServer } from '../helpers/server.js';

/**
 * The cap on the server's peak resident memory (MiB): the issue's target, 128 MB. Measured with the
 * Dockerfile's settings on the 2-core host under load (load average 16-20): Node 24, this test's load
 * peaks at 108-113 MB and its set-up (an Argon2 sign-in) at 112 MB; the bench's 10 s W4 at 117-124 MB.
 * About 54 MB of it is the node binary's code pages (file-backed; docs/OPERATIONS.md "Memory and
 * start-up"). Before the SQLite page cache was bounded and MALLOC_ARENA_MAX set, Node 24 needed 160.
 */
const CAP_MB = 128;
/**
 * The cap on the resident memory of the server left idle after that set-up (MiB), once V8's memory
 * reducer has run (~8 s after the last activity) or 30 s have passed: with a margin over what
 * Node 24 measured here, 76-80 MB after the set-up's requests and ~84 MB with this test's project
 * and deployment (docs/OPERATIONS.md "Memory and start-up"). It catches what stays after a request:
 * before MALLOC_MMAP_THRESHOLD_ was set, the 19 MiB of the sign-in's Argon2 hash stayed resident.
 */
const IDLE_CAP_MB = 100;
const CLIENTS = 16;
const LOAD_MS = 3000;

/** The Dockerfile's runtime stage (after the last FROM), without comment lines. */
function dockerRuntime(): string {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  return dockerfile
    .slice(dockerfile.lastIndexOf('\nFROM '))
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
}

/** A setting of the Dockerfile's runtime stage (its ENV), e.g. NODE_OPTIONS. */
function dockerEnv(name: string): string {
  const m = new RegExp(`\\b${name}=(?:"([^"]*)"|(\\S+))`).exec(dockerRuntime());
  assert.ok(m, `the Dockerfile sets ${name} in its runtime stage`);
  return m[1] ?? m[2]!;
}
const dockerNodeOptions = () => dockerEnv('NODE_OPTIONS');

/** Every glibc malloc setting (MALLOC_*) of the Dockerfile's runtime stage. */
function dockerMallocEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of dockerRuntime().matchAll(/\b(MALLOC_[A-Z_]+)=(?:"([^"]*)"|(\S+))/g)) env[m[1]!] = m[2] ?? m[3]!;
  return env;
}

/** Resets the process's peak resident memory (VmHWM) to its current one (Linux clear_refs, value 5). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/**
 * Resident memory (MiB) of a process left alone: VmRSS every second until it has fallen below its
 * first reading and then held for 3 s, or 30 s have passed (the bench's "RSS idle").
 */
async function settledRss(pid: number): Promise<{ rssMb: number; seconds: number }> {
  const start = Date.now();
  const first = memory(pid).rssMb;
  let low = first;
  let lowSince = start;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = memory(pid).rssMb;
    if (now < low - 0.05) {
      low = now;
      lowSince = Date.now();
    }
    if ((low < first - 0.05 && Date.now() - lowSince >= 3000) || Date.now() - start >= 30_000)
      return { rssMb: memory(pid).rssMb, seconds: Math.round((Date.now() - start) / 1000) };
  }
}

function memory(pid: number): { rssMb: number; hwmMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

test('fly.toml sets the same V8 flags as the Dockerfile', () => {
  const fly = readFileSync(join(REPO_ROOT, 'fly.toml'), 'utf8');
  const m = /^\s*NODE_OPTIONS\s*=\s*"([^"]*)"/m.exec(fly);
  assert.ok(m, 'fly.toml sets NODE_OPTIONS');
  assert.equal(m[1], dockerNodeOptions());
});

test(`left idle after its set-up the server with the Dockerfile's V8 flags is under ${IDLE_CAP_MB} MB; under 16 clients fetching 100 values it peaks under ${CAP_MB} MB and keeps answering`, {
  skip: process.platform !== 'linux' && 'reads /proc',
}, async (t) => {
  const nodeOptions = dockerNodeOptions();
  assert.match(nodeOptions, /--max-old-space-size=\d+/);
  assert.match(nodeOptions, /--max-semi-space-size=\d+/);
  const store = await createStore('sqlite');
  t.after(() => store.cleanup());
  const malloc = dockerMallocEnv();
  assert.ok(malloc.MALLOC_MMAP_THRESHOLD_, 'the Dockerfile sets MALLOC_MMAP_THRESHOLD_');
  assert.ok(malloc.MALLOC_ARENA_MAX, 'the Dockerfile sets MALLOC_ARENA_MAX');
  const server = await startServer(store, { env: { NODE_OPTIONS: nodeOptions, ...malloc, KEYLOFT_LOG_LEVEL: 'warn' } });
  t.after(() => server.stop());
  const pid = server.process.pid!;

  const api = await bootstrap(server);
  const secrets: Record<string, string> = {};
  for (let i = 0; i < 100; i++) secrets[`KEY_${String(i + 1).padStart(4, '0')}`] = randomBytes(32).toString('hex');
  assert.equal((await api.post('/api/v1/projects', { slug: 'mem', name: 'mem' })).status, 201);
  assert.equal((await api.post('/api/v1/projects/mem/secrets/production:import', { secrets })).status, 200);
  await grantRelease(api, 'mem', ADMIN_EMAIL);
  const d = await api.post<{ id: string; token: string }>('/api/v1/projects/mem/deployments', { environment: 'production' });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  const { id, token } = d.body;

  // The peak of the set-up (the sign-in's Argon2 hash uses 19 MiB for a moment) is reported; the cap is on the load's.
  const setup = memory(pid);
  const idle = await settledRss(pid);
  resetPeak(pid);
  const statuses = new Map<number, number>();
  let requests = 0;
  const end = Date.now() + LOAD_MS;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) {
        const r = await fetch(`${server.url}/api/v1/deployments/${id}/secrets`, { headers: { authorization: `Bearer ${token}` } });
        const body = await r.text();
        requests++;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200 && requests === 1) assert.equal(Object.keys((JSON.parse(body) as { runtime: object }).runtime).length, 100);
      }
    }),
  );
  const mem = memory(pid);
  t.diagnostic(
    `set-up: RSS ${setup.rssMb.toFixed(1)} MB, peak ${setup.hwmMb.toFixed(1)} MB; idle after it: ${idle.rssMb.toFixed(1)} MB (${idle.seconds} s); load: ${requests} requests, RSS ${mem.rssMb.toFixed(1)} MB, peak (VmHWM) ${mem.hwmMb.toFixed(1)} MB; NODE_OPTIONS=${nodeOptions} ${Object.entries(
      malloc,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  assert.ok(idle.rssMb < IDLE_CAP_MB, `resident memory idle after the set-up ${idle.rssMb.toFixed(1)} MB is under the ${IDLE_CAP_MB} MB cap`);
  assert.ok(setup.hwmMb < CAP_MB, `peak resident memory of the set-up ${setup.hwmMb.toFixed(1)} MB is under the ${CAP_MB} MB cap`);
  assert.deepEqual([...statuses.keys()], [200], `every request answered 200: ${JSON.stringify([...statuses])}`);
  assert.ok(requests >= CLIENTS, `the load ran (${requests} requests)`);
  assert.ok(mem.hwmMb < CAP_MB, `peak resident memory ${mem.hwmMb.toFixed(1)} MB is under the ${CAP_MB} MB cap`);
  const h = await fetch(`${server.url}/healthz`);
  assert.equal(h.status, 200);
  await h.text();
  assert.equal(server.process.exitCode, null, 'the server is still running');
});
