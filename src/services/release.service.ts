import { KeyloftError, NotFoundError } from '../domain/errors.js';
import { overrideScope } from '../domain/rules.js';
import { type Keyring, MissingMasterKeyError, type ValueOpener } from '../crypto/keyring.js';
import { OpenFailedError } from '../crypto/open.js';
import { createAuditBatcher } from './audit-batch.js';
import type { DataKey } from '../crypto/fast.js';
import { expireDeployments, findDeployment, type PinnedCiphertext, pinnedCiphertexts, storeDataKey, storeFastForms } from '../store/deployments.repository.js';
import { projectKeysByIds } from '../store/projects.repository.js';
import type { ProjectKeyRow } from '../store/schema.js';
import type { Actor } from './actor.js';
import { actorLabel } from './actor.js';
import type { BaseDeps } from './deps.js';
import { encodeReleased, ReleaseCache } from './release-cache.js';

export interface Released {
  runtime: Record<string, string>;
  build: Record<string, string>;
}

/** Default bound of the cache of opened values (total body bytes). */
export const RELEASE_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The release path: the only code that unwraps a project's private keys. It hands a running
 * deployment the values it pinned — each scope key unwrapped once per request — and writes one
 * audit event per release (deployment, count, names; never values).
 */
export function createReleaseService(
  deps: BaseDeps & {
    keyring: Keyring;
    reloadKeyring?: () => Promise<Keyring | undefined>;
    cacheBytes?: number;
    /** Where a failure to store fast forms is reported (default: a process warning); the message holds no value. */
    warn?: (message: string) => void;
  },
) {
  const { db, clock } = deps;
  // Opened values per running deployment (see release-cache.ts): bounded, zeroed when dropped.
  const cache = new ReleaseCache(deps.cacheBytes ?? RELEASE_CACHE_BYTES);
  const audit = createAuditBatcher(db);
  // Drops entries of deployments that ended elsewhere (another instance, project deleted).
  const sweep = setInterval(() => {
    void (async () => {
      const now = clock();
      for (const id of cache.ids()) {
        const d = await findDeployment(db, id).catch(() => null);
        if (d === null) continue;
        if (!d || d.status !== 'running' || d.expires_at <= now) cache.drop(id);
      }
    })();
  }, 10_000);
  sweep.unref();
  let keyring = deps.keyring;
  let lastReload = 0;
  const warn = deps.warn ?? ((message: string) => process.emitWarning(message, 'KeyloftWarning'));

  /**
   * A key pair wrapped under a master key this process does not hold (a rotation ran since it
   * started): re-read the configured keys once (at most every 2 s) before giving up.
   */
  async function opener(k: { id: string; project_id: string; scope: string; wrapped_private_key: Uint8Array; master_key_id: string }): Promise<ValueOpener> {
    const wrapped = {
      id: k.id,
      projectId: k.project_id,
      scope: k.scope,
      wrappedPrivateKey: new Uint8Array(k.wrapped_private_key),
      masterKeyId: k.master_key_id,
    };
    await reloadFor(k.master_key_id);
    try {
      return await keyring.scopeOpener(wrapped);
    } catch (err) {
      if (err instanceof MissingMasterKeyError) throw new KeyloftError('unavailable', `${err.message}, on this release server`);
      if (err instanceof OpenFailedError)
        throw new KeyloftError(
          'internal',
          `the ${k.scope} key pair of this project could not be unwrapped: its stored form is damaged or was moved; nothing was released`,
        );
      throw err;
    }
  }

  /** Makes sure the keyring holds `masterKeyId` if it can (re-read at most every 2 s). */
  async function reloadFor(masterKeyId: string): Promise<void> {
    if (!keyring.has(masterKeyId) && deps.reloadKeyring && clock() - lastReload > 2000) {
      lastReload = clock();
      const fresh = await deps.reloadKeyring().catch(() => undefined);
      if (fresh) keyring = fresh;
    }
  }

  /** A key pair's data key, or undefined when it has none yet. */
  async function unwrapDataKey(k: ProjectKeyRow): Promise<DataKey | undefined> {
    if (k.wrapped_data_key === null) return undefined;
    await reloadFor(k.master_key_id);
    try {
      return await keyring.dataKey({
        id: k.id,
        projectId: k.project_id,
        scope: k.scope,
        wrappedDataKey: new Uint8Array(k.wrapped_data_key),
        masterKeyId: k.master_key_id,
      });
    } catch (err) {
      if (err instanceof MissingMasterKeyError) throw new KeyloftError('unavailable', `${err.message}, on this release server`);
      if (err instanceof OpenFailedError)
        throw new KeyloftError(
          'internal',
          `the ${k.scope} data key of this project could not be unwrapped: its stored form is damaged or was moved; nothing was released`,
        );
      throw err;
    }
  }

  /**
   * Fast forms of the values just opened with HPKE, under their key pair's data key (created and
   * stored here the first time). Best effort: on any failure those values simply stay HPKE-only.
   */
  async function sealFastForms(
    projectId: string,
    pins: readonly PinnedCiphertext[],
    opened: readonly Uint8Array[],
    slow: readonly number[],
    keyRows: ReadonlyMap<string, ProjectKeyRow>,
    dataKeyOf: (k: ProjectKeyRow) => Promise<DataKey | undefined>,
  ): Promise<FastForm[]> {
    const out: FastForm[] = [];
    const keys = new Map<string, DataKey | null>();
    try {
      for (const i of slow) {
        const p = pins[i]!;
        const k = keyRows.get(p.key_id!)!;
        let dk = keys.get(k.id);
        if (dk === undefined) {
          dk = (await dataKeyOf(k)) ?? null;
          if (dk === null) {
            const fresh = await keyring.newDataKey({ id: k.id, projectId: k.project_id, scope: k.scope, masterKeyId: k.master_key_id });
            // Another instance (or a master key rotation) stored one first: this release writes none for the pair.
            dk = (await storeDataKey(db, k.id, k.master_key_id, fresh.wrapped)) ? fresh.key : null;
          }
          keys.set(k.id, dk);
        }
        if (dk)
          out.push({
            secretId: p.secret_id,
            version: p.version,
            keyId: k.id,
            fast: dk.seal(opened[i]!, projectId, p.scope, p.name, p.version, k.id, p.ciphertext!),
          });
      }
    } catch (err) {
      warn(`the fast form of released values was not prepared (${errorCode(err)}); they open with HPKE until a later release stores it`);
      return [];
    }
    return out;
  }

  /** Counts of a release from its audit detail (names, never values). */
  function countsOf(detail: Record<string, unknown>): { runtime: number; build: number } {
    return { runtime: (detail.runtime as unknown[]).length, build: (detail.build as unknown[]).length };
  }

  async function releaseJson(actor: Actor, deploymentId: string): Promise<ReleasedJson> {
    // Built only when thrown: an Error captures a stack trace, which costs on every hit.
    const notFound = () => new NotFoundError('deployment not found, or this token is not for it', 'id');
    if (actor.kind !== 'deployment' || actor.deploymentId !== deploymentId) throw notFound();
    const now = clock();
    // The caller's deploy token was just resolved to this running, unexpired deployment (auth
    // hook); a cached entry is for that deployment and expires with it.
    const hit = cache.get(deploymentId, now);
    if (hit && hit.projectId === actor.projectId) {
      await audit.write({ at: now, projectId: hit.projectId, actor: actorLabel(actor), actorIp: actor.ip, action: 'deployment.released', detail: hit.detail });
      return { body: Buffer.from(hit.body), ...countsOf(hit.detail) };
    }
    const d = await findDeployment(db, deploymentId);
    if (!d || d.project_id !== actor.projectId) throw notFound();
    if (d.status !== 'running' || d.expires_at <= now) {
      if (d.status === 'running') await expireDeployments(db, now, d.project_id);
      throw new KeyloftError('unauthenticated', 'the deployment is no longer running; its token is revoked');
    }
    // Name order (by code point, the same on both engines): the released maps and the audit event's names are stable.
    const pins = (await pinnedCiphertexts(db, deploymentId)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Defence in depth: a runtime pin must be of the deployment's environment, a build pin of build.
    for (const p of pins) {
      const expected = p.kind === 'build' ? 'build' : d.environment;
      // A preview deployment may also hold its own pull request's overrides (`preview#<pr>`), never another PR's.
      const ownOverride = p.kind !== 'build' && d.environment === 'preview' && d.pr !== null && p.scope === overrideScope(d.pr);
      if ((p.scope !== expected && !ownOverride) || p.ciphertext === null || p.key_id === null)
        throw new KeyloftError('internal', 'a pinned secret does not belong to this deployment');
    }
    const keyRows = new Map<string, ProjectKeyRow>();
    for (const k of await projectKeysByIds(db, [...new Set(pins.map((p) => p.key_id!))])) {
      if (k.project_id !== d.project_id) throw new KeyloftError('internal', 'a pinned secret is sealed to another project');
      keyRows.set(k.id, k);
    }
    // Unwrapped at most once per request. Each pinned key pair's private key is unwrapped even when
    // every pin of it has a fast form (one X25519 per pair, not per value): a damaged or moved
    // wrapped private key is refused by the release, as it was before fast forms existed.
    const openers = new Map<string, Promise<ValueOpener>>();
    const dataKeys = new Map<string, Promise<DataKey | undefined>>();
    const openerOf = (k: ProjectKeyRow) => memo(openers, k.id, () => opener(k));
    const dataKeyOf = (k: ProjectKeyRow) => memo(dataKeys, k.id, () => unwrapDataKey(k));
    for (const k of keyRows.values()) await openerOf(k);
    // Each key pair's data key, unwrapped once, before the values: the pins with a fast form then
    // open in one synchronous pass (no promise per value).
    const withFast = new Set<ProjectKeyRow>();
    for (const p of pins) {
      const k = keyRows.get(p.key_id!);
      if (k && p.fast_ciphertext !== null) withFast.add(k);
    }
    const dataKeyNow = new Map<string, DataKey | undefined>();
    for (const k of withFast) dataKeyNow.set(k.id, await dataKeyOf(k));
    // Pins opened with HPKE (no fast form yet): their fast form is written after this release.
    const slow: number[] = [];
    const opened: Uint8Array[] = [];
    try {
      for (let i = 0; i < pins.length; i++) {
        const p = pins[i]!;
        const k = keyRows.get(p.key_id!);
        if (!k) throw new KeyloftError('internal', `pinned secret ${p.name} v${p.version} names a key pair that does not exist; nothing was released`);
        if (p.fast_ciphertext !== null) {
          // A fast form that does not open is refused like a damaged HPKE row, never passed over
          // for the HPKE form: only the release role can write one, so a bad one was tampered with.
          const dk = dataKeyNow.get(k.id);
          if (!dk) throw new OpenFailedError(`${p.name} v${p.version}`);
          opened.push(dk.open(p.fast_ciphertext, d.project_id, p.scope, p.name, p.version, k.id, p.ciphertext!));
        } else {
          slow.push(i);
          opened.push(await (await openerOf(k)).open(p.ciphertext!, p.name, p.version, p.scope)); // the AAD binds the row's own scope string
        }
      }
    } catch (err) {
      for (const o of opened) o.fill(0);
      // A ciphertext that fails to open was damaged or moved in the database: refuse the whole release, name the row, never a value.
      if (err instanceof OpenFailedError)
        throw new KeyloftError(
          'secret_damaged',
          `${err.message.replace(/^could not open /, 'could not open the pinned secret ')}; nothing was released (\`keyloft check\` lists every damaged version)`,
        );
      throw err;
    }
    const fast = slow.length > 0 ? await sealFastForms(d.project_id, pins, opened, slow, keyRows, dataKeyOf) : [];
    // A preview of a project that keeps build secrets from previews: say so, so the pipeline can tell why there are none.
    const body = encodeReleased(pins, opened, { buildWithheld: Number(d.build_withheld) === 1 });
    for (const o of opened) o.fill(0);
    const detail = {
      deployment: deploymentId,
      count: pins.length,
      runtime: pins.filter((p) => p.kind !== 'build').map((p) => p.name),
      build: pins.filter((p) => p.kind === 'build').map((p) => p.name),
    };
    await audit.write({ at: now, projectId: d.project_id, actor: actorLabel(actor), actorIp: actor.ip, action: 'deployment.released', detail });
    // After the HPKE opens, one batch: a failure to store never fails the release (logged, no values).
    if (fast.length > 0) {
      await db
        .transaction()
        .execute((trx) => storeFastForms(trx, fast))
        .catch((err: unknown) =>
          warn(`the fast form of ${fast.length} released value(s) was not stored (${errorCode(err)}); they open with HPKE until a later release stores it`),
        );
    }
    const copy = Buffer.from(body);
    if (!cache.set(deploymentId, { projectId: d.project_id, expiresAt: d.expires_at, detail, body })) body.fill(0);
    return { body: copy, runtime: detail.runtime.length, build: detail.build.length };
  }

  return {
    /**
     * The deployment's pinned values as the JSON body `{ runtime, build }`, in a buffer of its own
     * that the caller should zero once it is sent.
     */
    releaseJson,
    /** The same, parsed. */
    async release(actor: Actor, deploymentId: string): Promise<Released> {
      const { body } = await releaseJson(actor, deploymentId);
      try {
        return JSON.parse(body.toString('utf8')) as Released;
      } finally {
        body.fill(0);
      }
    },
    /** Forgets a deployment's opened values (it completed); the next fetch is refused anyway. */
    forget(deploymentId: string): void {
      cache.drop(deploymentId);
    },
    /** Size of the cache of opened values. */
    cacheStats: () => cache.stats(),
    close(): void {
      clearInterval(sweep);
      cache.clear();
    },
  };
}

/** A fast form to store: the version, the key pair whose data key sealed it, the blob. */
interface FastForm {
  secretId: string;
  version: number;
  keyId: string;
  fast: Uint8Array;
}

/** The value a memo holds for `key`, made once. */
function memo<T>(m: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let v = m.get(key);
  if (!v) {
    v = make();
    m.set(key, v);
  }
  return v;
}

/** A storage error's code or class for a log line: never its message (which could quote a statement). */
function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  return typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'error';
}

export type ReleaseService = ReturnType<typeof createReleaseService>;

/** A release body (a buffer the caller zeroes once sent) and how many values of each kind it holds. */
export interface ReleasedJson {
  body: Buffer;
  runtime: number;
  build: number;
}
