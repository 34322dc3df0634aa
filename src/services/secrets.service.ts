import type { ImportChange, ImportResult, SecretMeta, VersionMeta } from '../domain/contract.js';
import { parseDotenv } from '../domain/dotenv.js';
import { isoTime } from '../domain/time.js';
import { KeyloftError, NotFoundError, quote, ValidationError } from '../domain/errors.js';
import { isTextValue, keyScope, overridePr, ROLES, type Scope, type StoredScope, storedScope, validateSecretName, valueForScope } from '../domain/rules.js';
import { SHORT_DIGEST_LENGTH, shortDigest, valueDigest } from '../crypto/digest.js';
import { sealValue } from '../crypto/sealing.js';
import { newId } from '../crypto/tokens.js';
import { auditRow, insertAuditEvents, type AuditInput } from '../store/audit.repository.js';
import { isPostgres, isUniqueViolation, type Executor } from '../store/executor.js';
import type { SecretRow } from '../store/schema.js';
import { contextSecret, type PinSource, type SetCheck, secretWriteContext, writeSetPg } from '../store/secret-write.repository.js';
import type { SealingKey } from '../crypto/seal.js';
import {
  advanceSecret,
  findCurrentDigest,
  findSecret,
  findSecretsByNames,
  insertSecret,
  insertVersions,
  listScopeMeta,
  listScopeStamps,
  listSecretMetadata,
  listVersions,
  type NewSecretVersion,
  type ScopeMetaRow,
} from '../store/secrets.repository.js';
import { pinnedInLastSucceeded } from '../store/deployments.repository.js';
import { type Piece, ScopeListCache } from './scope-list-cache.js';
import { pinnedStatus, type SecretStatus } from './status.service.js';
import { authorizeProject, inProjectTx, type Need, reauthorize, reauthorizeWithActiveKey } from './access.js';
import { type Actor, actorLabel, forbiddenRole, projectNotFound, roleAtLeast } from './actor.js';
import type { BaseDeps } from './deps.js';
import type { PublicKeys } from './keys.service.js';
import type { StatusService } from './status.service.js';

export type { ImportChange, SecretMeta, VersionMeta };

/** One secret to write: a validated name and value bytes. */
export interface SecretInput {
  name: string;
  value: Uint8Array;
  /** A restore of this older version (reseal service): the version is of kind 'restore', audited as secret.restored. */
  restoredFrom?: number;
  /** A copy from another scope (reseal service): audited with `via: copy` and the source scope. */
  copiedFrom?: string;
}

class RetryWrite extends Error {}

const MAX_ATTEMPTS = 8;

/** Bytes of production and build list answers kept (ScopeListCache): about 18 lists of 1,000 secrets. */
const LIST_CACHE_BYTES = 4 * 1024 * 1024;

type Deps = BaseDeps & { keys: PublicKeys; status: Pick<StatusService, 'statusFor'> };

/** Prepared (sealed) write of one secret version, built before the transaction. */
interface PreparedWrite {
  name: string;
  existing: SecretRow | undefined;
  version: NewSecretVersion;
  /** A plain set (not a restore or copy): the same value as the current one writes nothing. */
  skipIfSame: boolean;
  /** Set inside the transaction: the current value already was this one, so nothing was written. */
  unchanged?: boolean;
}

