import type { ChangeSet, Changes, Deployment, Pinned, StartedBy, StartedByKind, StartedDeployment } from '../domain/contract.js';
import { ConflictError, ForbiddenError, KeyloftError, NotFoundError, quote, ValidationError } from '../domain/errors.js';
import { touchDeployKey } from '../store/deploy-keys.repository.js';
import { type Environment, overridePr, overrideScope, parseEnvironment, validatePr } from '../domain/rules.js';
import { advanceSecret, binaryBuildSecretNames, insertVersions } from '../store/secrets.repository.js';
import { hashToken, newId, newToken } from '../crypto/tokens.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import {
  closePreview,
  countRunningStartedBy,
  currentSecretsForPinning,
  expireDeployments,
  findDeployment,
  findDeploymentByTokenHash,
  finishDeployment,
  insertDeployment,
  lastSucceededDeployments,
  listDeployments,
  openPreview,
  pinCurrentVersions,
  pinNames,
  pinsWithNames,
  runtimeNamesNotRepinned,
} from '../store/deployments.repository.js';
import { findProjectById } from '../store/projects.repository.js';
import { pinDigests, pinDigestsAndSizes, previousSucceeded } from '../store/diff.repository.js';
import { cleanFailureReason } from './failure-reason.js';
import { shortDigest } from '../crypto/digest.js';
import type { DeploymentRow, ProjectRow } from '../store/schema.js';
import type { Executor } from '../store/executor.js';
import { authorizeProject, inProjectTx, requireReleaseGrant } from './access.js';
import { type Actor, actorLabel, projectNotFound, starterOf } from './actor.js';
import type { BaseDeps } from './deps.js';
import { issuedInFuture } from './clock.js';

export type { ChangeSet, Changes, Deployment, Pinned, StartedDeployment };

/** Compares two pin sets by name and keyed digest. */
function diffPins(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): ChangeSet {
  const sorted = (xs: string[]) => xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const added = sorted([...after.keys()].filter((n) => !before.has(n)));
  const removed = sorted([...before.keys()].filter((n) => !after.has(n)));
  const changed = sorted([...after.keys()].filter((n) => before.has(n) && before.get(n) !== after.get(n))).map((name) => ({
    name,
    digestBefore: shortDigest(before.get(name)!),
    digestAfter: shortDigest(after.get(name)!),
  }));
  return { added, changed, removed };
}

export const REF_RE = /^[A-Za-z0-9._\/@+-]{1,200}$/;

export function toDeployment(d: DeploymentRow): Deployment {
  return {
    id: d.id,
    environment: d.environment as Environment,
    pr: d.pr,
    ref: d.ref,
    status: d.status as Deployment['status'],
    startedBy: { kind: d.started_by_kind as StartedByKind, name: d.started_by_name },
    createdAt: new Date(d.created_at).toISOString(),
    expiresAt: new Date(d.expires_at).toISOString(),
    completedAt: d.completed_at === null ? null : new Date(d.completed_at).toISOString(),
    reason: d.failure_reason ?? null,
  };
}

/** The Fly app a deployment goes to: the production app, or the preview pattern filled in. */
export function appName(p: Pick<ProjectRow, 'slug' | 'fly_app' | 'fly_preview_pattern'>, environment: Environment, pr: number | null): string {
  if (environment === 'production') return p.fly_app;
  return p.fly_preview_pattern.replaceAll('<slug>', p.slug).replaceAll('<pr>', String(pr));
}

type Deps = BaseDeps & {
  tokenTtlMs: number;
  /** At most this many running (unexpired) deployments per deploy key (KEYLOFT_DEPLOY_KEY_MAX_RUNNING). */
  deployKeyMaxRunning?: number | undefined;
};

export const DEFAULT_DEPLOY_KEY_MAX_RUNNING = 5;

