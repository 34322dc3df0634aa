import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Api, grantRelease } from '../helpers/client.js';
import { dbQuery } from '../helpers/db.js';
import { KEYLOFT_BIN, REPO_ROOT, storeEnv, type TestStore } from '../helpers/server.js';

/** Where each security test writes its figures; `node scripts/security-figures.mjs` turns them into the table of docs/SECURITY.md. */
export const FIGURES_DIR = join(REPO_ROOT, 'dist', 'security-figures');

/** Counts, per attack class, the cases tried and those refused correctly. */
/** The raw-SQL helper lives in helpers/db.ts (one for every suite). */
export { dbQuery };

export class Tally {
  readonly classes = new Map<string, { tried: number; refused: number; failures: string[] }>();
  private parent: Tally | undefined;

  /**
   * A tally of one test's own: its `failures()` are that test's alone (a failure never shows up in
   * another test), while its cases also count in this one, which writes the file's figures.
   */
  forTest(): Tally {
    const t = new Tally();
    t.parent = this;
    return t;
  }

  /** Records one case; returns `refused` so callers can assert on it. */
  case(attackClass: string, refused: boolean, label: string): boolean {
    let c = this.classes.get(attackClass);
    if (!c) {
      c = { tried: 0, refused: 0, failures: [] };
      this.classes.set(attackClass, c);
    }
    c.tried++;
    if (refused) c.refused++;
    else c.failures.push(label);
    this.parent?.case(attackClass, refused, label);
    return refused;
  }

  failures(): string[] {
    return [...this.classes.entries()].flatMap(([k, v]) => v.failures.map((f) => `${k}: ${f}`));
  }

  /** Writes `<file>.json` under FIGURES_DIR. */
  write(file: string, extra: Record<string, unknown> = {}): void {
    writeFigures(file, { classes: Object.fromEntries([...this.classes.entries()].map(([k, v]) => [k, { tried: v.tried, refused: v.refused }])), ...extra });
  }
}

export function writeFigures(file: string, data: Record<string, unknown>): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const path = join(FIGURES_DIR, `${file}.json`);
  const prev = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(path, JSON.stringify({ ...prev, ...data, at: new Date().toISOString() }, null, 2));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `keyloft <args>` on a store (same configuration as the server); optionally SIGKILLs it after `killAfterMs`. */
export function runCli(
  store: TestStore,
  args: string[],
  opts: { env?: Record<string, string | undefined>; killAfterMs?: number; stdin?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env: storeEnv(store, opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.stdin ?? '');
    const timer = opts.killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs) : undefined;
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts a deployment as the (bootstrap) admin, who is given the project's release grant first, and fetches its secrets with the deploy token. */
export async function deployAndRelease(api: Api, slug: string, environment: 'production' | 'preview' = 'production', pr?: number) {
  await grantRelease(api, slug);
  const d = await api.post(`/api/v1/projects/${slug}/deployments`, { environment, ...(pr ? { pr } : {}) });
  if (d.status !== 201) throw new Error(`deployment start failed: ${d.status} ${d.text}`);
  const r = await api.with(d.body.token).get(`/api/v1/deployments/${d.body.id}/secrets`);
  return { deployment: d.body, release: r };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A request whose path is sent byte for byte (fetch would resolve `..` and `%2e%2e` before sending). */
export function rawHttp(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<{ status: number; text: string; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const u = new URL(baseUrl);
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const req = httpRequest({ host: u.hostname, port: u.port, path, method, headers: h }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Which of `values` appear in plaintext in the store's SQLite files (database and WAL). PostgreSQL: in any text or bytea cell. */
export async function valuesInDatabase(store: TestStore, values: readonly string[]): Promise<string[]> {
  if (store.databaseUrl) {
    const found: string[] = [];
    for (const t of ['secret_versions', 'audit_events', 'secrets', 'settings', 'project_keys', 'deployments', 'deployment_pins', 'pending_imports']) {
      const rows = await dbQuery<Record<string, unknown>>(store, `select * from ${t}`);
      const dump = Buffer.concat(rows.flatMap((r) => Object.values(r).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v))))));
      for (const v of values) if (dump.includes(Buffer.from(v))) found.push(`${t}: ${v}`);
    }
    return found;
  }
  const files = ['keyloft.db', 'keyloft.db-wal'].map((f) => join(store.dataDir, f)).filter((f) => existsSync(f));
  const dump = Buffer.concat(files.map((f) => readFileSync(f)));
  return values.filter((v) => dump.includes(Buffer.from(v)));
}

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minLength?: number;
  minimum?: number;
  items?: Schema;
};

