import type { Kysely } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.

/** Trust policies: which CI ID tokens (issuer, audience, subject and claim patterns) may start a deployment of one environment. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('trust_policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    // JSON object { CLAIM: pattern }; '{}' when the policy lists none.
    .addColumn('claims', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addUniqueConstraint('trust_policies_project_name', ['project_id', 'name'])
    .execute();
  await db.schema.createIndex('trust_policies_project_env').on('trust_policies').columns(['project_id', 'environment']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('trust_policies').execute();
}
