import type { Executor } from './executor.js';
import type { DeployKeyRow } from './schema.js';

export async function insertDeployKey(ex: Executor, row: DeployKeyRow): Promise<void> {
  await ex.insertInto('deploy_keys').values(row).execute();
}

export async function findDeployKeyByHash(ex: Executor, hash: string): Promise<DeployKeyRow | undefined> {
  return ex.selectFrom('deploy_keys').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export async function listDeployKeys(ex: Executor, projectId: string): Promise<DeployKeyRow[]> {
  return ex.selectFrom('deploy_keys').selectAll().where('project_id', '=', projectId).where('revoked_at', 'is', null).orderBy('created_at', 'desc').execute();
}

export async function revokeDeployKey(ex: Executor, projectId: string, id: string, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('deploy_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('project_id', '=', projectId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function touchDeployKey(ex: Executor, id: string, now: number): Promise<void> {
  await ex.updateTable('deploy_keys').set({ last_used_at: now }).where('id', '=', id).execute();
}
