import type { CopyResult, RestoreResult } from '../domain/contract.js';
import { KeyloftError, NotFoundError, quote, ValidationError } from '../domain/errors.js';
import { parseScope, type Scope, storedScope, validateSecretName } from '../domain/rules.js';
import { shortDigest } from '../crypto/digest.js';
import { type Keyring, MissingMasterKeyError, type ValueOpener } from '../crypto/keyring.js';
import { OpenFailedError } from '../crypto/open.js';
import type { Executor } from '../store/executor.js';
import { projectKeysByIds } from '../store/projects.repository.js';
import { sealedCurrentVersions, sealedVersion, type SealedVersionRow } from '../store/reseal.repository.js';
import { listSecretMetadata } from '../store/secrets.repository.js';
import { authorizeProject, type Need, requireReleaseGrant } from './access.js';
import type { Actor } from './actor.js';
import type { BaseDeps } from './deps.js';
import type { SecretInput, SecretMeta, SecretsService } from './secrets.service.js';

export type { CopyResult, RestoreResult };

type Deps = BaseDeps & {
  keyring: Keyring;
  secrets: Pick<SecretsService, 'writeAll' | 'list'>;
  reloadKeyring?: () => Promise<Keyring | undefined>;
};

/** The key-pair scope of a stored scope string: a per-PR preview override `preview#42` uses the preview key pair. */
export function keyScopeOf(scope: string): string {
  return scope.startsWith('preview#') ? 'preview' : scope;
}

/**
 * Restore and copy: operations that open stored values and seal them again as new versions,
 * inside the server (roles all and release, which hold the master key). No value ever leaves
 * this service: results carry names, versions and short digests only.
 */
