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
  let config;
  try {
    config = loadConfig(process.env, { role: 'api' === process.env.KEYLOFT_ROLE ? 'api' : (process.env.KEYLOFT_ROLE ?? 'all') });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyloft: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const database = openDatabase(config.databaseUrl);
  try {
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
      const user = await withServices((s) => s.users.createUser({ kind: 'system', name: 'operator (keyloft admin)', ip: null }, { email: o.email, password, isAdmin: o.admin }));
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
}
