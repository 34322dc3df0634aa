import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect } from 'node:net';
import pg from 'pg';
import { valueDigest } from '../../src/crypto/digest.js';
import type { Api } from '../helpers/client.js';
import { PG_ADMIN_URL, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease } from '../security/support.js';

/**
 * A TCP proxy on 127.0.0.1 that a test owns, between keyloft and PostgreSQL: `stop()` is the
 * database going away (listener closed, every connection cut), `start()` its return on the same
 * port. To keyloft that is exactly a restart or a failover; the machine's PostgreSQL is untouched.
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** For a postgres:// URL: a proxy to its host and port. */
  static forUrl(url: string): TcpProxy {
    const u = new URL(url);
    return new TcpProxy(u.hostname, Number(u.port || 5432));
  }

  /** Listens (on the port it had before, after a stop). */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
  }

  /** Cuts every connection (as a crashed server would) and stops listening (connections are refused). */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** `url` with its host and port replaced by this proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }
}

/** Ends every session on one database (the test's own, never another's): what a failover does to a pool. */
export async function terminateBackends(database: string): Promise<number> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    const r = await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
    return r.rowCount ?? 0;
  } finally {
    await c.end();
  }
}

/** The database name of a postgres:// URL. */
export const databaseName = (url: string): string => new URL(url).pathname.slice(1);

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Writers that upsert secrets in a loop and remember what was acknowledged (2xx) and what may or
 * may not have been saved (any other answer, or none), with every status seen.
 */
export class WriteLoad {
  readonly acked = new Map<string, { value: string; version: number }[]>();
  readonly maybe = new Map<string, string[]>();
  readonly statuses = new Map<string, number>();
  readonly failures: string[] = [];
  #stop = false;
  #running: Promise<void>[] = [];
  #seq = 0;

  constructor(
    readonly api: Api,
    readonly slug: string,
    readonly clients = 4,
  ) {}

  get requests(): number {
    return [...this.statuses.values()].reduce((a, b) => a + b, 0);
  }

  get acknowledged(): number {
    return [...this.acked.values()].reduce((a, b) => a + b.length, 0);
  }

  start(): void {
    this.#running = Array.from({ length: this.clients }, (_, c) => this.#client(c));
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#running);
  }

  async #client(c: number): Promise<void> {
    while (!this.#stop) {
      const status = await this.put(`W${c}_${this.#seq % 3}`, `load-${c}-${this.#seq++}`);
      if (status === 0) await sleep(50);
    }
  }

  /** One upsert, recorded; returns the status (0: no answer). */
  async put(name: string, value: string): Promise<number> {
    let key: string;
    let status = 0;
    try {
      const r = await this.api.put(`/api/v1/projects/${this.slug}/secrets/production/${name}`, { value });
      status = r.status;
      key = r.status >= 500 ? `${r.status} ${r.body?.error?.code ?? 'no-json'}` : String(r.status);
      if (r.status === 200 || r.status === 201) {
        this.acked.set(name, [...(this.acked.get(name) ?? []), { value, version: r.body.secret.version }]);
      } else {
        this.maybe.set(name, [...(this.maybe.get(name) ?? []), value]);
        if (r.status >= 500 && r.body?.error?.code !== 'storage_unavailable' && r.body?.error?.code !== 'storage_full')
          this.failures.push(`${r.status} ${r.text.slice(0, 300)}`);
      }
    } catch (err) {
      key = 'no answer';
      this.maybe.set(name, [...(this.maybe.get(name) ?? []), value]);
      this.failures.push(`no answer: ${String(err)}`);
    }
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
    return status;
  }

  /**
   * Checks the store after the load: every acknowledged write is there (version and digest of the
   * value sent), no secret half-written (pointer = newest version, versions without a gap, one audit
   * event each), and a new deployment releases the last acknowledged value (or one sent later).
   * Returns the number of acknowledged writes lost (asserted 0 by the caller).
   */
  async verify(store: TestStore, api: Api): Promise<{ lost: number }> {
    const project = (await dbQuery<{ id: string; digest_key: Buffer }>(store, 'select id, digest_key from projects where slug = $1', [this.slug]))[0]!;
    const dk = new Uint8Array(project.digest_key);
    const rows = await dbQuery<{ name: string; version: number; digest: string | null }>(
      store,
      'select s.name, v.version, v.digest from secret_versions v join secrets s on s.id = v.secret_id where s.project_id = $1',
      [project.id],
    );
    const have = new Set(rows.map((r) => `${r.name}#${Number(r.version)}#${r.digest}`));
    let lost = 0;
    for (const [name, list] of this.acked) for (const a of list) if (!have.has(`${name}#${a.version}#${valueDigest(dk, Buffer.from(a.value))}`)) lost++;
    const secrets = await dbQuery<{ name: string; current_version: number; n: number; maxv: number }>(
      store,
      'select s.name, s.current_version, count(v.version) as n, max(v.version) as maxv from secrets s left join secret_versions v on v.secret_id = s.id where s.project_id = $1 group by s.name, s.current_version',
      [project.id],
    );
    for (const s of secrets) {
      assert.equal(Number(s.maxv), Number(s.current_version), `${s.name}: the current pointer names the newest version`);
      assert.equal(Number(s.n), Number(s.current_version), `${s.name}: versions 1..current without a gap`);
    }
    const audit = await dbQuery<{ n: number }>(
      store,
      "select count(*) as n from audit_events where project_id = $1 and action in ('secret.created', 'secret.updated')",
      [project.id],
    );
    assert.equal(Number(audit[0]!.n), rows.length, 'one audit event per version, none without its version');
    const { release } = await deployAndRelease(api, this.slug);
    assert.equal(release.status, 200, release.text);
    for (const [name, list] of this.acked) {
      const last = list.reduce((a, b) => (b.version > a.version ? b : a));
      const got = release.body.runtime[name] as string;
      const later = (this.maybe.get(name) ?? []).concat(list.filter((a) => a.version > last.version).map((a) => a.value));
      assert.ok(got === last.value || later.includes(got), `${name}: released a value that was neither acknowledged last nor sent later`);
    }
    return { lost };
  }
}

/** Status of GET /readyz (0 when the server does not answer). */
export async function readyz(baseUrl: string): Promise<number> {
  try {
    const r = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(15_000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}
