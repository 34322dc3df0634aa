import { type Kysely, sql } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.

/**
 * Release rights (issue 12):
 * - memberships.can_release: the explicit grant to start deployments as a person; every existing membership gets 0 (off).
 * - deployments.started_by_kind / started_by_name: who started it (deploy_key | trust_policy | person); existing rows are
 *   derived from the old `started_by` label ("deploy key NAME" or an email), anything else becomes deploy_key / "unknown";
 *   started_by_id: the deploy key's (policy's, user's) id, for the per-key limit of running deployments (null on old rows).
 * - projects.preview_build_secrets: whether preview deployments pin build secrets (1 = yes, today's behaviour);
 *   deployments.build_withheld: 1 when a preview deployment pinned none because of it (so the pipeline can say why).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('memberships')
    .addColumn('can_release', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('started_by_kind', 'text', (c) => c.notNull().defaultTo('deploy_key'))
    .execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('started_by_name', 'text', (c) => c.notNull().defaultTo('unknown'))
    .execute();
  await db.schema.alterTable('deployments').addColumn('started_by_id', 'text').execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('build_withheld', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('projects')
    .addColumn('preview_build_secrets', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();

  // "deploy key NAME" (11 characters before the name) → deploy_key NAME; a person's label holds an email.
  await db
    .updateTable('deployments')
    .set({ started_by_kind: 'deploy_key', started_by_name: sql`substr(started_by, 12)` })
    .where('started_by', 'like', 'deploy key _%')
    .execute();
  await db
    .updateTable('deployments')
    .set({ started_by_kind: 'person', started_by_name: sql`started_by` })
    .where('started_by', 'like', '%@%')
    .where('started_by', 'not like', 'deploy key %')
    .execute();
  await db.schema.createIndex('deployments_started_by').on('deployments').columns(['started_by_id', 'status']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deployments_started_by').execute();
  await db.schema.alterTable('projects').dropColumn('preview_build_secrets').execute();
  await db.schema.alterTable('deployments').dropColumn('build_withheld').execute();
  await db.schema.alterTable('deployments').dropColumn('started_by_id').execute();
  await db.schema.alterTable('deployments').dropColumn('started_by_name').execute();
  await db.schema.alterTable('deployments').dropColumn('started_by_kind').execute();
  await db.schema.alterTable('memberships').dropColumn('can_release').execute();
}