/** A minimal valid JSON value for an OpenAPI schema (the fallback body of routes the tests do not know yet). */
export function exampleOf(s: Schema | undefined, key = ''): unknown {
  if (!s) return {};
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.anyOf ?? s.oneOf) return exampleOf((s.anyOf ?? s.oneOf)![0], key);
  if (s.allOf) return Object.assign({}, ...s.allOf.map((x) => exampleOf(x, key) as object));
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const k of s.required ?? []) out[k] = exampleOf(s.properties?.[k], k);
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return false;
    case 'string':
      if (/email/i.test(key)) return 'someone@example.com';
      if (/password/i.test(key)) return 'a long enough password';
      return 'x'.repeat(Math.max(1, s.minLength ?? 1));
    default:
      return {};
  }
}

/** The JSON request body schema of an operation in the OpenAPI document, if any. */
export function requestSchema(doc: { paths: Record<string, Record<string, unknown>> }, template: string, method: string): Schema | undefined {
  const op = doc.paths[template]?.[method.toLowerCase()] as { requestBody?: { content?: Record<string, { schema?: Schema }> } } | undefined;
  return op?.requestBody?.content?.['application/json']?.schema;
}

/**
 * Stops a server gracefully, or with SIGKILL when it does not exit within `ms` (a process whose
 * main thread is blocked never runs its SIGTERM handler).
 */
export async function stopOrKill(server: { stop(signal?: NodeJS.Signals): Promise<number | null> } | undefined, ms = 10_000): Promise<void> {
  if (!server) return;
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
  if ((await Promise.race([server.stop(), timer])) === 'timeout') await server.stop('SIGKILL');
}

/**
 * The dashboard's page routes. Pages are kept out of /api/openapi.json, so the sweeps that are
 * generated from it add these (from src/http/web/routes/*.tsx); a new page form belongs here.
 */
export const WEB_ROUTES: Record<string, string[]> = {
  '/login': ['post'],
  '/logout': ['post'],
  '/projects/new': ['post'],
  '/account/tokens': ['post'],
  '/account/tokens/{id}/revoke': ['get', 'post'],
  '/account': ['get'],
  '/account/password': ['post'],
  '/account/sessions/{id}/revoke': ['post'],
  '/users': ['get'],
  '/users/{id}/unlock': ['post'],
  '/users/{id}/disable': ['post'],
  '/users/{id}/enable': ['post'],
  '/users/{id}/make-admin': ['post'],
  '/users/{id}/unmake-admin': ['post'],
  '/users/{id}/password-reset': ['post'],
  '/reset-password': ['get', 'post'],
  '/projects/{slug}': ['get'],
  '/projects/{slug}/deployments': ['get'],
  '/projects/{slug}/deployments/{id}': ['get'],
  '/projects/{slug}/settings': ['get'],
  '/projects/{slug}/settings/general': ['get', 'post'],
  '/projects/{slug}/settings/delete': ['post'],
  '/projects/{slug}/settings/copy': ['post'],
  '/projects/{slug}/settings/audit': ['get'],
  '/projects/{slug}/settings/members': ['get', 'post'],
  '/projects/{slug}/settings/members/role': ['post'],
  '/projects/{slug}/settings/members/remove': ['get', 'post'],
  '/projects/{slug}/settings/invitations': ['post'],
  '/projects/{slug}/settings/invitations/{id}/revoke': ['post'],
  '/invitations/{token}': ['get', 'post'],
  '/projects/{slug}/settings/deploy-keys': ['post'],
  '/projects/{slug}/settings/deploy-keys/{id}/revoke': ['get', 'post'],
  '/projects/{slug}/settings/ci-identity': ['get', 'post'],
  '/projects/{slug}/settings/ci-identity/{id}/delete': ['get', 'post'],
  '/projects/{slug}/settings/secrets': ['get', 'post'],
  '/projects/{slug}/settings/secrets/import': ['post'],
  '/projects/{slug}/settings/secrets/delete': ['get', 'post'],
  '/projects/{slug}/settings/build': ['get', 'post'],
  '/projects/{slug}/settings/build/import': ['post'],
  '/projects/{slug}/settings/build/delete': ['get', 'post'],
  '/projects/{slug}/settings/history/{scope}/{name}': ['get'],
  '/projects/{slug}/settings/history/{scope}/{name}/restore': ['post'],
};

/** The OpenAPI paths plus the page routes, as `{ template: { method: {} } }`. */
export function withWebRoutes(paths: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = { ...paths };
  for (const [t, methods] of Object.entries(WEB_ROUTES)) if (!out[t]) out[t] = Object.fromEntries(methods.map((m) => [m, {}]));
  return out;
}
