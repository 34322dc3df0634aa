import type { Executor } from './executor.js';
import type { NewTrustPolicyRow, TrustPolicyRow } from './schema.js';

export async function insertTrustPolicy(ex: Executor, row: NewTrustPolicyRow): Promise<void> {
  await ex.insertInto('trust_policies').values(row).execute();
}

/** A project's trust policies, oldest first (the order in which the exchange tries them). */
export async function listTrustPolicies(ex: Executor, projectId: string): Promise<TrustPolicyRow[]> {
  return ex.selectFrom('trust_policies').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
}

export async function countTrustPolicies(ex: Executor, projectId: string): Promise<number> {
  const r = await ex
    .selectFrom('trust_policies')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** The policies of one project and environment that trust `issuer`, oldest first. */
export async function candidatePolicies(ex: Executor, projectId: string, environment: string, issuer: string): Promise<TrustPolicyRow[]> {
  return ex
    .selectFrom('trust_policies')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('environment', '=', environment)
    .where('issuer', '=', issuer)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Deletes a policy of the project and returns it; undefined when there is none with that id. */
export async function deleteTrustPolicy(ex: Executor, projectId: string, id: string): Promise<TrustPolicyRow | undefined> {
  const row = await ex.selectFrom('trust_policies').selectAll().where('id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
  if (!row) return undefined;
  await ex.deleteFrom('trust_policies').where('id', '=', id).where('project_id', '=', projectId).execute();
  return row;
}

export async function touchTrustPolicy(ex: Executor, id: string, now: number): Promise<void> {
  await ex.updateTable('trust_policies').set({ last_used_at: now }).where('id', '=', id).execute();
}