export function createResealService(deps: Deps) {
  const { db } = deps;
  let keyring = deps.keyring;
  let lastReload = 0;

  async function openersFor(ex: Executor, projectId: string, keyIds: readonly string[]): Promise<Map<string, ValueOpener>> {
    const out = new Map<string, ValueOpener>();
    for (const k of await projectKeysByIds(ex, [...new Set(keyIds)])) {
      if (k.project_id !== projectId) throw new KeyloftError('internal', 'a stored secret is sealed to another project');
      if (!keyring.has(k.master_key_id) && deps.reloadKeyring && deps.clock() - lastReload > 2000) {
        lastReload = deps.clock();
        const fresh = await deps.reloadKeyring().catch(() => undefined);
        if (fresh) keyring = fresh;
      }
      try {
        out.set(
          k.id,
          await keyring.scopeOpener({
            id: k.id,
            projectId: k.project_id,
            scope: k.scope,
            wrappedPrivateKey: new Uint8Array(k.wrapped_private_key),
            masterKeyId: k.master_key_id,
          }),
        );
      } catch (err) {
        if (err instanceof MissingMasterKeyError) throw new KeyloftError('unavailable', `${err.message}, on this server`);
        if (err instanceof OpenFailedError)
          throw new KeyloftError('internal', `the ${k.scope} key pair of this project could not be unwrapped; nothing was changed`);
        throw err;
      }
    }
    return out;
  }

  /** Opens stored versions (all or none); the caller zeroes the returned bytes. */
  async function openAll(projectId: string, rows: readonly SealedVersionRow[]): Promise<Uint8Array[]> {
    const openers = await openersFor(
      db,
      projectId,
      rows.map((r) => r.key_id!),
    );
    const opened: Uint8Array[] = [];
    try {
      for (const r of rows) {
        const o = r.key_id ? openers.get(r.key_id) : undefined;
        if (!o || !r.ciphertext) throw new KeyloftError('internal', `${r.name} v${r.version} has no usable ciphertext; nothing was changed`);
        opened.push(await o.open(r.ciphertext, r.name, r.version, r.scope));
      }
      return opened;
    } catch (err) {
      for (const v of opened) v.fill(0);
      if (err instanceof OpenFailedError) throw new KeyloftError('internal', `${err.message}; it was damaged or moved in the database, nothing was changed`);
      throw err;
    }
  }

  return {
    /**
     * Makes an old version current again as a new version (kind `restore`), re-sealed inside
     * the server; audited as `secret.restored` ("restored v3 as v5"). A tombstone cannot be restored.
     * `pr` (preview only) restores a version of the per-pull-request override for that PR.
     */
    async restore(actor: Actor, slug: string, scopeIn: string, name: string, versionIn: number, pr?: number): Promise<RestoreResult> {
      // Who may act comes first: a deploy key or a viewer learns nothing from input checks.
      const need: Need = { role: 'member', action: 'restoring secrets' };
      const p = await authorizeProject(db, actor, slug, need.role, need.action);
      const plain = parseScope(scopeIn, 'scope');
      const scope = storedScope(plain, pr);
      validateSecretName(name, 'name');
      if (!Number.isInteger(versionIn) || versionIn < 1) throw new ValidationError('version', 'version must be a whole number from 1');
      const row = await sealedVersion(db, p.id, scope, name, versionIn);
      if (!row) throw new NotFoundError(`version ${versionIn} of ${quote(name)} was not found in ${plain}${pr ? ` (PR ${pr} override)` : ''}`, 'version');
      if (row.kind === 'delete') throw new ValidationError('version', `v${versionIn} of ${name} is a deletion (a tombstone): there is no value to restore`);
      if (row.ciphertext === null) throw new ValidationError('version', `the value of v${versionIn} of ${name} was purged; it cannot be restored`);
      const [value] = await openAll(p.id, [row]);
      try {
        const [w] = await deps.secrets.writeAll(p, need, scope, [{ name, value: value!, restoredFrom: versionIn }], actor, 'secret.set');
        // The preview list also holds overrides of the same name: pick the one restored.
        const secret = (await deps.secrets.list(actor, slug, plain)).find((s) => s.name === name && s.pr === (pr ?? undefined));
        if (!secret) throw new KeyloftError('internal', 'the restored secret is missing from the list');
        return { secret, restoredFrom: versionIn, version: w!.version.version };
      } finally {
        value!.fill(0);
      }
    },

    /**
     * Copies chosen secrets (or all) of one scope into another, re-sealed to the target scope's
     * key, all or nothing. Secrets that exist in the target are skipped unless `overwrite`.
     * Build values must be UTF-8 text without NUL to go to an app scope.
     */
    async copy(
      actor: Actor,
      slug: string,
      input: { from: string; to: string; names?: string[] | undefined; overwrite?: boolean | undefined; dryRun?: boolean | undefined },
    ): Promise<CopyResult> {
      const need: Need = { role: 'member', action: 'copying secrets' };
      const p = await authorizeProject(db, actor, slug, need.role, need.action);
      const from = parseScope(String(input.from ?? ''), 'from');
      const to = parseScope(String(input.to ?? ''), 'to');
      if (from === to) throw new ValidationError('to', 'to must be another scope than from');
      // Production and build values copied elsewhere reach deployments they were kept from (previews run pull requests' code).
      if (from !== 'preview') await requireReleaseGrant(db, actor, p.id, `copying ${from} values into ${to} lets them reach other deployments`);
      const names = input.names === undefined ? undefined : [...new Set(input.names.map((n, i) => validateSecretName(String(n), `names[${i}]`)))];
      if (names && names.length === 0) throw new ValidationError('names', 'names must list at least one secret (omit it to copy all)');
      const overwrite = input.overwrite === true;
      const dryRun = input.dryRun === true;

      const source = new Map((await sealedCurrentVersions(db, p.id, from)).map((r) => [r.name, r]));
      const chosen = (names ?? [...source.keys()]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const missing = chosen.filter((n) => !source.has(n));
      if (missing.length > 0)
        throw new NotFoundError(`${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} not found in ${from}; nothing was copied`, 'names');
      const target = new Map((await listSecretMetadata(db, p.id, to)).filter((r) => r.deleted === 0).map((r) => [r.name, r]));

      const copied: CopyResult['copied'] = [];
      const skipped: CopyResult['skipped'] = [];
      const rows: SealedVersionRow[] = [];
      for (const n of chosen) {
        const src = source.get(n)!;
        const cur = target.get(n);
        if (cur && !overwrite) skipped.push({ name: n, reason: 'exists' });
        else if (cur && cur.digest === src.digest) skipped.push({ name: n, reason: 'unchanged' });
        else {
          copied.push({ name: n, change: cur ? 'changed' : 'added', digest: shortDigest(src.digest!) });
          rows.push(src);
        }
      }
      if (rows.length === 0) return { dryRun, from, to, copied, skipped, written: 0 };

      // Opened even for a dry run: the value rules of the target scope are checked the same way.
      const values = await openAll(p.id, rows);
      try {
        if (to !== 'build') {
          const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
          rows.forEach((r, i) => {
            let ok = !values[i]!.includes(0);
            try {
              text.decode(values[i]!);
            } catch {
              ok = false;
            }
            if (!ok)
              throw new ValidationError(
                'names',
                `${from} secret ${r.name} is binary (not UTF-8 text without NUL), so it cannot go to the ${to} app; nothing was copied`,
              );
          });
        }
        if (dryRun) return { dryRun, from, to, copied, skipped, written: 0 };
        const inputs: SecretInput[] = rows.map((r, i) => ({ name: r.name, value: values[i]!, copiedFrom: from }));
        await deps.secrets.writeAll(p, need, to, inputs, actor, 'secret.set');
        return { dryRun, from, to, copied, skipped, written: inputs.length };
      } finally {
        for (const v of values) v.fill(0);
      }
    },
  };
}

export type ResealService = ReturnType<typeof createResealService>;
