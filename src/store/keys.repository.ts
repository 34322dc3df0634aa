import type { Executor } from './executor.js';

export interface MasterKeyRow {
  id: string;
  public_key: Uint8Array;
  created_at: number;
  retired_at: number | null;
}

export async function listMasterKeys(ex: Executor): Promise<MasterKeyRow[]> {
  return ex.selectFrom('master_keys').selectAll().orderBy('created_at', 'asc').execute();
}

export async function insertMasterKey(ex: Executor, row: MasterKeyRow): Promise<void> {
  await ex.insertInto('master_keys').values(row).execute();
}

/** How many scope keys each master key wraps. */
export async function masterKeyUsage(ex: Executor): Promise<Array<{ master_key_id: string; n: number }>> {
  const rows = await ex
    .selectFrom('project_keys')
    .select(['master_key_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('master_key_id')
    .execute();
  return rows.map((r) => ({ master_key_id: r.master_key_id, n: Number(r.n) }));
}
