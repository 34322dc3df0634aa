import type { Executor } from './executor.js';
import type { DeploymentPinTable, DeploymentRow } from './schema.js';

export async function openPreviewPrs(ex: Executor, projectId: string): Promise<number[]> {
  const rows = await ex.selectFrom('previews').select('pr').where('project_id', '=', projectId).where('closed_at', 'is', null).orderBy('pr').execute();
  return rows.map((r) => r.pr);
}

/** Ids of the last succeeded deployment: production, any environment (for build secrets), and per open preview PR. */
export async function lastSucceededDeployments(
  ex: Executor,
  projectId: string,
  prs: readonly number[],
): Promise<{ production: string | undefined; build: string | undefined; previews: Map<number, string> }> {
  const last = (env: string | null, pr: number | null) => {
    let q = ex.selectFrom('deployments').select('id').where('project_id', '=', projectId).where('status', '=', 'succeeded');
    if (env) q = q.where('environment', '=', env);
    if (pr !== null) q = q.where('pr', '=', pr);
    return q.orderBy('completed_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
  };
  const [production, build] = await Promise.all([last('production', null), last(null, null)]);
  const previews = new Map<number, string>();
  for (const pr of prs) {
    const d = await last('preview', pr);
    if (d) previews.set(pr, d.id);
  }
  return { production: production?.id, build: build?.id, previews };
}

/** Pinned versions by deployment id, then secret id. */
export async function pinsOf(ex: Executor, deploymentIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  if (deploymentIds.length === 0) return out;
  const rows = await ex.selectFrom('deployment_pins').select(['deployment_id', 'secret_id', 'version']).where('deployment_id', 'in', [...new Set(deploymentIds)]).execute();
  for (const r of rows) {
    let m = out.get(r.deployment_id);
    if (!m) out.set(r.deployment_id, (m = new Map()));
    m.set(r.secret_id, r.version);
  }
  return out;
}

export async function insertDeployment(ex: Executor, row: DeploymentRow): Promise<void> {
  await ex.insertInto('deployments').values(row).execute();
}

export async function insertPins(ex: Executor, rows: readonly DeploymentPinTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 400) await ex.insertInto('deployment_pins').values(rows.slice(i, i + 400)).execute();
}

export async function findDeployment(ex: Executor, id: string): Promise<DeploymentRow | undefined> {
  return ex.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findDeploymentByTokenHash(ex: Executor, hash: string): Promise<DeploymentRow | undefined> {
  return ex.selectFrom('deployments').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}