/** Sorts by name in code point order: SQL `order by` follows the database collation, which differs between engines. */
function byName<T extends { name: string }>(rows: T[]): T[] {
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Deployments: start (pins the current versions), list, show, complete, expiry, preview apps.
 * Tokens are 256-bit random, stored as SHA-256, valid for one running, unexpired deployment.
 */
export function createDeploymentsService(deps: Deps) {
  const { db, clock } = deps;

  /**
   * A project the actor may start a deployment of `environment` (and `pr`) in: the project's own deploy key, a
   * trust policy of the project for that environment (and the token's pull request), or a member holding the
   * release grant (any role; admins need it too). Starting releases values, so nobody else may. Called inside the
   * transaction that pins and writes, so a membership or grant removed before the commit starts nothing.
   */
  async function projectForStart(ex: Executor, actor: Actor, slug: string, environment: Environment, pr: number | null): Promise<ProjectRow> {
    if (actor.kind === 'deploy-key' || actor.kind === 'trust-policy' || actor.kind === 'deployment') {
      const p = await findProjectById(ex, actor.projectId);
      if (!p || p.slug !== slug) throw projectNotFound(slug);
      if (actor.kind === 'deployment') throw new ForbiddenError('a deploy token cannot start deployments');
      if (actor.kind === 'trust-policy') {
        if (actor.environment !== environment) throw new ForbiddenError(`the trust policy ${quote(actor.name)} allows ${actor.environment} deployments only`);
        if (actor.pr !== null && actor.pr !== pr) throw new ForbiddenError(`the CI ID token is for pull request ${actor.pr}, not ${pr ?? 'production'}`);
      }
      return p;
    }
    const p = await authorizeProject(ex, actor, slug, 'viewer', 'starting deployments');
    await requireReleaseGrant(ex, actor, p.id, 'starting a deployment releases its secret values');
    return p;
  }

  /** The change diff of a deployment against the previous succeeded one of its environment (same PR for previews). */
  async function changesOf(d: DeploymentRow): Promise<Changes> {
    const previous = (await previousSucceeded(db, d.project_id, d.environment, d.environment === 'preview' ? d.pr : null, d.created_at)) ?? null;
    const maps = async (depId: string | null) => {
      const runtime = new Map<string, string>();
      const build = new Map<string, string>();
      if (depId) for (const r of await pinDigests(db, depId)) (r.kind === 'build' ? build : runtime).set(r.name, r.digest ?? '');
      return { runtime, build };
    };
    const [before, after] = await Promise.all([maps(previous), maps(d.id)]);
    return { previous, ...diffPins(before.runtime, after.runtime), build: diffPins(before.build, after.build) };
  }

  async function pinnedOf(deploymentId: string): Promise<Pinned> {
    const pins = byName(await pinsWithNames(db, deploymentId));
    return {
      runtime: pins
        .filter((p) => p.kind === 'runtime')
        .map((p) => ({ name: p.name, version: p.version, ...(overridePr(p.scope) !== null ? { override: true } : {}) })),
      build: pins.filter((p) => p.kind === 'build').map((p) => ({ name: p.name, version: p.version })),
    };
  }

  return {
    async start(
      actor: Actor,
      slug: string,
      input: { environment: string; pr?: number | string | undefined; ref?: string | undefined; textBuildSecrets?: boolean | undefined },
    ): Promise<StartedDeployment> {
      const environment = parseEnvironment(String(input.environment ?? ''), 'environment');
      let pr: number | null = null;
      if (environment === 'preview') {
        if (input.pr === undefined || input.pr === null) throw new ValidationError('pr', 'pr (the pull request number) is required for a preview deployment');
        pr = validatePr(input.pr, 'pr');
      } else if (input.pr !== undefined && input.pr !== null) {
        throw new ValidationError('pr', 'pr is only for preview deployments');
      }
      const ref = input.ref === undefined || input.ref === '' ? null : String(input.ref);
      if (ref !== null && !REF_RE.test(ref)) throw new ValidationError('ref', 'ref must be 1–200 characters of letters, digits and ._/@+-');
      const starter = starterOf(actor);
      if (!starter) throw new ForbiddenError('only a deploy key, a trust policy or a person with the release grant can start deployments');
      const startedBy: StartedBy = { kind: starter.kind, name: starter.name };

      const id = newId('dep');
      const token = newToken('deploy');
      const now = clock();
      const expiresAt = now + deps.tokenTtlMs;
      const by = actorLabel(actor);
      const maxRunning = deps.deployKeyMaxRunning ?? DEFAULT_DEPLOY_KEY_MAX_RUNNING;
      const { project, pinned, row } = await db.transaction().execute(async (trx) => {
        // Authorized inside the transaction that pins and writes: a member removed (or a grant revoked) before the commit starts nothing.
        const project = await projectForStart(trx, actor, slug, environment, pr);
        // Fork pull requests run the project's workflows too: a project may keep build secrets from every preview.
        const withholdBuild = environment === 'preview' && Number(project.preview_build_secrets) === 0;
        if (actor.kind === 'deploy-key') {
          // The update locks the key's row (PostgreSQL), so concurrent starts with one key are counted one after another.
          await touchDeployKey(trx, actor.keyId, now);
          const running = await countRunningStartedBy(trx, starter.id, now);
          if (running >= maxRunning) {
            throw new KeyloftError(
              'running_deployments_limit',
              `the deploy key ${quote(actor.name)} already has ${running} running deployments, the limit (KEYLOFT_DEPLOY_KEY_MAX_RUNNING=${maxRunning}); complete one or wait until one expires`,
              undefined,
              { limit: maxRunning },
            );
          }
        }
        if (input.textBuildSecrets) {
          // Checked before anything is written: flyctl's --build-secret takes text only.
          const binary = await binaryBuildSecretNames(trx, project.id);
          if (binary.length > 0) {
            throw new ValidationError(
              'textBuildSecrets',
              `build secret${binary.length === 1 ? '' : 's'} ${binary.map((n) => quote(n)).join(', ')} ${binary.length === 1 ? 'is' : 'are'} binary (not UTF-8 text): flyctl's --build-secret takes text only, so deploy fly cannot pass ${binary.length === 1 ? 'it' : 'them'}. Read ${binary.length === 1 ? 'it' : 'them'} as files instead: build with \`keyloft run --build\` ($KEYLOFT_SECRETS_DIR/NAME) after \`keyloft deploy start\`, or store the value base64-encoded and decode it in the Dockerfile. No deployment was started.`,
              'unprocessable',
            );
          }
        }
        const row: DeploymentRow = {
          id,
          project_id: project.id,
          environment,
          pr,
          ref,
          status: 'running',
          token_hash: hashToken(token),
          started_by: by,
          started_by_kind: startedBy.kind,
          started_by_name: startedBy.name,
          started_by_id: starter.id,
          build_withheld: withholdBuild ? 1 : 0,
          created_at: now,
          expires_at: expiresAt,
          completed_at: null,
          failure_reason: null,
        };
        await insertDeployment(trx, row);
        // A preview deployment for PR N pins the preview defaults and PR N's overrides (the override wins by name); never a production value.
        // The set is computed and written by the database in one statement; what it pinned is read back for the answer.
        await pinCurrentVersions(trx, id, {
          projectId: project.id,
          scopes: [environment, ...(withholdBuild ? [] : ['build']), ...(pr !== null ? [overrideScope(pr)] : [])],
          overrideScope: pr !== null ? overrideScope(pr) : null,
        });
        const current = byName(await pinNames(trx, id));
        const runtimeNames = new Set(current.filter((s) => s.kind !== 'build').map((s) => s.name));
        const absent =
          environment === 'preview'
            ? [...new Set((await currentSecretsForPinning(trx, project.id, ['production'])).map((s) => s.name))]
                .filter((n) => !runtimeNames.has(n))
                .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
            : undefined;
        // What the app's previous succeeded deployment had that this one has not: the pipeline unsets those on the platform.
        const last = await lastSucceededDeployments(trx, project.id, pr !== null ? [pr] : []);
        const previousId = pr !== null ? last.previews.get(pr) : last.production;
        const removed = previousId
          ? [...new Set((await runtimeNamesNotRepinned(trx, previousId, id)).filter((n) => !runtimeNames.has(n)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
          : [];
        if (pr !== null) await openPreview(trx, project.id, pr, now);
        await insertAuditEvents(trx, [
          {
            at: now,
            projectId: project.id,
            actor: by,
            actorIp: actor.ip,
            action: 'deployment.started',
            detail: {
              deployment: id,
              environment,
              pr,
              ref,
              startedBy,
              runtime: current.filter((s) => s.kind !== 'build').length,
              build: current.filter((s) => s.kind === 'build').length,
              ...(withholdBuild ? { buildSecretsWithheld: true } : {}),
            },
          },
        ]);
        const pinned: Pinned = {
          runtime: current
            .filter((s) => s.kind !== 'build')
            .map((s) => ({ name: s.name, version: s.version, ...(overridePr(s.scope) !== null ? { override: true } : {}) })),
          build: current.filter((s) => s.kind === 'build').map((s) => ({ name: s.name, version: s.version })),
          ...(absent ? { absent } : {}),
          ...(removed.length > 0 ? { removed } : {}),
          ...(withholdBuild ? { buildSecretsWithheld: true as const } : {}),
        };
        return { project, pinned, row };
      });
      const deployment = toDeployment({ ...row, token_hash: null });
      return {
        id,
        token,
        expiresAt: deployment.expiresAt,
        deployment,
        startedBy,
        project: { slug: project.slug, flyApp: project.fly_app, flyPreviewPattern: project.fly_preview_pattern, app: appName(project, environment, pr) },
        pinned,
      };
    },

    /** Newest first; `before` (a deployment id of this project) continues a page after that deployment. */
    async list(
      actor: Actor,
      slug: string,
      q: { environment?: string | undefined; limit?: number | undefined; pr?: number | undefined; before?: string | undefined } = {},
    ): Promise<Deployment[]> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'listing deployments');
      const environment = q.environment ? parseEnvironment(q.environment, 'environment') : undefined;
      const limit = q.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new ValidationError('limit', 'limit must be a whole number from 1 to 200');
      await expireDeployments(db, clock(), p.id);
      let before: { createdAt: number; id: string } | undefined;
      if (q.before !== undefined) {
        const b = await findDeployment(db, q.before);
        if (!b || b.project_id !== p.id) throw new ValidationError('before', `before must be the id of a deployment of this project (got ${quote(q.before)})`);
        before = { createdAt: b.created_at, id: b.id };
      }
      return (await listDeployments(db, p.id, { environment, limit, pr: q.pr, before })).map(toDeployment);
    },

    async get(actor: Actor, slug: string, id: string): Promise<{ deployment: Deployment; pinned: Pinned; app: string; changes: Changes }> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'viewing deployments');
      await expireDeployments(db, clock(), p.id);
      const d = await findDeployment(db, id);
      if (!d || d.project_id !== p.id) throw new NotFoundError(`deployment ${quote(id)} was not found`, 'id');
      return { deployment: toDeployment(d), pinned: await pinnedOf(d.id), app: appName(p, d.environment as Environment, d.pr), changes: await changesOf(d) };
    },

    /**
     * Ends a running deployment and revokes its token. Allowed for the deployment's own token,
     * the project's deploy key, and members of the project.
     */
    async complete(actor: Actor, id: string, statusIn: string, reasonIn?: string): Promise<Deployment> {
      if (statusIn !== 'succeeded' && statusIn !== 'failed') throw new ValidationError('status', 'status must be succeeded or failed');
      if (reasonIn !== undefined && statusIn !== 'failed') throw new ValidationError('reason', 'reason is only for status failed');
      const now = clock();
      const d = await findDeployment(db, id);
      const notFound = new NotFoundError(`deployment ${quote(id)} was not found`, 'id');
      if (!d) throw notFound;
      if (actor.kind === 'deployment' && actor.deploymentId !== id) throw notFound;
      if ((actor.kind === 'deploy-key' || actor.kind === 'trust-policy') && actor.projectId !== d.project_id) throw notFound;
      if (d.status === 'running' && d.expires_at <= now) await expireDeployments(db, now, d.project_id);
      const by = actorLabel(actor);
      let reason: string | null = null;
      if (reasonIn !== undefined && reasonIn.trim() !== '') {
        const project = await findProjectById(db, d.project_id);
        if (!project) throw notFound;
        // Masked before BEGIN (HMACs over the text): the stored reason never holds a pinned value.
        reason = cleanFailureReason(reasonIn, project.digest_key, await pinDigestsAndSizes(db, id)) || null;
      }
      const done = await db.transaction().execute(async (trx) => {
        if (actor.kind === 'user') {
          // A person completes as a member of the deployment's project, checked where the completion is written.
          const p = await findProjectById(trx, d.project_id);
          if (!p) throw notFound;
          try {
            await authorizeProject(trx, actor, p.slug, 'member', 'completing deployments');
          } catch (err) {
            if (err instanceof NotFoundError) throw notFound;
            throw err;
          }
        }
        if (!(await finishDeployment(trx, id, statusIn, now, reason))) return false;
        await insertAuditEvents(trx, [
          {
            at: now,
            projectId: d.project_id,
            actor: by,
            actorIp: actor.ip,
            action: `deployment.${statusIn}`,
            detail: { deployment: id, ...(reason ? { reason } : {}) },
          },
        ]);
        return true;
      });
      const after = (await findDeployment(db, id))!;
      if (!done) throw new ConflictError(`deployment ${id} is already ${after.status}`, 'status');
      return toDeployment(after);
    },

    /**
     * Cancels a running deployment (a member of its project): it completes as failed with the
     * reason "cancelled by …", its token is revoked at once, and the audit log says who cancelled it.
     */
    async cancel(actor: Actor, slug: string, id: string): Promise<Deployment> {
      const now = clock();
      const by = actorLabel(actor);
      const notFound = new NotFoundError(`deployment ${quote(id)} was not found`, 'id');
      // Authorized inside the transaction that finishes it (a member removed meanwhile cancels nothing).
      const { done, projectId } = await inProjectTx(db, actor, slug, { role: 'member', action: 'cancelling deployments' }, async (trx, p) => {
        const d = await findDeployment(trx, id);
        if (!d || d.project_id !== p.id) throw notFound;
        if (d.status === 'running' && d.expires_at <= now) await expireDeployments(trx, now, p.id);
        if (!(await finishDeployment(trx, id, 'failed', now, `cancelled by ${by}`))) return { done: false, projectId: p.id };
        await insertAuditEvents(trx, [{ at: now, projectId: p.id, actor: by, actorIp: actor.ip, action: 'deployment.cancelled', detail: { deployment: id } }]);
        return { done: true, projectId: p.id };
      });
      const after = await findDeployment(db, id);
      if (!after || after.project_id !== projectId) throw notFound;
      if (!done) throw new ConflictError(`deployment ${id} is already ${after.status}; only a running deployment can be cancelled`, 'id');
      return toDeployment(after);
    },

    /** Marks a preview app closed: it no longer counts for preview status; its per-PR overrides are deleted (tombstones). */
    async closePreview(actor: Actor, slug: string, prIn: number | string): Promise<void> {
      const pr = validatePr(prIn, 'pr');
      const now = clock();
      const by = actorLabel(actor);
      const scope = overrideScope(pr);
      await inProjectTx(db, actor, slug, { role: 'member', action: 'closing preview apps' }, async (trx, p) => {
        const closed = await closePreview(trx, p.id, pr, now);
        const overrides = await currentSecretsForPinning(trx, p.id, [scope]);
        if (!closed && overrides.length === 0) throw new NotFoundError(`no open preview app for pull request ${pr}`, 'pr');
        for (const s of overrides) {
          // Inside the transaction: a concurrent write to the override makes this close fail rather than leave it behind.
          if (!(await advanceSecret(trx, s.id, s.current_version, { deleted: 1, updated_at: now, updated_by: by }))) {
            throw new ConflictError(`the override ${s.name} of pull request ${pr} changed concurrently; try again`, 'pr');
          }
          await insertVersions(trx, [
            {
              secret_id: s.id,
              version: s.current_version + 1,
              kind: 'delete',
              ciphertext: null,
              key_id: null,
              digest: null,
              size: null,
              created_at: now,
              created_by: by,
            },
          ]);
        }
        await insertAuditEvents(trx, [
          ...overrides.map((s) => ({
            at: now,
            projectId: p.id,
            actor: by,
            actorIp: actor.ip,
            action: 'secret.deleted',
            scope,
            name: s.name,
            version: s.current_version + 1,
            detail: { via: 'preview-closed', pr },
          })),
          { at: now, projectId: p.id, actor: by, actorIp: actor.ip, action: 'preview.closed', detail: { pr, overridesRemoved: overrides.length } },
        ]);
      });
    },

    /** Resolves a deploy token: only for a running, unexpired deployment. */
    async tokenActor(token: string, ip: string | null): Promise<Actor | undefined> {
      const d = await findDeploymentByTokenHash(db, hashToken(token));
      if (!d || d.status !== 'running') return undefined;
      // The clock moved back (or this instance's clock is far behind the one that issued it): refuse,
      // so a token never lives longer than its TTL plus CLOCK_SKEW_MS. Nothing is changed.
      if (issuedInFuture(d.created_at, clock())) return undefined;
      if (d.expires_at <= clock()) {
        await expireDeployments(db, clock(), d.project_id);
        return undefined;
      }
      return { kind: 'deployment', deploymentId: d.id, projectId: d.project_id, environment: d.environment, ip };
    },
  };
}

export type DeploymentsService = ReturnType<typeof createDeploymentsService>;
