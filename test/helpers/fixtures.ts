import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type Kysely, sql } from 'kysely';
import type { DB } from '../../src/store/schema.js';
import { type Api, grantRelease } from './client.js';
import { KEYLOFT_BIN } from './server.js';

/** The one fixture module of the suites: seeded projects and the CLI run against a server. */

export interface SeedSecret {
  name: string;
  scope: string;
  value: string;
}

/**
 * A project created through the API with its secrets (201 asserted), the admin given the release
 * grant (deploy keys, deployments and copies of production values need it).
 */
export async function seedProject(
  admin: Api,
  project: { slug: string; name: string; flyApp?: string },
  secrets: ReadonlyArray<SeedSecret> = [],
): Promise<void> {
  const c = await admin.post('/api/v1/projects', { ...project, secrets });
  assert.equal(c.status, 201, c.text);
  await grantRelease(admin, project.slug);
}

/** Starts a deployment as `api` and completes it (`succeeded` by default); returns its id. */
export async function deploy(
  api: Api,
  slug: string,
  start: { environment: 'production' | 'preview'; pr?: number; ref?: string },
  status: 'succeeded' | 'failed' = 'succeeded',
): Promise<string> {
  const dep = await api.post(`/api/v1/projects/${slug}/deployments`, start);
  assert.equal(dep.status, 201, dep.text);
  const done = await api.with(dep.body.token).post(`/api/v1/deployments/${dep.body.id}/complete`, { status });
  assert.equal(done.status, 200, done.text);
  return dep.body.id as string;
}

/** A deploy key (created by the admin) that starts one production deployment and completes it succeeded: the secrets are then "deployed". Returns the key's token. */
export async function deployOnce(admin: Api, slug: string): Promise<string> {
  const key = await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'ci' });
  assert.equal(key.status, 201, key.text);
  await deploy(admin.with(key.body.token), slug, { environment: 'production', ref: 'r1' });
  return key.body.token as string;
}

/** The values of the seeded reseal project; each suite picks its own (random, so scans can find them). */
export interface ResealValues {
  token: string;
  p1: string;
  p2: string;
  prev2: string;
}

/**
 * The project the restore and copy suites (http, web, CLI) start from: TOKEN, P1 and P2 in
 * production, P2 in preview, and whatever `extra` secrets a suite needs.
 */
export async function seedResealProject(
  admin: Api,
  project: { slug: string; name: string },
  v: ResealValues,
  extra: ReadonlyArray<SeedSecret> = [],
): Promise<void> {
  await seedProject(admin, project, [
    { name: 'TOKEN', scope: 'production', value: v.token },
    { name: 'P1', scope: 'production', value: v.p1 },
    { name: 'P2', scope: 'production', value: v.p2 },
    { name: 'P2', scope: 'preview', value: v.prev2 },
    ...extra,
  ]);
}

/** The project the review-diff suites (http, CLI) start from: A and B in production, KEEP in preview. */
export async function seedReviewProject(admin: Api, slug: string, v: { a: string; b: string; keep: string }): Promise<void> {
  await seedProject(admin, { slug, name: 'Review' }, [
    { name: 'A', scope: 'production', value: v.a },
    { name: 'B', scope: 'production', value: v.b },
    { name: 'KEEP', scope: 'preview', value: v.keep },
  ]);
}

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/**
 * `keyloft ARGS` as a subprocess against a server, with KEYLOFT_URL and KEYLOFT_TOKEN (no login),
 * `dir` as working and config directory and no inherited KEYLOFT_* setting; `env` adds or
 * overrides settings, `stdin` is its input (none: an empty one). Everything it prints is pushed to `printed`.
 */
export function runKeyloft(
  to: { url: string; token: string; dir: string },
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; printed?: string[] } = {},
): Promise<CliRun> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) e[k] = v;
  Object.assign(e, { KEYLOFT_URL: to.url, KEYLOFT_TOKEN: to.token, KEYLOFT_CONFIG_DIR: to.dir }, opts.env ?? {});
  const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env: e, cwd: to.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.stdin ?? '');
  return new Promise((r) =>
    child.on('close', (code) => {
      opts.printed?.push(out, err);
      r({ code, out, err });
    }),
  );
}

/**
 * Which of `values` appear in plaintext in any cell of any table of the database (text, or the
 * bytes of a blob/bytea), read through the services' own connection: the in-process counterpart of
 * `valuesInDatabase` (security/support.ts), which scans a spawned server's files.
 */
export async function valuesInTables(db: Kysely<DB>, values: readonly string[]): Promise<string[]> {
  const tables = await db.introspection.getTables();
  assert.ok(tables.length > 10, 'the schema is there');
  const found: string[] = [];
  for (const t of tables) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(t.name)}`.execute(db);
    const dump = Buffer.concat(rows.rows.flatMap((r) => Object.values(r).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v))))));
    for (const v of values) if (dump.includes(Buffer.from(v))) found.push(`${t.name}: ${v}`);
  }
  return found;
}