export function createSecretsService(deps: Deps) {
  const { db, clock, keys } = deps;
  const listCache = new ScopeListCache(LIST_CACHE_BYTES);
  const listCacheCounts = { same: 0, patched: 0, full: 0 };

  /** Seals values for the versions after the current ones. Runs outside any transaction. */
  async function prepare(
    ex: Executor,
    project: { id: string; digest_key: Uint8Array },
    scope: StoredScope,
    inputs: readonly SecretInput[],
    by: string,
  ): Promise<PreparedWrite[]> {
    const existing = new Map(
      (
        await findSecretsByNames(
          ex,
          project.id,
          scope,
          inputs.map((i) => i.name),
        )
      ).map((s) => [s.name, s]),
    );
    // Cached: writeAll checks the key is still the active one inside its transaction.
    const { keyId, sealer } = await keys.cachedSealerFor(ex, project.id, scope);
    const now = clock();
    return Promise.all(inputs.map((input) => sealOne(project, scope, input, existing.get(input.name), { keyId, sealer }, by, now)));
  }

  /** Seals one input as the version after `cur` (the first version when there is no such secret). */
  async function sealOne(
    project: { id: string; digest_key: Uint8Array },
    scope: StoredScope,
    input: SecretInput,
    cur: SecretRow | undefined,
    key: { keyId: string; sealer: SealingKey },
    by: string,
    now: number,
  ): Promise<PreparedWrite> {
    const version = (cur?.current_version ?? 0) + 1;
    const ciphertext = await sealValue(key.sealer, project.id, scope, input.name, version, input.value);
    return {
      name: input.name,
      existing: cur,
      skipIfSame: input.restoredFrom === undefined && input.copiedFrom === undefined,
      version: {
        secret_id: cur?.id ?? newId('sec'),
        version,
        kind: input.restoredFrom === undefined ? 'set' : 'restore',
        ciphertext,
        key_id: key.keyId,
        digest: valueDigest(project.digest_key, input.value),
        size: input.value.length,
        binary: isTextValue(input.value) ? 0 : 1,
        created_at: now,
        created_by: by,
      },
    };
  }

  /** Moves an existing secret to the prepared version, or inserts the new secret; RetryWrite if another writer got there first. */
  async function writeSecretRow(trx: Executor, projectId: string, scope: StoredScope, w: PreparedWrite): Promise<void> {
    const v = w.version;
    if (w.existing) {
      const ok = await advanceSecret(trx, w.existing.id, w.existing.current_version, { deleted: 0, updated_at: v.created_at, updated_by: v.created_by });
      if (!ok) throw new RetryWrite();
      return;
    }
    try {
      await insertSecret(trx, {
        id: v.secret_id,
        project_id: projectId,
        scope,
        name: w.name,
        current_version: 1,
        deleted: 0,
        created_at: v.created_at,
        updated_at: v.created_at,
        updated_by: v.created_by,
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new RetryWrite();
      throw err;
    }
  }

  /** The audit event of one written version. */
  function auditEventOf(
    w: PreparedWrite,
    input: SecretInput,
    projectId: string,
    scope: StoredScope,
    actor: Actor,
    by: string,
    via: 'set' | 'import',
  ): AuditInput {
    const { restoredFrom, copiedFrom } = input;
    const digest = shortDigest(w.version.digest!);
    return {
      at: w.version.created_at,
      projectId,
      actor: by,
      actorIp: actor.ip,
      action: restoredFrom !== undefined ? 'secret.restored' : w.existing ? 'secret.updated' : 'secret.created',
      scope,
      name: w.name,
      version: w.version.version,
      detail:
        restoredFrom !== undefined
          ? { restored: `restored v${restoredFrom} as v${w.version.version}`, from: restoredFrom, digest }
          : copiedFrom !== undefined
            ? { digest, via: 'copy', from: copiedFrom }
            : { digest, via },
    };
  }

  /** Deletes a live secret: moves it to a tombstone version (compare-and-set, else RetryWrite), with its audit event. */
  async function tombstone(
    trx: Executor,
    s: SecretRow,
    projectId: string,
    scope: StoredScope,
    actor: Actor,
    by: string,
    now: number,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    if (!(await advanceSecret(trx, s.id, s.current_version, { deleted: 1, updated_at: now, updated_by: by }))) throw new RetryWrite();
    const version = s.current_version + 1;
    await insertVersions(trx, [
      { secret_id: s.id, version, kind: 'delete', ciphertext: null, key_id: null, digest: null, size: null, created_at: now, created_by: by },
    ]);
    await insertAuditEvents(trx, [
      { at: now, projectId, actor: by, actorIp: actor.ip, action: 'secret.deleted', scope, name: s.name, version, ...(detail ? { detail } : {}) },
    ]);
  }

  /** After a RetryWrite: waits a jittered backoff and returns (try again), or throws the conflict; other errors are rethrown. */
  async function backoffOrThrow(err: unknown, attempt: number): Promise<void> {
    if (!(err instanceof RetryWrite)) throw err;
    if (attempt >= MAX_ATTEMPTS) throw new KeyloftError('conflict', 'the secret changed concurrently too many times; try again');
    // Jittered backoff: writers racing for one secret would otherwise collide again at once.
    await new Promise((r) => setTimeout(r, Math.random() * 4 * attempt));
  }

  /** Applies prepared writes inside a transaction; throws RetryWrite if another writer got there first. */
  async function apply(trx: Executor, projectId: string, scope: StoredScope, writes: readonly PreparedWrite[]): Promise<void> {
    for (const w of writes) {
      const v = w.version;
      if (w.existing && w.skipIfSame && w.existing.deleted === 0) {
        // Compared by keyed digest inside the transaction, against the version the CAS below expects.
        const cur = await findCurrentDigest(trx, w.existing.id);
        if (!cur || cur.current_version !== w.existing.current_version) throw new RetryWrite();
        if (cur.deleted === 0 && cur.digest === v.digest) {
          w.unchanged = true;
          continue;
        }
      }
      await writeSecretRow(trx, projectId, scope, w);
    }
    const written = writes.filter((w) => !w.unchanged);
    if (written.length > 0)
      await insertVersions(
        trx,
        written.map((w) => w.version),
      );
  }

  /**
   * Seals and writes `inputs` into one scope, all or nothing, with one audit event each.
   * Seals before BEGIN, then checks `need` again inside the transaction: an actor who lost
   * the role meanwhile writes nothing. Retries with fresh seals when a concurrent writer moved a version.
   */
  async function writeAll(
    project: { id: string; slug: string; digest_key: Uint8Array },
    need: Need,
    scope: StoredScope,
    inputs: readonly SecretInput[],
    actor: Actor,
    action: 'secret.set' | 'secret.import',
    extraInTx?: (trx: Executor) => Promise<void>,
  ): Promise<PreparedWrite[]> {
    const by = actorLabel(actor);
    for (let attempt = 1; ; attempt++) {
      const writes = await prepare(db, project, scope, inputs, by);
      try {
        await db.transaction().execute(async (trx) => {
          // The authorization and the sealing key's check in one query: a key pair retired or
          // superseded (a rotation, on this instance or another) since it was cached seals again.
          const now = await reauthorizeWithActiveKey(trx, actor, project, need, keyScope(scope));
          if (writes.some((w) => w.version.key_id !== now.activeKeyId)) {
            keys.forgetActive(project.id, scope);
            throw new RetryWrite();
          }
          await apply(trx, project.id, scope, writes);
          const via = action === 'secret.import' ? 'import' : 'set';
          const events = writes.flatMap((w, i) => (w.unchanged ? [] : [auditEventOf(w, inputs[i]!, project.id, scope, actor, by, via)]));
          if (events.length > 0) await insertAuditEvents(trx, events);
          if (extraInTx) await extraInTx(trx);
        });
        return writes;
      } catch (err) {
        await backoffOrThrow(err, attempt);
      }
    }
  }

  /**
   * One plain set by a person (the PUT route). One query reads the project, the person's role in
   * it, the scope's active key pair, the secret's current version and its pinned version
   * (store/secret-write.repository.ts); the value is sealed to the key pair that query found
   * active; the same value as the current one writes nothing.
   *
   * SQLite: all of it in one transaction (the read first, then three precompiled writes).
   * PostgreSQL: first without a transaction — the read, then one write statement that checks the
   * same authorization and key pair again and writes the secret, its version and its audit event
   * atomically (three round trips with the token's); when that statement writes nothing (a member
   * removed, a role or key pair changed, another writer first) the set runs again in one
   * transaction as on SQLite, which answers with the exact error or retries.
   */
  async function writeOne(
    actor: Extract<Actor, { kind: 'user' }>,
    slug: string,
    scope: StoredScope,
    input: SecretInput,
    need: Need,
    pins: PinSource,
  ): Promise<{ w: PreparedWrite; projectId: string; pinned: number | null }> {
    const by = actorLabel(actor);
    const check: SetCheck = { slug, userId: actor.userId, roles: ROLES.filter((r) => roleAtLeast(r, need.role)), keyScope: keyScope(scope) };
    /** Reads the write's context with `ex`, checks it and seals; `unchanged` set when there is nothing to write. */
    const prepareOn = async (ex: Executor) => {
      const c = await secretWriteContext(ex, slug, actor.userId, check.keyScope, scope, input.name, pins);
      if (!c) throw projectNotFound(slug);
      if (!roleAtLeast(c.role, need.role)) throw forbiddenRole(need.role, need.action);
      if (c.key_id === null || c.key_public === null) throw new Error(`project ${c.id} has no ${scope} key`);
      const key = { keyId: c.key_id, sealer: await keys.sealerForKey(c.key_id, c.key_public) };
      const w = await sealOne(c, scope, input, contextSecret(c, c.id, scope, input.name), key, by, clock());
      if (w.existing && w.existing.deleted === 0 && c.v_digest === w.version.digest) w.unchanged = true;
      return { w, projectId: c.id, pinned: c.pinned_version };
    };
    /** PostgreSQL: the checked one-statement write; false when it wrote nothing. */
    const writePg = async (ex: Executor, r: { w: PreparedWrite; projectId: string }) => {
      const event = auditRow(auditEventOf(r.w, input, r.projectId, scope, actor, by, 'set'));
      try {
        return await writeSetPg(ex, r.projectId, scope, r.w.existing?.current_version, r.w.version, event, check);
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    };
    const pg = isPostgres(db);
    if (pg) {
      const r = await prepareOn(db);
      if (r.w.unchanged || (await writePg(db, r))) return r;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(async (trx) => {
          const r = await prepareOn(trx);
          if (r.w.unchanged) return r;
          if (pg) {
            if (!(await writePg(trx, r))) throw new RetryWrite();
          } else {
            await writeSecretRow(trx, r.projectId, scope, r.w);
            await insertVersions(trx, [r.w.version]);
            await insertAuditEvents(trx, [auditEventOf(r.w, input, r.projectId, scope, actor, by, 'set')]);
          }
          return r;
        });
      } catch (err) {
        await backoffOrThrow(err, attempt);
      }
    }
  }

  /**
   * One secret's metadata. Its properties are in the order of the SecretMeta schema: the list
   * route serializes it with JSON.stringify, which then writes what the schema's serializer would.
   */
  function metaOf(r: Awaited<ReturnType<typeof listSecretMetadata>>[number], st: SecretStatus): SecretMeta {
    const pr = r.scope === 'production' || r.scope === 'build' ? null : overridePr(r.scope);
    const m: SecretMeta = {
      name: r.name,
      scope: pr !== null ? 'preview' : (r.scope as Scope),
      version: r.current_version,
      digest: r.digest ? shortDigest(r.digest) : null,
      size: r.size,
      updatedAt: isoTime(r.updated_at),
      updatedBy: r.updated_by,
      deleted: r.deleted === 1,
      status: st.status,
    };
    if (st.applied) m.applied = st.applied;
    if (pr !== null) m.pr = pr;
    if (r.binary === 1 && r.deleted === 0) m.binary = true;
    return m;
  }

  /** One secret of a production or build list (listScopeMeta), its properties in the SecretMeta schema's order. */
  function scopeMetaOf(scope: 'production' | 'build', r: ScopeMetaRow, status: SecretStatus['status']): SecretMeta {
    const m: SecretMeta = {
      name: r.name,
      scope,
      version: r.current_version,
      digest: r.digest,
      size: r.size,
      updatedAt: isoTime(r.updated_at),
      updatedBy: r.updated_by,
      deleted: r.deleted === 1,
      status,
    };
    if (r.binary === 1 && r.deleted === 0) m.binary = true;
    return m;
  }

  /** One secret's piece of a production or build list answer (ScopeListCache): its JSON object, or null when it is not listed. */
  function scopePiece(scope: 'production' | 'build', r: ScopeMetaRow): Piece {
    const st = pinnedStatus(r, r.pinned_version ?? undefined);
    return st ? JSON.stringify(scopeMetaOf(scope, r, st.status)) : null;
  }

  async function toMeta(projectId: string, rows: Awaited<ReturnType<typeof listSecretMetadata>>): Promise<SecretMeta[]> {
    const statuses = await deps.status.statusFor(db, projectId, rows);
    const out: SecretMeta[] = [];
    for (const r of rows) {
      const st = statuses.get(r.id);
      if (!st) continue; // a deleted secret no deployment still has: gone from the list
      out.push(metaOf(r, st));
    }
    return out;
  }

  return {
    /** Metadata list of a project's secrets (one scope or all); a viewer may read it. */
    async list(actor: Actor, slug: string, scope?: Scope): Promise<SecretMeta[]> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'listing secrets');
      if (scope === 'production' || scope === 'build') {
        const out: SecretMeta[] = [];
        for (const r of await listScopeMeta(db, p.id, scope, SHORT_DIGEST_LENGTH)) {
          const st = pinnedStatus(r, r.pinned_version ?? undefined);
          if (st) out.push(scopeMetaOf(scope, r, st.status));
        }
        return out;
      }
      // Preview lists its per-PR overrides (scope preview, with pr) too.
      const rows =
        scope === 'preview'
          ? (await listSecretMetadata(db, p.id)).filter((r) => r.scope === 'preview' || overridePr(r.scope) !== null)
          : await listSecretMetadata(db, p.id, scope);
      return toMeta(p.id, rows);
    },

    /**
     * `list` of the production or build scope as the API answers it: the UTF-8 JSON text of
     * `{ secrets }`, what JSON.stringify writes of `list`'s objects (whose properties are in the
     * SecretMeta schema's order, so it is also what the schema's serializer writes). The last
     * answer of each scope is kept and served again while a read of the scope's versions, update
     * times and statuses says it is still the same (ScopeListCache; issue 18 §4). When only a
     * few secrets changed (or came or went) and the last succeeded deployment is the same, only
     * those are read again and joined with the kept pieces of the others, in the stamps' order.
     */
    async listScopeBody(actor: Actor, slug: string, scope: 'production' | 'build'): Promise<Buffer> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'listing secrets');
      const key = `${p.id}/${scope}`;
      const stamps = await listScopeStamps(db, p.id, scope);
      const plan = listCache.plan(key, stamps);
      if (plan.kind === 'same') {
        listCacheCounts.same++;
        return plan.body;
      }
      if (plan.kind === 'patch') {
        const fresh = new Map<string, { row: ScopeMetaRow; piece: Piece }>();
        for (const r of await listScopeMeta(db, p.id, scope, SHORT_DIGEST_LENGTH, plan.ids)) fresh.set(r.id, { row: r, piece: scopePiece(scope, r) });
        const body = listCache.patch(key, stamps, fresh);
        if (body) {
          listCacheCounts.patched++;
          return body;
        }
      }
      listCacheCounts.full++;
      const rows = await listScopeMeta(db, p.id, scope, SHORT_DIGEST_LENGTH);
      return listCache.build(
        key,
        rows,
        rows.map((r) => scopePiece(scope, r)),
      );
    },

    /** How listScopeBody's answers were made since the service started: kept, patched, built whole (for tests). */
    listCacheCounts(): { same: number; patched: number; full: number } {
      return { ...listCacheCounts };
    },

    /**
     * Adds or overwrites one secret (a new version). The same value as the current one writes
     * nothing (no version, no audit event): `unchanged` is then true and the metadata is the current version's.
     */
    async upsert(
      actor: Actor,
      slug: string,
      scopeIn: Scope,
      name: string,
      input: { value?: string; valueBase64?: string },
      pr?: number | string,
    ): Promise<{ secret: SecretMeta; created: boolean; unchanged: boolean }> {
      validateSecretName(name, 'name');
      const scope = storedScope(scopeIn, pr);
      const value = valueForScope(scopeIn, input);
      const need: Need = { role: 'member', action: 'writing secrets' };
      // Production and build: the status from the version the last succeeded deployment pinned, read in the write's first query.
      const pins: PinSource = scope === 'production' ? 'production' : scope === 'build' ? 'any' : 'none';
      let w: PreparedWrite;
      let projectId: string;
      let pinned: number | null = null;
      if (actor.kind === 'user') {
        ({ w, projectId, pinned } = await writeOne(actor, slug, scope, { name, value }, need, pins));
      } else {
        const p = await authorizeProject(db, actor, slug, need.role, need.action);
        [w] = (await writeAll(p, need, scope, [{ name, value }], actor, 'secret.set')) as [PreparedWrite];
        projectId = p.id;
        if (pins !== 'none') pinned = (await pinnedInLastSucceeded(db, p.id, pins, w.version.secret_id)) ?? null;
      }
      // Describe the version this call wrote (or found current), not a re-read: a concurrent writer may already have added the next one.
      const e = w.unchanged ? w.existing! : undefined;
      const v = w.version;
      const row = {
        id: v.secret_id,
        scope,
        name,
        current_version: e ? e.current_version : v.version,
        deleted: 0,
        updated_at: e ? e.updated_at : v.created_at,
        updated_by: e ? e.updated_by : v.created_by,
        digest: v.digest,
        size: v.size,
        binary: v.binary ?? null,
      };
      const secret = pins === 'none' ? (await toMeta(projectId, [row]))[0]! : metaOf(row, pinnedStatus(row, pinned ?? undefined)!);
      return e ? { secret, created: false, unchanged: true } : { secret, created: !w.existing || w.existing.deleted === 1, unchanged: false };
    },

    /** Writes several secrets of one scope, all or nothing (used by project creation and import). */
    writeAll,

    /**
     * Imports dotenv text or a JSON map into one scope, all or nothing. Unchanged values are
     * skipped. With `dryRun`, reports the changes and writes nothing.
     */
    async importSecrets(
      actor: Actor,
      slug: string,
      scope: Scope,
      source: { dotenv: string } | { map: Record<string, unknown> },
      dryRun: boolean,
      replace = false,
    ): Promise<ImportResult> {
      const need: Need = { role: 'member', action: 'importing secrets' };
      const p = await authorizeProject(db, actor, slug, need.role, need.action);
      const inputs = parseImport(scope, source);
      const current = new Map((await listSecretMetadata(db, p.id, scope)).map((r) => [r.name, r]));
      const changes: ImportChange[] = inputs.map((i) => {
        const cur = current.get(i.name);
        const after = valueDigest(p.digest_key, i.value);
        const before = cur && cur.deleted === 0 ? cur.digest : null;
        return {
          name: i.name,
          change: before === null ? 'added' : before === after ? 'unchanged' : 'changed',
          digestBefore: before ? shortDigest(before) : null,
          digestAfter: shortDigest(after),
        };
      });
      const toWrite = inputs.filter((_, idx) => changes[idx]!.change !== 'unchanged');
      // With replace, live secrets the file does not name are deleted in the same transaction.
      const named = new Set(inputs.map((i) => i.name));
      const removed = replace
        ? [...current.values()].filter((r) => r.deleted === 0 && !named.has(r.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        : [];
      for (const r of removed) changes.push({ name: r.name, change: 'removed', digestBefore: r.digest ? shortDigest(r.digest) : null, digestAfter: null });
      if (dryRun || toWrite.length + removed.length === 0) return { changes, written: 0, dryRun };
      const tombstones = async (trx: Executor) => {
        const now = clock();
        const by = actorLabel(actor);
        const rows = await findSecretsByNames(
          trx,
          p.id,
          scope,
          removed.map((r) => r.name),
        );
        for (const s of rows) if (s.deleted === 0) await tombstone(trx, s, p.id, scope, actor, by, now, { via: 'import-replace' });
      };
      if (toWrite.length > 0) await writeAll(p, need, scope, toWrite, actor, 'secret.import', removed.length > 0 ? tombstones : undefined);
      else
        await db.transaction().execute(async (trx) => {
          await reauthorize(trx, actor, p, need);
          await tombstones(trx);
        });
      return { changes, written: toWrite.length + removed.length, dryRun };
    },

    /** Deletes a secret: a tombstone version; pending removal until the next deployment. */
    async remove(actor: Actor, slug: string, scopeIn: Scope, name: string, pr?: number | string): Promise<SecretMeta | undefined> {
      validateSecretName(name, 'name');
      const scope = storedScope(scopeIn, pr);
      const by = actorLabel(actor);
      for (let attempt = 1; ; attempt++) {
        try {
          const p = await inProjectTx(db, actor, slug, { role: 'member', action: 'deleting secrets' }, async (trx, p) => {
            const s = await findSecret(trx, p.id, scope, name);
            if (!s || s.deleted === 1) throw new NotFoundError(`secret ${quote(name)} was not found in ${scope}`, 'name');
            await tombstone(trx, s, p.id, scope, actor, by, clock());
            return p;
          });
          const rows = (await listSecretMetadata(db, p.id, scope)).filter((r) => r.name === name);
          return (await toMeta(p.id, rows))[0];
        } catch (err) {
          await backoffOrThrow(err, attempt);
        }
      }
    },

    /** Version history (metadata only), newest first. */
    async versions(actor: Actor, slug: string, scopeIn: Scope, name: string, pr?: number | string): Promise<VersionMeta[]> {
      validateSecretName(name, 'name');
      const scope = storedScope(scopeIn, pr);
      const p = await authorizeProject(db, actor, slug, 'viewer', 'reading history');
      const s = await findSecret(db, p.id, scope, name);
      if (!s) throw new NotFoundError(`secret ${quote(name)} was not found in ${scope}`, 'name');
      return (await listVersions(db, s.id)).map((v) => ({
        version: v.version,
        kind: v.kind as VersionMeta['kind'],
        digest: v.digest ? shortDigest(v.digest) : null,
        size: v.size,
        createdAt: new Date(v.created_at).toISOString(),
        createdBy: v.created_by,
      }));
    },
  };
}

export type SecretsService = ReturnType<typeof createSecretsService>;

/** Turns an import body into validated inputs (names and values checked, duplicates refused). */
export function parseImport(scope: Scope, source: { dotenv: string } | { map: Record<string, unknown> }): SecretInput[] {
  if ('dotenv' in source) {
    return parseDotenv(source.dotenv).map((e) => ({ name: e.name, value: valueForScope(scope, { value: e.value }, `${e.name}.`) }));
  }
  const entries = Object.entries(source.map);
  if (entries.length > 5000) throw new ValidationError('secrets', 'an import may hold at most 5000 secrets', 'payload_too_large');
  return entries.map(([name, v]) => {
    validateSecretName(name, `secrets.${name.slice(0, 64)}`);
    if (typeof v === 'string') return { name, value: valueForScope(scope, { value: v }, `secrets.${name}.`) };
    if (v && typeof v === 'object' && typeof (v as { valueBase64?: unknown }).valueBase64 === 'string') {
      return { name, value: valueForScope(scope, { valueBase64: (v as { valueBase64: string }).valueBase64 }, `secrets.${name}.`) };
    }
    throw new ValidationError(`secrets.${name}`, `secrets.${name} must be a string value or { "valueBase64": "…" }`);
  });
}
