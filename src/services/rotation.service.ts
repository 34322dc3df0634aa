import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { KeyloftError, NotFoundError, quote } from '../domain/errors.js';
import { keyScope, SCOPES } from '../domain/rules.js';
import { type Keyring, type MasterKey, MissingMasterKeyError, type ValueOpener } from '../crypto/keyring.js';
import { OpenFailedError } from '../crypto/open.js';
import type { SealingKey } from '../crypto/seal.js';
import { newScopeKey, sealValue, valueSealingKey, wrapDataKey, wrapScopeKey } from '../crypto/sealing.js';
import { newId } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { insertMasterKey, listMasterKeys } from '../store/keys.repository.js';
import { findProjectBySlug, insertProjectKey } from '../store/projects.repository.js';
import {
  countProjectKeysNotUnder,
  findMasterKey,
  keyUsage,
  projectKeysNotUnder,
  projectKeysOf,
  resealVersion,
  retireOtherMasterKeys,
  retireProjectKeys,
  rewrapProjectKey,
  setMasterKeyRetired,
  versionsSealedTo,
  countSettingsLike,
} from '../store/rotation.repository.js';
import type { ProjectKeyRow } from '../store/schema.js';
import { deleteSetting, getSetting, putSetting } from '../store/users.repository.js';
import type { BaseDeps } from './deps.js';

/** Settings rows that record an interrupted rotation so that a re-run resumes it. */
export const MASTER_ROTATION_SETTING = 'keys.rotation';
const projectRotationSetting = (projectId: string) => `keys.rotation.project.${projectId}`;

export interface MasterRotationRecord {
  target: string;
  startedAt: number;
  rewrapped: number;
  batches: number;
}

interface ProjectRotationRecord {
  projectId: string;
  newPairs: Record<string, string>;
  oldPairs: string[];
  resealed: number;
  batches: number;
}

export interface BatchOptions {
  batchSize?: number;
  /** Stop (resumably) after this many batches. */
  maxBatches?: number;
  onBatch?: (done: number) => void;
}

const SYSTEM = 'operator (keyloft keys rotate)';

