import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.
// The fast form of a value (issue 18 §3): project_keys.wrapped_data_key is a key pair's random
// AES-256 data key, HPKE-sealed to the master key the row names (like wrapped_private_key, under
// its own info and AAD label); secret_versions.fast_ciphertext is a second ciphertext of the
// version under that data key, written by the release role after its first HPKE open. Both are
// nullable: existing rows have none until a release writes them.

export async function up(db: Kysely<any>): Promise<void> {
  const blob = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
  await db.schema.alterTable('project_keys').addColumn('wrapped_data_key', blob).execute();
  await db.schema.alterTable('secret_versions').addColumn('fast_ciphertext', blob).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('secret_versions').dropColumn('fast_ciphertext').execute();
  await db.schema.alterTable('project_keys').dropColumn('wrapped_data_key').execute();
}
