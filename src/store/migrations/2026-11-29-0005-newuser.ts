import type { Kysely } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.

/**
 * deployments.failure_reason: why a deployment failed (sent with `complete`, at most 500
 * characters, masked of the deployment's values before it is stored; "cancelled by …" for a
 * cancel); NULL for every deployment before this column existed and for succeeded ones.
 *
 * secret_versions.binary: 1 when the version's value is not UTF-8 text without NUL (only build
 * secrets may be), 0 when it is text, NULL for versions written before this column existed
 * (unknown: the server cannot open values to find out) and for tombstones.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('secret_versions').addColumn('binary', 'integer').execute();
  await db.schema.alterTable('deployments').addColumn('failure_reason', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deployments').dropColumn('failure_reason').execute();
  await db.schema.alterTable('secret_versions').dropColumn('binary').execute();
}
