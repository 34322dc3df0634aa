import type { Kysely } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.
// Sign-in protections and user administration (issue 12 §2, issue 15 items 2–3).

export async function up(db: Kysely<any>): Promise<void> {
  const ms = 'bigint' as const;

  // Users: disabled (sessions and tokens stop at once), last successful sign-in. Existing rows: enabled, never signed in.
  await db.schema.alterTable('users').addColumn('disabled_at', ms).execute();
  await db.schema.alterTable('users').addColumn('last_login_at', ms).execute();

  // Personal API tokens: optional expiry and a read-only flag. Existing rows: no expiry, read-write (as before).
  await db.schema.alterTable('api_tokens').addColumn('expires_at', ms).execute();
  await db.schema
    .alterTable('api_tokens')
    .addColumn('read_only', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  // Sessions: where they were opened from (shown on the Account page). Existing rows: unknown.
  await db.schema.alterTable('sessions').addColumn('ip', 'text').execute();

  // Throttle rows name the account they belong to, so an unlock clears every (account, address) pair.
  await db.schema.alterTable('login_throttle').addColumn('account', 'text').execute();
  await db.schema.createIndex('login_throttle_account').on('login_throttle').column('account').execute();

  // Addresses an account signed in from successfully: failures elsewhere do not lock them out.
  await db.schema
    .createTable('login_addresses')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('last_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('login_addresses_pk', ['user_id', 'ip'])
    .execute();

  // One-time password-reset links (the token is stored only as a hash).
  await db.schema
    .createTable('password_resets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .addColumn('used_at', ms)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('password_resets').execute();
  await db.schema.dropTable('login_addresses').execute();
  await db.schema.dropIndex('login_throttle_account').execute();
  await db.schema.alterTable('login_throttle').dropColumn('account').execute();
  await db.schema.alterTable('sessions').dropColumn('ip').execute();
  await db.schema.alterTable('api_tokens').dropColumn('read_only').execute();
  await db.schema.alterTable('api_tokens').dropColumn('expires_at').execute();
  await db.schema.alterTable('users').dropColumn('last_login_at').execute();
  await db.schema.alterTable('users').dropColumn('disabled_at').execute();
}
