import assert from 'node:assert/strict';
import { valueDigest } from '../../src/crypto/digest.js';
import { Api, bootstrap } from '../helpers/client.js';
import { createStore, type DialectName, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease, sleep, writeFigures } from './support.js';

/**
 * Crash safety: a stream of upserts, imports and deletions from several clients, the server
 * killed with SIGKILL at a random point, restarted, again and again. Afterwards every
 * acknowledged write must be present (its version row, with the digest of the value sent) and the
 * current values readable by a deployment; nothing half-present (a current pointer without its
 * version, a version without its audit event, a gap); SQLite passes PRAGMA integrity_check.
 * KEYLOFT_CRASH_KILLS sets the number of kills (default 50 per engine).
 */
export const KILLS = Number(process.env.KEYLOFT_CRASH_KILLS ?? 50);
const CLIENTS = 4;
const NAMES_PER_CLIENT = 4;
const SLUG = 'crash';

type State = { deleted: true } | { deleted: false; value: string };
interface Ack {
  kind: 'set' | 'import' | 'delete';
  name: string;
  value?: string;
  version?: number;
}

/** startServer, tried again once: a start-up can exceed the helper's 20 s on a saturated machine. */
async function start(store: TestStore): Promise<TestServer> {
  try {
    return await startServer(store);
  } catch {
    return startServer(store);
  }
}

