import type { Kysely } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.
// Invitations (a one-time link, stored as a SHA-256 hash) and single sign-on attempts
// (one row per "Sign in with SSO" click, keyed by the hash of a browser-bound cookie).
// Both are new tables: existing rows need no default.

export async function up(db: Kysely<any>): Promise<void> {
  const ms = 'bigint' as const;

  await db.schema
    .createTable('invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('release', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .addColumn('accepted_at', ms)
    .addColumn('accepted_by', 'text')
    .addColumn('revoked_at', ms)
    .execute();
  await db.schema.createIndex('invitations_project').on('invitations').columns(['project_id', 'email']).execute();

  await db.schema
    .createTable('sso_attempts')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sso_attempts').ifExists().execute();
  await db.schema.dropTable('invitations').ifExists().execute();
}
