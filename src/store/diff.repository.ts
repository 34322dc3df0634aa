import type { Executor } from './executor.js';

/** The last succeeded deployment of an environment (and pull request) created before `before`. */
export async function previousSucceeded(ex: Executor, projectId: string, environment: string, pr: number | null, before: number): Promise<string | undefined> {
  let q = ex
    .selectFrom('deployments')
    .select('id')
    .where('project_id', '=', projectId)
    .where('environment', '=', environment)
    .where('status', '=', 'succeeded')
    .where('created_at', '<', before);
  if (pr !== null) q = q.where('pr', '=', pr);
  const row = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row?.id;
}

/** A deployment's pins with the digest of each pinned version (metadata only). */
/** Keyed digest and byte length of every version a deployment pinned (to mask its values in a failure reason). */
export async function pinDigestsAndSizes(ex: Executor, deploymentId: string): Promise<Array<{ digest: string | null; size: number | null }>> {
  return ex
    .selectFrom('deployment_pins')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'deployment_pins.secret_id').onRef('secret_versions.version', '=', 'deployment_pins.version'),
    )
    .select(['secret_versions.digest', 'secret_versions.size'])
    .where('deployment_pins.deployment_id', '=', deploymentId)
    .execute();
}

export async function pinDigests(ex: Executor, deploymentId: string): Promise<Array<{ name: string; kind: string; digest: string | null }>> {
  return ex
    .selectFrom('deployment_pins')
    .innerJoin('secrets', 'secrets.id', 'deployment_pins.secret_id')
    .innerJoin('secret_versions', (j) =>
      j.onRef('secret_versions.secret_id', '=', 'deployment_pins.secret_id').onRef('secret_versions.version', '=', 'deployment_pins.version'),
    )
    .select(['secrets.name', 'deployment_pins.kind', 'secret_versions.digest'])
    .where('deployment_pins.deployment_id', '=', deploymentId)
    .execute();
}
