import { readFileSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { join } from 'node:path';
import { valueDigest } from '../src/crypto/digest.js';
import type { DataKey } from '../src/crypto/fast.js';
import { Keyring, masterKeyFromPrivate, type ValueOpener } from '../src/crypto/keyring.js';
import type { SealingKey } from '../src/crypto/seal.js';
import { sealValue, valueSealingKey } from '../src/crypto/sealing.js';
import { newId } from '../src/crypto/tokens.js';
import { insertAuditEvents } from '../src/store/audit.repository.js';
import { type Database, openDatabase } from '../src/store/db.js';
import { insertDeployment, pinCurrentVersions, pinNames, pinnedCiphertexts } from '../src/store/deployments.repository.js';
import { activeProjectKey, findProjectBySlug, projectKeysByIds } from '../src/store/projects.repository.js';
import { advanceSecret, findSecret, insertSecret, insertVersions, listSecretMetadata } from '../src/store/secrets.repository.js';

/**
 * The floor: the same work as a workload, done in-process with no HTTP, no authentication and no
 * authorisation — rows read straight from the database with the store repositories, values opened
 * with the same keys (the master key file of the server's data directory), writes sealed with
 * src/crypto/sealing.ts and committed in one transaction with their audit event.
 */
export class Floor {
  private constructor(
    readonly database: Database,
    readonly keyring: Keyring,
  ) {}

  static async open(databaseUrl: string, dataDir: string): Promise<Floor> {
    const database = openDatabase(databaseUrl);
    const raw = Buffer.from(readFileSync(join(dataDir, 'master.key'), 'utf8').trim(), 'base64');
    const keyring = await Keyring.create([masterKeyFromPrivate(new Uint8Array(raw))]);
    raw.fill(0);
    return new Floor(database, keyring);
  }

  get db() {
    return this.database.db;
  }

  async project(slug: string): Promise<{ id: string; digestKey: Uint8Array }> {
    const p = await findProjectBySlug(this.db, slug);
    if (!p) throw new Error(`no project ${slug}`);
    return { id: p.id, digestKey: new Uint8Array(p.digest_key) };
  }

  readonly #sealers = new Map<string, { keyId: string; sealer: SealingKey }>();
  async sealer(projectId: string, scope: string): Promise<{ keyId: string; sealer: SealingKey }> {
    const k = `${projectId}/${scope}`;
    let s = this.#sealers.get(k);
    if (!s) {
      const row = await activeProjectKey(this.db, projectId, scope);
      if (!row) throw new Error('no key');
      s = { keyId: row.id, sealer: await valueSealingKey(new Uint8Array(row.public_key)) };
      this.#sealers.set(k, s);
    }
    return s;
  }

  /** W1 floor: seal, digest, and commit a new secret + version + audit event. */
  async create(p: { id: string; digestKey: Uint8Array }, scope: string, name: string, value: string): Promise<void> {
    const { keyId, sealer } = await this.sealer(p.id, scope);
    const bytes = new TextEncoder().encode(value);
    const now = Date.now();
    const id = newId('sec');
    const ciphertext = await sealValue(sealer, p.id, scope, name, 1, bytes);
    const digest = valueDigest(p.digestKey, bytes);
    await this.db.transaction().execute(async (trx) => {
      await insertSecret(trx, { id, project_id: p.id, scope, name, current_version: 1, deleted: 0, created_at: now, updated_at: now, updated_by: 'bench' });
      await insertVersions(trx, [
        { secret_id: id, version: 1, kind: 'set', ciphertext, key_id: keyId, digest, size: bytes.length, created_at: now, created_by: 'bench' },
      ]);
      await insertAuditEvents(trx, [{ at: now, projectId: p.id, actor: 'bench', actorIp: null, action: 'secret.created', scope, name, version: 1 }]);
    });
  }

  /** W3 floor: seal and commit the next version of an existing secret (+ audit event). */
  async overwrite(p: { id: string; digestKey: Uint8Array }, scope: string, name: string, value: string): Promise<void> {
    const s = await findSecret(this.db, p.id, scope, name);
    if (!s) throw new Error('no secret');
    const { keyId, sealer } = await this.sealer(p.id, scope);
    const bytes = new TextEncoder().encode(value);
    const now = Date.now();
    const version = s.current_version + 1;
    const ciphertext = await sealValue(sealer, p.id, scope, name, version, bytes);
    const digest = valueDigest(p.digestKey, bytes);
    await this.db.transaction().execute(async (trx) => {
      if (!(await advanceSecret(trx, s.id, s.current_version, { deleted: 0, updated_at: now, updated_by: 'bench' }))) throw new Error('raced');
      await insertVersions(trx, [
        { secret_id: s.id, version, kind: 'set', ciphertext, key_id: keyId, digest, size: bytes.length, created_at: now, created_by: 'bench' },
      ]);
      await insertAuditEvents(trx, [{ at: now, projectId: p.id, actor: 'bench', actorIp: null, action: 'secret.updated', scope, name, version }]);
    });
  }

  /**
   * W2 floor, first half: a new deployment row, its pins (the set computed and written by the
   * database, as the server does) read back with their names, and its audit event, in one transaction.
   */
  async start(projectId: string, environment: string): Promise<string> {
    const id = newId('dep');
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      await insertDeployment(trx, {
        id,
        project_id: projectId,
        environment,
        pr: null,
        ref: null,
        status: 'running',
        token_hash: null,
        started_by: 'bench',
        started_by_kind: 'deploy_key',
        started_by_name: 'bench',
        started_by_id: null,
        created_at: now,
        expires_at: now + 60_000,
        completed_at: null,
      });
      await pinCurrentVersions(trx, id, { projectId, scopes: [environment, 'build'], overrideScope: null });
      const pinned = await pinNames(trx, id);
      await insertAuditEvents(trx, [
        { at: now, projectId, actor: 'bench', actorIp: null, action: 'deployment.started', detail: { deployment: id, count: pinned.length } },
      ]);
    });
    return id;
  }

  /** W2' floor: read the pinned ciphertexts, unwrap the scope key once, open every value. */
  async fetch(deploymentId: string): Promise<number> {
    const pins = await pinnedCiphertexts(this.db, deploymentId);
    const keyIds = [...new Set(pins.map((p) => p.key_id!))];
    const openers = new Map<string, ValueOpener>();
    for (const k of await projectKeysByIds(this.db, keyIds)) {
      openers.set(
        k.id,
        await this.keyring.scopeOpener({
          id: k.id,
          projectId: k.project_id,
          scope: k.scope,
          wrappedPrivateKey: new Uint8Array(k.wrapped_private_key),
          masterKeyId: k.master_key_id,
        }),
      );
    }
    const dec = new TextDecoder();
    const opened = await Promise.all(pins.map((p) => openers.get(p.key_id!)!.open(new Uint8Array(p.ciphertext!), p.name, p.version)));
    let n = 0;
    for (const o of opened) n += dec.decode(o).length;
    return n;
  }

  /**
   * W2 AES floor: read the pinned ciphertexts, unwrap each key pair's data key once, open every
   * value's fast form (AES-256-GCM; the server stored them on the first release of each version).
   */
  async fetchFast(deploymentId: string): Promise<number> {
    const pins = await pinnedCiphertexts(this.db, deploymentId);
    const keys = new Map<string, { projectId: string; key: DataKey }>();
    for (const k of await projectKeysByIds(this.db, [...new Set(pins.map((p) => p.key_id!))])) {
      if (!k.wrapped_data_key) throw new Error('no data key: release these versions once first');
      keys.set(k.id, {
        projectId: k.project_id,
        key: await this.keyring.dataKey({
          id: k.id,
          projectId: k.project_id,
          scope: k.scope,
          wrappedDataKey: new Uint8Array(k.wrapped_data_key),
          masterKeyId: k.master_key_id,
        }),
      });
    }
    const dec = new TextDecoder();
    let n = 0;
    for (const p of pins) {
      if (!p.fast_ciphertext) throw new Error('no fast form: release these versions once first');
      const k = keys.get(p.key_id!)!;
      const o = k.key.open(p.fast_ciphertext, k.projectId, p.scope, p.name, p.version, p.key_id!, p.ciphertext!);
      n += dec.decode(o).length;
    }
    return n;
  }

  /** W5 floor: the metadata rows of one scope. */
  async list(projectId: string, scope: string): Promise<number> {
    return (await listSecretMetadata(this.db, projectId, scope)).length;
  }

  /**
   * The flush floor: the cost of making one tiny commit durable on this disk, what every
   * acknowledged write pays at least once. SQLite: a one-row INSERT committed by a connection of
   * its own to a scratch file next to the server's database (same disk), in WAL mode with
   * synchronous=FULL as the server runs it. PostgreSQL: a one-row INSERT committed in the server's
   * database (scratch table), through its own connection. Returns the timing function and a cleanup.
   */
  async flushFloor(dataDir: string): Promise<{ commit: () => Promise<void>; close: () => Promise<void> }> {
    if (this.database.dialect === 'sqlite') {
      const path = join(dataDir, 'flush-floor.db');
      const f = new SQLite(path);
      f.pragma('journal_mode = WAL');
      f.pragma('synchronous = FULL');
      f.exec('create table if not exists t (id integer primary key, v blob not null)');
      const ins = f.prepare('insert into t (v) values (?)');
      const v = Buffer.alloc(32);
      return {
        commit: async () => {
          ins.run(v);
        },
        close: async () => {
          f.close();
        },
      };
    }
    await sql`create table if not exists bench_flush_floor (id bigserial primary key, v bytea not null)`.execute(this.db);
    const v = Buffer.alloc(32);
    return {
      commit: async () => {
        await sql`insert into bench_flush_floor (v) values (${v})`.execute(this.db);
      },
      close: async () => {
        await sql`drop table if exists bench_flush_floor`.execute(this.db);
      },
    };
  }

  close(): Promise<void> {
    return this.database.close();
  }
}
