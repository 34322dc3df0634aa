import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.

/**
 * Pending .env imports of the dashboard's review step: the pasted text, sealed (AES-256-GCM under
 * a key derived from the session's cookie secret, which the database does not hold), short-lived,
 * and gone with its session (cascade) or its project.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  const blob = pg ? sql`bytea` : sql`blob`;
  await db.schema
    .createTable('pending_imports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_hash', 'text', (c) => c.notNull().references('sessions.id_hash').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('replace', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('sealed', blob, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pending_imports_session').on('pending_imports').column('session_hash').execute();
  await db.schema.createIndex('pending_imports_expires').on('pending_imports').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('pending_imports').execute();
}