/** Appends a base64 master private key as a line of `file` (created 0600), flushed to disk, unless it is there already. */
export function appendKeyToFile(file: string, key: MasterKey): boolean {
  const line = Buffer.from(key.privateKey).toString('base64');
  if (
    existsSync(file) &&
    readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .some((l) => l.trim() === line)
  )
    return false;
  const needsNewline = existsSync(file) && !/(^|\n)$/.test(readFileSync(file, 'utf8'));
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, `${needsNewline ? '\n' : ''}${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Key rotation, for the operator command (it holds the master private keys, like the release
 * path). Master rotation re-wraps every project key pair under a new master key; project rotation
 * replaces one project's key pairs and re-seals every value. Both work in batches that commit on
 * their own and record progress, so an interrupted run resumes where it stopped; servers keep
 * working throughout because a row is always readable under the key id it names.
 */
export function createRotationService(deps: BaseDeps & { keyring: Keyring }) {
  const { db, clock, keyring } = deps;

  async function masterRecord(): Promise<MasterRotationRecord | undefined> {
    const raw = await getSetting(db, MASTER_ROTATION_SETTING);
    return raw ? (JSON.parse(raw) as MasterRotationRecord) : undefined;
  }

  /** A key pair's data key (the fast form's, if a release created one) re-wrapped under `target`, or null. */
  async function rewrapDataKey(row: ProjectKeyRow, target: { id: string; publicKey: Uint8Array }): Promise<Uint8Array | null> {
    if (row.wrapped_data_key === null) return null;
    const raw = await keyring.unwrapDataKeyRaw({
      id: row.id,
      projectId: row.project_id,
      scope: row.scope,
      wrappedDataKey: new Uint8Array(row.wrapped_data_key),
      masterKeyId: row.master_key_id,
    });
    try {
      return await wrapDataKey(target, row.project_id, row.scope, row.id, raw);
    } finally {
      raw.fill(0);
    }
  }

  return {
    masterRecord,

    /**
     * Stores a new master public key, retired (unused) until the rotation starts, so that a
     * crash before its private half is saved leaves nothing wrapped under a lost key.
     */
    async registerMasterKey(key: { id: string; publicKey: Uint8Array }): Promise<'added' | 'exists'> {
      if (await findMasterKey(db, key.id)) return 'exists';
      const now = clock();
      await insertMasterKey(db, { id: key.id, public_key: key.publicKey, created_at: now, retired_at: now });
      return 'added';
    },

    /** Starts (or confirms) the rotation to `target`: it becomes the active master for new wraps. */
    async beginMasterRotation(target: string): Promise<MasterRotationRecord> {
      const existing = await masterRecord();
      if (existing && existing.target !== target) {
        throw new KeyloftError(
          'conflict',
          `a rotation to master key ${existing.target} is in progress; run \`keyloft keys rotate\` without a new key to resume it first`,
        );
      }
      if (existing) return existing;
      const row = await findMasterKey(db, target);
      if (!row) throw new NotFoundError(`master key ${target} is not stored`);
      const rec: MasterRotationRecord = { target, startedAt: clock(), rewrapped: 0, batches: 0 };
      await db.transaction().execute(async (trx) => {
        // Newest created_at and active: the write path wraps new project keys under it from now on.
        await trx
          .updateTable('master_keys')
          .set({ retired_at: null, created_at: Math.max(clock(), Number(row.created_at)) })
          .where('id', '=', target)
          .execute();
        await putSetting(trx, MASTER_ROTATION_SETTING, JSON.stringify(rec));
        await insertAuditEvents(trx, [
          { at: rec.startedAt, projectId: null, actor: SYSTEM, actorIp: null, action: 'keys.rotation_started', detail: { target } },
        ]);
      });
      return rec;
    },

    /** Re-wraps project key pairs under the rotation's target, one committed batch at a time. */
    async rewrapBatches(
      opts: BatchOptions = {},
    ): Promise<{ target: string; rewrapped: number; batches: number; remaining: number; done: boolean; retired: string[] }> {
      const rec = await masterRecord();
      if (!rec) throw new KeyloftError('conflict', 'no master key rotation is in progress');
      const targetRow = await findMasterKey(db, rec.target);
      if (!targetRow) throw new NotFoundError(`master key ${rec.target} is not stored`);
      const target = { id: targetRow.id, publicKey: new Uint8Array(targetRow.public_key) };
      const size = opts.batchSize ?? 100;
      let batches = 0;
      let rewrapped = 0;
      for (;;) {
        if (opts.maxBatches !== undefined && batches >= opts.maxBatches) break;
        const rows = await projectKeysNotUnder(db, target.id, size);
        if (rows.length === 0) break;
        const wraps: Array<{ row: ProjectKeyRow; wrapped: Uint8Array; dataKey: Uint8Array | null }> = [];
        for (const row of rows) {
          if (!keyring.has(row.master_key_id)) throw new MissingMasterKeyError(row.master_key_id);
          const raw = await keyring.unwrapRaw({
            id: row.id,
            projectId: row.project_id,
            scope: row.scope,
            wrappedPrivateKey: new Uint8Array(row.wrapped_private_key),
            masterKeyId: row.master_key_id,
          });
          try {
            wraps.push({ row, wrapped: await wrapScopeKey(target, row.project_id, row.scope, row.id, raw), dataKey: await rewrapDataKey(row, target) });
          } finally {
            raw.fill(0);
          }
        }
        let n = 0;
        await db.transaction().execute(async (trx) => {
          for (const w of wraps) if (await rewrapProjectKey(trx, w.row.id, w.row.master_key_id, target.id, w.wrapped, w.dataKey)) n++;
          const cur = (await getSetting(trx, MASTER_ROTATION_SETTING)) ?? JSON.stringify(rec);
          const r = JSON.parse(cur) as MasterRotationRecord;
          await putSetting(trx, MASTER_ROTATION_SETTING, JSON.stringify({ ...r, rewrapped: r.rewrapped + n, batches: r.batches + 1 }));
        });
        batches++;
        rewrapped += n;
        opts.onBatch?.(rewrapped);
      }
      const remaining = await countProjectKeysNotUnder(db, target.id);
      let retired: string[] = [];
      if (remaining === 0) {
        const total = (await masterRecord())?.rewrapped ?? 0;
        await db.transaction().execute(async (trx) => {
          retired = await retireOtherMasterKeys(trx, target.id, clock());
          await deleteSetting(trx, MASTER_ROTATION_SETTING);
          await insertAuditEvents(trx, [
            {
              at: clock(),
              projectId: null,
              actor: SYSTEM,
              actorIp: null,
              action: 'keys.rotated',
              detail: { target: target.id, rewrapped: total, retired: retired.join(',') },
            },
          ]);
        });
      }
      return { target: target.id, rewrapped, batches, remaining, done: remaining === 0, retired };
    },

    /**
     * Replaces the key pairs of one project's scopes and re-seals every current and historical
     * value to them (each row keeps its project, scope, name and version binding), then retires
     * the old pairs. Resumes an interrupted run.
     */
    async rotateProject(
      slug: string,
      opts: BatchOptions = {},
    ): Promise<{ resealed: number; batches: number; done: boolean; newPairs: Record<string, string>; retired: string[] }> {
      const p = await findProjectBySlug(db, slug);
      if (!p) throw new NotFoundError(`project ${quote(slug)} was not found`, 'slug');
      const settingKey = projectRotationSetting(p.id);
      const raw = await getSetting(db, settingKey);
      let rec: ProjectRotationRecord;
      if (raw) {
        rec = JSON.parse(raw) as ProjectRotationRecord;
      } else {
        const existing = await projectKeysOf(db, p.id);
        const masters = (await listMasterKeys(db)).filter((m) => m.retired_at === null);
        const master = masters[masters.length - 1];
        if (!master) throw new KeyloftError('internal', 'no active master key is stored');
        const now = Math.max(clock(), ...existing.map((k) => Number(k.created_at) + 1));
        const rows: Array<Omit<ProjectKeyRow, 'retired_at' | 'wrapped_data_key'>> = [];
        for (const scope of SCOPES) {
          const id = newId('pk');
          const k = await newScopeKey({ id: master.id, publicKey: new Uint8Array(master.public_key) }, p.id, scope, id);
          rows.push({
            id,
            project_id: p.id,
            scope,
            public_key: k.publicKey,
            wrapped_private_key: k.wrappedPrivateKey,
            master_key_id: k.masterKeyId,
            created_at: now,
          });
        }
        rec = { projectId: p.id, newPairs: Object.fromEntries(rows.map((r) => [r.scope, r.id])), oldPairs: existing.map((k) => k.id), resealed: 0, batches: 0 };
        await db.transaction().execute(async (trx) => {
          // From this commit on, the write path seals new values to the new pairs.
          for (const r of rows) await insertProjectKey(trx, r);
          await putSetting(trx, settingKey, JSON.stringify(rec));
          await insertAuditEvents(trx, [
            { at: now, projectId: p.id, actor: SYSTEM, actorIp: null, action: 'keys.project_rotation_started', detail: { pairs: rows.length } },
          ]);
        });
      }
      const keyRows = new Map((await projectKeysOf(db, p.id)).map((k) => [k.id, k]));
      const openers = new Map<string, ValueOpener>();
      const sealers = new Map<string, SealingKey>();
      const opener = async (keyId: string): Promise<ValueOpener> => {
        let o = openers.get(keyId);
        if (!o) {
          const k = keyRows.get(keyId);
          if (!k || k.project_id !== p.id) throw new KeyloftError('internal', `key pair ${keyId} does not belong to project ${slug}`);
          o = await keyring.scopeOpener({
            id: k.id,
            projectId: k.project_id,
            scope: k.scope,
            wrappedPrivateKey: new Uint8Array(k.wrapped_private_key),
            masterKeyId: k.master_key_id,
          });
          openers.set(keyId, o);
        }
        return o;
      };
      const sealer = async (scope: string): Promise<{ id: string; key: SealingKey }> => {
        const id = rec.newPairs[scope];
        const row = id ? keyRows.get(id) : undefined;
        if (!id || !row) throw new KeyloftError('internal', `the new ${scope} key pair of project ${slug} is missing`);
        let s = sealers.get(id);
        if (!s) {
          s = await valueSealingKey(new Uint8Array(row.public_key));
          sealers.set(id, s);
        }
        return { id, key: s };
      };
      const size = opts.batchSize ?? 100;
      let batches = 0;
      let resealed = 0;
      const sweep = async (): Promise<boolean> => {
        for (;;) {
          if (opts.maxBatches !== undefined && batches >= opts.maxBatches) return false;
          const rows = await versionsSealedTo(db, rec.oldPairs, size);
          if (rows.length === 0) return true;
          const updates: Array<{ secretId: string; version: number; from: string; to: string; ct: Uint8Array }> = [];
          for (const v of rows) {
            // A per-PR override (`preview#42`) is sealed with the preview key pair but bound to its own scope.
            let pt: Uint8Array;
            try {
              pt = await (await opener(v.key_id)).open(new Uint8Array(v.ciphertext), v.name, v.version, v.scope);
            } catch (err) {
              if (!(err instanceof OpenFailedError)) throw err;
              // Nothing of this batch is written; earlier batches are; the old pairs stay active and readable.
              throw new KeyloftError(
                'unprocessable',
                `could not open ${v.name} v${v.version} (${v.scope}) of project ${slug}: the rotation stopped before it, the old key pairs stay in use and every value stays readable; repair or restore that row, then run the same command again to resume`,
              );
            }
            try {
              const s = await sealer(keyScope(v.scope));
              updates.push({
                secretId: v.secret_id,
                version: v.version,
                from: v.key_id,
                to: s.id,
                ct: await sealValue(s.key, p.id, v.scope, v.name, v.version, pt),
              });
            } finally {
              pt.fill(0);
            }
          }
          let n = 0;
          await db.transaction().execute(async (trx) => {
            for (const u of updates) if (await resealVersion(trx, u.secretId, u.version, u.from, u.to, u.ct)) n++;
            const cur = JSON.parse((await getSetting(trx, settingKey)) ?? JSON.stringify(rec)) as ProjectRotationRecord;
            await putSetting(trx, settingKey, JSON.stringify({ ...cur, resealed: cur.resealed + n, batches: cur.batches + 1 }));
          });
          batches++;
          resealed += n;
          opts.onBatch?.(resealed);
        }
      };
      if (!(await sweep())) return { resealed, batches, done: false, newPairs: rec.newPairs, retired: [] };
      await retireProjectKeys(db, rec.oldPairs, clock());
      // A write sealed to an old pair just before the new ones existed may have committed since: sweep once more.
      if (!(await sweep())) return { resealed, batches, done: false, newPairs: rec.newPairs, retired: rec.oldPairs };
      const total = JSON.parse((await getSetting(db, settingKey)) ?? JSON.stringify(rec)) as ProjectRotationRecord;
      await db.transaction().execute(async (trx) => {
        await deleteSetting(trx, settingKey);
        await insertAuditEvents(trx, [
          {
            at: clock(),
            projectId: p.id,
            actor: SYSTEM,
            actorIp: null,
            action: 'keys.project_rotated',
            detail: { resealed: total.resealed, retiredPairs: rec.oldPairs.length },
          },
        ]);
      });
      return { resealed, batches, done: true, newPairs: rec.newPairs, retired: rec.oldPairs };
    },
  };
}

/** Key ids in use and how many rows each holds (`keyloft keys status`; needs no key). */
export async function keyStatus(db: BaseDeps['db']) {
  const usage = await keyUsage(db);
  const raw = await getSetting(db, MASTER_ROTATION_SETTING);
  const projectRotations = await countSettingsLike(db, 'keys.rotation.project.%');
  return { ...usage, rotation: raw ? (JSON.parse(raw) as MasterRotationRecord) : null, projectRotationsInProgress: projectRotations };
}

export type RotationService = ReturnType<typeof createRotationService>;