export async function crashSuite(dialect: DialectName): Promise<void> {
  const store: TestStore = await createStore(dialect);
  let server: TestServer | undefined;
  const acks: Ack[] = [];
  /** Per name: the last acknowledged state, and the state of an operation in flight at a kill (it may or may not have committed). */
  const lastAcked = new Map<string, State>();
  const maybe = new Map<string, State[]>();
  let kills = 0;
  let token: string | undefined;
  let seq = 0;
  let failedRequests = 0;
  try {
    // A standby server starts on the same store while the current one takes the stream, so a
    // cycle costs one start-up, not a start-up plus the stream (SQLite WAL and PostgreSQL both
    // allow several processes; the killed one is the only writer at the kill).
    let standby: Promise<TestServer> = start(store);
    for (let cycle = 0; cycle <= KILLS; cycle++) {
      server = await standby;
      let api: Api;
      if (cycle === 0) {
        api = await bootstrap(server);
        token = api.token!;
        assert.equal((await api.post('/api/v1/projects', { slug: SLUG, name: 'crash' })).status, 201);
      } else {
        api = new Api(server.url, token);
      }
      if (cycle === KILLS) break; // the last start only verifies
      standby = start(store);
      let stop = false;
      const client = async (c: number) => {
        const names = Array.from({ length: NAMES_PER_CLIENT }, (_, i) => `C${c}_K${i}`);
        while (!stop) {
          const roll = Math.random();
          const n = seq++;
          try {
            if (roll < 0.6) {
              const name = names[n % names.length]!;
              const value = `v-${name}-${cycle}-${n}`;
              maybe.set(name, [...(maybe.get(name) ?? []), { deleted: false, value }]);
              const r = await api.put(`/api/v1/projects/${SLUG}/secrets/production/${name}`, { value });
              if (r.status === 200 || r.status === 201) {
                acks.push({ kind: 'set', name, value, version: r.body.secret.version });
                lastAcked.set(name, { deleted: false, value });
                maybe.delete(name);
              }
            } else if (roll < 0.85) {
              const chosen = names.filter(() => Math.random() < 0.6);
              if (chosen.length === 0) continue;
              const map = Object.fromEntries(chosen.map((name) => [name, `i-${name}-${cycle}-${n}`]));
              for (const name of chosen) maybe.set(name, [...(maybe.get(name) ?? []), { deleted: false, value: map[name]! }]);
              const r = await api.post(`/api/v1/projects/${SLUG}/secrets/production:import`, { secrets: map });
              if (r.status === 200) {
                for (const name of chosen) {
                  acks.push({ kind: 'import', name, value: map[name]! });
                  lastAcked.set(name, { deleted: false, value: map[name]! });
                  maybe.delete(name);
                }
              }
            } else {
              const name = names[Math.floor(Math.random() * names.length)]!;
              const cur = lastAcked.get(name);
              if (!cur || cur.deleted || maybe.has(name)) continue;
              maybe.set(name, [{ deleted: true }]);
              const r = await api.delete(`/api/v1/projects/${SLUG}/secrets/production/${name}`);
              if (r.status === 200) {
                acks.push({ kind: 'delete', name });
                lastAcked.set(name, { deleted: true });
                maybe.delete(name);
              }
            }
          } catch {
            // the server died under this request: its outcome stays in `maybe`
            failedRequests++;
            return;
          }
        }
      };
      const running = Array.from({ length: CLIENTS }, (_, c) => client(c));
      // kill at a random point once the stream has run a little and the standby is up
      await Promise.all([sleep(150 + Math.floor(Math.random() * 400)), standby.catch(() => {})]);
      await sleep(Math.floor(Math.random() * 100));
      await server.stop('SIGKILL');
      kills++;
      stop = true;
      await Promise.all(running);
    }
    assert.ok(server);
    const api = new Api(server.url, token);
    const project = (await dbQuery<{ id: string; digest_key: Buffer }>(store, 'select id, digest_key from projects where slug = $1', [SLUG]))[0]!;
    const dk = new Uint8Array(project.digest_key);
    const versions = await dbQuery<{ name: string; version: number; kind: string; digest: string | null; current_version: number; deleted: number }>(
      store,
      `select s.name, v.version, v.kind, v.digest, s.current_version, s.deleted from secret_versions v join secrets s on s.id = v.secret_id where s.project_id = $1 order by s.name, v.version`,
      [project.id],
    );
    const byName = new Map<string, typeof versions>();
    for (const v of versions) byName.set(v.name, [...(byName.get(v.name) ?? []), v]);
    // 1. every acknowledged write is present, with the digest of the value that was sent
    let lost = 0;
    for (const a of acks) {
      const rows = byName.get(a.name) ?? [];
      const present =
        a.kind === 'delete'
          ? rows.some((r) => r.kind === 'delete')
          : a.version !== undefined
            ? rows.some((r) => Number(r.version) === a.version && r.digest === valueDigest(dk, Buffer.from(a.value!)))
            : rows.some((r) => r.digest === valueDigest(dk, Buffer.from(a.value!)));
      if (!present) lost++;
    }
    // 2. nothing half-present: pointers, contiguous versions, one audit event per version
    const secrets = await dbQuery<{ name: string; current_version: number; n: number; maxv: number }>(
      store,
      `select s.name, s.current_version, count(v.version) as n, max(v.version) as maxv from secrets s left join secret_versions v on v.secret_id = s.id where s.project_id = $1 group by s.name, s.current_version`,
      [project.id],
    );
    for (const s of secrets) {
      assert.equal(Number(s.maxv), Number(s.current_version), `${s.name}: the current pointer names the newest version`);
      assert.equal(Number(s.n), Number(s.current_version), `${s.name}: versions 1..current without a gap`);
    }
    const audit = await dbQuery<{ name: string; version: number; n: number }>(
      store,
      `select name, version, count(*) as n from audit_events where project_id = $1 and action in ('secret.created', 'secret.updated', 'secret.deleted') group by name, version`,
      [project.id],
    );
    const auditOf = new Map(audit.map((a) => [`${a.name}#${Number(a.version)}`, Number(a.n)]));
    for (const v of versions) assert.equal(auditOf.get(`${v.name}#${Number(v.version)}`), 1, `${v.name} v${v.version} has exactly one audit event`);
    assert.equal(audit.length, versions.length, 'no audit event without its version');
    // 3. the current values are readable by a deployment and are the acknowledged ones (or the one in flight at a kill)
    const { release } = await deployAndRelease(api, SLUG);
    assert.equal(release.status, 200, release.text);
    const names = new Set([...lastAcked.keys(), ...maybe.keys()]);
    let readable = 0;
    for (const name of names) {
      const allowed = [lastAcked.get(name) ?? ({ deleted: true } as State), ...(maybe.get(name) ?? [])];
      const got = release.body.runtime[name] as string | undefined;
      const ok = allowed.some((s) => (s.deleted ? got === undefined : got === s.value));
      assert.ok(ok, `${name}: released ${JSON.stringify(got)}, expected one of ${JSON.stringify(allowed)}`);
      if (got !== undefined) readable++;
    }
    if (dialect === 'sqlite') {
      await server.stop();
      const r = await dbQuery<{ integrity_check: string }>(store, 'pragma integrity_check');
      assert.equal(r[0]!.integrity_check, 'ok');
    }
    assert.equal(lost, 0, `${lost} acknowledged writes lost`);
    writeFigures(`crash-${dialect}`, {
      kills,
      acknowledgedWrites: acks.length,
      lost,
      versions: versions.length,
      valuesReleased: readable,
      requestsCutByKills: failedRequests,
      integrityCheck: dialect === 'sqlite' ? 'ok' : 'n/a',
    });
  } finally {
    await server?.stop('SIGKILL').catch(() => {});
    await store.cleanup();
  }
}
