import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { KeyloftError } from '../domain/errors.js';
import type { Services } from '../services/container.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `fn` with services on the server's own database (same configuration as `serve`). */
async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  // Loaded on use, so `keyloft --help` and the client commands start fast.
  const [{ createServices }, { migrateToLatest, openDatabase }] = await Promise.all([import('../services/container.js'), import('../store/db.js')]);
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, { role: 'api' === process.env.KEYLOFT_ROLE ? 'api' : (process.env.KEYLOFT_ROLE ?? 'all') });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyloft: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // An operator command never creates a database: pointed at the wrong place, it would
  // quietly make an empty second one. Only `keyloft serve` creates it.
  if (config.embedded && !existsSync(config.databaseUrl)) {
    process.stderr.write(
      `keyloft: no keyloft database at ${config.databaseUrl} (looked in the data directory ${config.dataDir}); ` +
        'set KEYLOFT_DATA_DIR (or KEYLOFT_DATABASE_URL) to the one the server uses. Nothing was created.\n',
    );
    process.exit(1);
  }
  const database = openDatabase(config.databaseUrl, { preparedStatements: config.databasePreparedStatements });
  try {
    if (!config.embedded && !(await hasSchema(database.db))) {
      process.stderr.write(
        'keyloft: the database at KEYLOFT_DATABASE_URL holds no keyloft schema; point it at the database the server uses. Nothing was created.\n',
      );
      await database.close();
      process.exit(1);
    }
    await migrateToLatest(database.db);
    // No keyring: the operator commands create users and tokens, and open no value.
    return await fn(createServices({ db: database.db, config, keyring: undefined }));
  } catch (err) {
    if (err instanceof KeyloftError) {
      process.stderr.write(`keyloft: ${err.message}${err.field ? ` (field: ${err.field})` : ''}\n`);
      process.exit(2);
    }
    throw err;
  } finally {
    await database.close();
  }
}

/** Whether a PostgreSQL database already holds keyloft's tables. */
async function hasSchema(db: import('kysely').Kysely<any>): Promise<boolean> {
  const { sql } = await import('kysely');
  const r = await sql<{ t: string | null }>`select to_regclass('users')::text as t`.execute(db);
  return !!r.rows[0]?.t;
}

const OPERATOR = { kind: 'system', name: 'operator (keyloft admin)', ip: null } as const;

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description("operator commands on the server's own database (same configuration as `keyloft serve`)");

  admin
    .command('create-user')
    .description('create a user; the password is read from standard input')
    .requiredOption('--email <email>', 'email address of the new user')
    .option('--admin', 'make the user an instance admin (can create users)', false)
    .requiredOption('--password-stdin', 'read the password from standard input (required, so it never appears in the process list)')
    .addHelpText('after', '\nExample:\n  printf %s "$PASSWORD" | keyloft admin create-user --email ada@example.com --admin --password-stdin\n')
    .action(async (o: { email: string; admin: boolean }) => {
      const password = (await readStdin()).replace(/\r?\n$/, '');
      const user = await withServices((s) => s.users.createUser(OPERATOR, { email: o.email, password, isAdmin: o.admin }));
      process.stdout.write(`created user ${user.email}${user.isAdmin ? ' (instance admin)' : ''}\n`);
    });

  admin
    .command('create-token')
    .description('create a personal API token for a user and print it once')
    .requiredOption('--email <email>', 'the user the token acts as')
    .requiredOption('--name <name>', 'a name to recognise the token by')
    .addHelpText('after', '\nExample:\n  export KEYLOFT_TOKEN=$(keyloft admin create-token --email ada@example.com --name ci)\n')
    .action(async (o: { email: string; name: string }) => {
      const t = await withServices((s) => s.users.createTokenFor(o.email, o.name));
      process.stdout.write(`${t.token}\n`);
    });

  registerPeople(admin);
}

/** `keyloft admin users|unlock|disable|enable|reset-password`: people, on the server's own database. */
function registerPeople(admin: Command): void {
  admin
    .command('users')
    .description('list users: email, instance admin, disabled, locked, last sign-in, projects')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const users = await withServices((s) => s.userAdmin.list(OPERATOR));
      const { printJson, table, when } = await import('./output.js');
      if (o.json) return printJson({ users });
      process.stdout.write(
        table(users, [
          { header: 'email', get: (u) => u.email },
          { header: 'admin', get: (u) => (u.isAdmin ? 'yes' : '') },
          { header: 'state', get: (u) => [u.disabled ? 'disabled' : '', u.locked ? 'locked' : ''].filter(Boolean).join(', ') || 'active' },
          { header: 'last sign-in', get: (u) => (u.lastLoginAt ? when(u.lastLoginAt) : 'never') },
          { header: 'projects', get: (u) => u.projects.join(', ') },
        ]),
      );
    });

  const byEmail = (name: string, description: string, run: (s: Services, id: string) => Promise<string>, example: string) =>
    admin
      .command(name)
      .description(description)
      .requiredOption('--email <email>', 'the account')
      .addHelpText('after', `\nExample:\n  ${example}\n`)
      .action(async (o: { email: string }) => {
        const line = await withServices(async (s) => run(s, await s.userAdmin.idByEmail(o.email)));
        process.stdout.write(`${line}\n`);
      });

  byEmail(
    'unlock',
    'lift every sign-in lock of an account (all addresses)',
    async (s, id) => `unlocked ${(await s.userAdmin.unlock(OPERATOR, id)).email}`,
    'keyloft admin unlock --email ada@example.com',
  );
  byEmail(
    'disable',
    'disable an account: its sessions end and its API tokens are revoked at once (never the last instance admin)',
    async (s, id) => `disabled ${(await s.userAdmin.disable(OPERATOR, id)).email}: sessions ended, API tokens revoked`,
    'keyloft admin disable --email mallory@example.com',
  );
  byEmail(
    'enable',
    'enable a disabled account (its old API tokens stay revoked)',
    async (s, id) => `enabled ${(await s.userAdmin.enable(OPERATOR, id)).email}`,
    'keyloft admin enable --email ada@example.com',
  );
  byEmail(
    'reset-password',
    'print a one-time password-reset link (valid 1 hour; KEYLOFT_PUBLIC_URL gives its address)',
    async (s, id) => {
      const r = await s.userAdmin.createPasswordReset(OPERATOR, id);
      const { loadConfig: load } = await import('../config.js');
      const base = load(process.env).publicUrl ?? 'http://<keyloft address>';
      return `${base}/reset-password?token=${encodeURIComponent(r.token)}\n(one-time link for ${r.email}, valid until ${r.expiresAt})`;
    },
    'keyloft admin reset-password --email ada@example.com',
  );
}
