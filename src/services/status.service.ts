import { overridePr } from '../domain/rules.js';
import type { Executor } from '../store/executor.js';
import { lastSucceededDeployments, openPreviewPrs, pinsOf } from '../store/deployments.repository.js';

export interface SecretStatus {
  status: 'deployed' | 'pending' | 'pending_removal';
  applied?: { count: number; of: number };
}

interface StatusRow {
  id: string;
  scope: string;
  current_version: number;
  deleted: number;
}

/**
 * The status of a production, build or per-PR override secret from the version that the last
 * succeeded deployment of its environment pinned (`undefined`: none): undefined for a deleted
 * secret that deployment does not have (gone from the list).
 */
export function pinnedStatus(r: Pick<StatusRow, 'current_version' | 'deleted'>, pinned: number | undefined): SecretStatus | undefined {
  if (r.deleted === 1) return pinned !== undefined ? { status: 'pending_removal' } : undefined;
  return { status: pinned === r.current_version ? 'deployed' : 'pending' };
}

/**
 * Deployed / pending status: a secret is deployed when the last succeeded deployment of its
 * environment used its current version. Preview secrets are reckoned per open pull request;
 * build secrets against the last succeeded deployment of either environment.
 */
export function createStatusService() {
  return {
    /** Status per secret id; a deleted secret that no relevant deployment still has is left out. */
    async statusFor(ex: Executor, projectId: string, rows: readonly StatusRow[]): Promise<Map<string, SecretStatus>> {
      const scopes = new Set(rows.map((r) => r.scope));
      const hasOverrides = [...scopes].some((sc) => overridePr(sc) !== null);
      const prs = scopes.has('preview') || hasOverrides ? await openPreviewPrs(ex, projectId) : [];
      const last = await lastSucceededDeployments(ex, projectId, prs);
      const pins = await pinsOf(
        ex,
        [last.production, last.build, ...last.previews.values()].filter((d): d is string => !!d),
      );
      const pinned = (deploymentId: string | undefined, secretId: string) => (deploymentId ? pins.get(deploymentId)?.get(secretId) : undefined);

      const out = new Map<string, SecretStatus>();
      for (const r of rows) {
        if (r.scope === 'preview') {
          const deps = prs.map((pr) => last.previews.get(pr));
          if (r.deleted === 1) {
            if (deps.some((d) => pinned(d, r.id) !== undefined)) {
              out.set(r.id, { status: 'pending_removal', applied: { count: deps.filter((d) => pinned(d, r.id) === undefined).length, of: prs.length } });
            }
            continue;
          }
          const count = deps.filter((d) => pinned(d, r.id) === r.current_version).length;
          out.set(r.id, { status: prs.length > 0 && count === prs.length ? 'deployed' : 'pending', applied: { count, of: prs.length } });
          continue;
        }
        // A per-PR preview override: against the last succeeded preview deployment of its pull request.
        const overrideOf = overridePr(r.scope);
        const d = overrideOf !== null ? last.previews.get(overrideOf) : r.scope === 'build' ? last.build : last.production;
        const st = pinnedStatus(r, pinned(d, r.id));
        if (st) out.set(r.id, st);
      }
      return out;
    },
  };
}

export type StatusService = ReturnType<typeof createStatusService>;
