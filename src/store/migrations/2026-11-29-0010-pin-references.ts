import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen: never import application code here; change the schema with a new migration.
//
// PostgreSQL only (issue 18 §3): deployment_pins' two foreign keys are checked once per inserted
// row (an internal trigger and a query each, per key), most of a 1,000-secret deployment's start.
// They are replaced by triggers that keep the same guarantees, checked once per statement:
// - every pin's secret and deployment exist after an INSERT or UPDATE of pins: the referenced rows
//   are counted and locked FOR KEY SHARE, as the foreign key's check does, so a concurrent DELETE
//   of a secret or deployment waits for the transaction that pinned it (and then deletes its pins),
//   or, done first, makes the pin fail; a mismatch raises foreign_key_violation (SQLSTATE 23503);
// - a DELETE of secrets or deployments deletes their pins (the keys' ON DELETE CASCADE);
// - secrets.id and deployments.id never change (the keys were NO ACTION on update; no code changes
//   an id): an UPDATE that changes one raises foreign_key_violation;
// - a TRUNCATE of secrets or deployments (the keys refused one) fails while pins are left.
// SQLite keeps its foreign keys (checked cheaply there); `down` puts the keys back on PostgreSQL.

const STATEMENTS = [
  sql`create function deployment_pins_check_references() returns trigger language plpgsql as $f$
declare
  wanted bigint;
  found bigint;
begin
  select count(*) into wanted from new_rows;
  if wanted = 0 then
    return null;
  end if;
  select count(*) into found from (select 1 from new_rows n join secrets s on s.id = n.secret_id for key share of s) locked;
  if found <> wanted then
    raise foreign_key_violation using
      message = 'insert or update on table "deployment_pins" violates its reference to "secrets"',
      detail = 'A pin names a secret that does not exist.',
      table = 'deployment_pins';
  end if;
  select count(distinct deployment_id) into wanted from new_rows;
  select count(*) into found from (select 1 from deployments d where d.id in (select deployment_id from new_rows) for key share of d) locked;
  if found <> wanted then
    raise foreign_key_violation using
      message = 'insert or update on table "deployment_pins" violates its reference to "deployments"',
      detail = 'A pin names a deployment that does not exist.',
      table = 'deployment_pins';
  end if;
  return null;
end
$f$`,
  sql`create trigger deployment_pins_inserted after insert on deployment_pins
    referencing new table as new_rows for each statement execute function deployment_pins_check_references()`,
  sql`create trigger deployment_pins_updated after update on deployment_pins
    referencing new table as new_rows for each statement execute function deployment_pins_check_references()`,

  sql`create function deployment_pins_delete_of_secrets() returns trigger language plpgsql as $f$
begin
  delete from deployment_pins p using old_rows o where p.secret_id = o.id;
  return null;
end
$f$`,
  sql`create trigger secrets_deleted_pins after delete on secrets
    referencing old table as old_rows for each statement execute function deployment_pins_delete_of_secrets()`,
  sql`create function deployment_pins_delete_of_deployments() returns trigger language plpgsql as $f$
begin
  delete from deployment_pins p using old_rows o where p.deployment_id = o.id;
  return null;
end
$f$`,
  sql`create trigger deployments_deleted_pins after delete on deployments
    referencing old table as old_rows for each statement execute function deployment_pins_delete_of_deployments()`,

  sql`create function deployment_pins_refuse_id_change() returns trigger language plpgsql as $f$
begin
  raise foreign_key_violation using
    message = format('the id of a row of "%s" never changes: deployment_pins refer to it', tg_table_name),
    table = tg_table_name;
end
$f$`,
  sql`create trigger secrets_id_fixed before update of id on secrets
    for each row when (old.id is distinct from new.id) execute function deployment_pins_refuse_id_change()`,
  sql`create trigger deployments_id_fixed before update of id on deployments
    for each row when (old.id is distinct from new.id) execute function deployment_pins_refuse_id_change()`,

  sql`create function deployment_pins_refuse_truncate() returns trigger language plpgsql as $f$
begin
  if exists (select 1 from deployment_pins) then
    raise feature_not_supported using
      message = format('cannot truncate "%s": deployment_pins refer to it (truncate deployment_pins in the same command)', tg_table_name);
  end if;
  return null;
end
$f$`,
  sql`create trigger secrets_truncated_pins after truncate on secrets for each statement execute function deployment_pins_refuse_truncate()`,
  sql`create trigger deployments_truncated_pins after truncate on deployments for each statement execute function deployment_pins_refuse_truncate()`,
];

export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  // The names PostgreSQL gave the initial migration's column references.
  await sql`alter table deployment_pins drop constraint deployment_pins_deployment_id_fkey, drop constraint deployment_pins_secret_id_fkey`.execute(db);
  for (const s of STATEMENTS) await s.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const [trigger, table] of [
    ['deployment_pins_inserted', 'deployment_pins'],
    ['deployment_pins_updated', 'deployment_pins'],
    ['secrets_deleted_pins', 'secrets'],
    ['deployments_deleted_pins', 'deployments'],
    ['secrets_id_fixed', 'secrets'],
    ['deployments_id_fixed', 'deployments'],
    ['secrets_truncated_pins', 'secrets'],
    ['deployments_truncated_pins', 'deployments'],
  ] as const) {
    await sql`drop trigger ${sql.id(trigger)} on ${sql.table(table)}`.execute(db);
  }
  for (const f of [
    'deployment_pins_check_references',
    'deployment_pins_delete_of_secrets',
    'deployment_pins_delete_of_deployments',
    'deployment_pins_refuse_id_change',
    'deployment_pins_refuse_truncate',
  ]) {
    await sql`drop function ${sql.id(f)}()`.execute(db);
  }
  await sql`alter table deployment_pins
    add constraint deployment_pins_deployment_id_fkey foreign key (deployment_id) references deployments (id) on delete cascade,
    add constraint deployment_pins_secret_id_fkey foreign key (secret_id) references secrets (id) on delete cascade`.execute(db);
}
