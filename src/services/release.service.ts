import { KeyloftError, NotFoundError } from '../domain/errors.js';
import { type Keyring, MissingMasterKeyError, type ValueOpener } from '../crypto/keyring.js';
import { OpenFailedError } from '../crypto/open.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { expireDeployments, findDeployment, pinnedCiphertexts } from '../store/deployments.repository.js';
import { projectKeysByIds } from '../store/projects.repository.js';
import type { Actor } from './actor.js';
import { actorLabel } from './actor.js';
import type { BaseDeps } from './deps.js';

export interface Released {
  runtime: Record<string, string>;
  build: Record<string, string>;
}

const utf8 = new TextDecoder('utf-8');

/**
 * The release path: the only code that unwraps a project's private keys. It hands a running
 * deployment the values it pinned — each scope key unwrapped once per request — and writes one
 * audit event per release (deployment, count, names; never values).
 */
export function createReleaseService(deps: BaseDeps & { keyring: Keyring; reloadKeyring?: () => Promise<Keyring | undefined> }) {
  const { db, clock } = deps;
  let keyring = deps.keyring;
  let lastReload = 0;

  /**
   * A key pair wrapped under a master key this process does not hold (a rotation ran since it
   * started): re-read the configured keys once (at most every 2 s) before giving up.
   */
  async function opener(k: { id: string; project_id: string; scope: string; wrapped_private_key: Uint8Array; master_key_id: string }): Promise<ValueOpener> {
    const wrapped = { id: k.id, projectId: k.project_id, scope: k.scope, wrappedPrivateKey: new Uint8Array(k.wrapped_private_key), masterKeyId: k.master_key_id };
    if (!keyring.has(k.master_key_id) && deps.reloadKeyring && clock() - lastReload > 2000) {
      lastReload = clock();
      const fresh = await deps.reloadKeyring().catch(() => undefined);
      if (fresh) keyring = fresh;
    }
    try {
      return await keyring.scopeOpener(wrapped);
    } catch (err) {
      if (err instanceof MissingMasterKeyError) throw new KeyloftError('unavailable', `${err.message}, on this release server`);
      if (err instanceof OpenFailedError) throw new KeyloftError('internal', `the ${k.scope} key pair of this project could not be unwrapped: its stored form is damaged or was moved; nothing was released`);
      throw err;
    }
  }

  return {
    async release(actor: Actor, deploymentId: string): Promise<Released> {
      const notFound = new NotFoundError('deployment not found, or this token is not for it', 'id');
      if (actor.kind !== 'deployment' || actor.deploymentId !== deploymentId) throw notFound;
      const now = clock();
      const d = await findDeployment(db, deploymentId);
      if (!d || d.project_id !== actor.projectId) throw notFound;
      if (d.status !== 'running' || d.expires_at <= now) {
        if (d.status === 'running') await expireDeployments(db, now, d.project_id);
        throw new KeyloftError('unauthenticated', 'the deployment is no longer running; its token is revoked');
      }
      // Name order (by code point, the same on both engines): the released maps and the audit event's names are stable.
      const pins = (await pinnedCiphertexts(db, deploymentId)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      // Defence in depth: a runtime pin must be of the deployment's environment, a build pin of build.
      for (const p of pins) {
        const expected = p.kind === 'build' ? 'build' : d.environment;
        if (p.scope !== expected || p.ciphertext === null || p.key_id === null) throw new KeyloftError('internal', 'a pinned secret does not belong to this deployment');
      }
      const keyIds = [...new Set(pins.map((p) => p.key_id!))];
      const openers = new Map<string, ValueOpener>();
      for (const k of await projectKeysByIds(db, keyIds)) {
        if (k.project_id !== d.project_id) throw new KeyloftError('internal', 'a pinned secret is sealed to another project');
        openers.set(k.id, await opener(k));
      }
      let opened: Uint8Array[];
      try {
        opened = await Promise.all(
          pins.map((p) => {
            const o = openers.get(p.key_id!);
            if (!o) throw new KeyloftError('internal', `pinned secret ${p.name} v${p.version} names a key pair that does not exist; nothing was released`);
            return o.open(new Uint8Array(p.ciphertext!), p.name, p.version);
          }),
        );
      } catch (err) {
        // A ciphertext that fails to open was damaged or moved in the database: refuse the whole release, name the row, never a value.
        if (err instanceof OpenFailedError) throw new KeyloftError('internal', `${err.message.replace(/^could not open /, 'could not open the pinned secret ')}; nothing was released`);
        throw err;
      }
      const out: Released = { runtime: {}, build: {} };
      pins.forEach((p, i) => {
        const bytes = opened[i]!;
        if (p.kind === 'build') out.build[p.name] = Buffer.from(bytes).toString('base64');
        else out.runtime[p.name] = utf8.decode(bytes);
      });
      await insertAuditEvents(db, [
        {
          at: now,
          projectId: d.project_id,
          actor: actorLabel(actor),
          actorIp: actor.ip,
          action: 'deployment.released',
          detail: { deployment: deploymentId, count: pins.length, runtime: pins.filter((p) => p.kind !== 'build').map((p) => p.name), build: pins.filter((p) => p.kind === 'build').map((p) => p.name) },
        },
      ]);
      return out;
    },
  };
}

export type ReleaseService = ReturnType<typeof createReleaseService>;
