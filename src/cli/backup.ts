import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config.js';

// The store (better-sqlite3) is loaded on use, so other commands start without it.
const store = () => import('../store/backup.js');

async function embeddedConfig(command: string): Promise<Config> {
  const { ConfigError, loadConfig } = await import('../config.js');
  let config: Config;
  try {
    // Backup and restore never touch a key: read the settings as the api role would (no key needed),
    // but accept the environment of any role.
    config = loadConfig({ ...process.env, KEYLOFT_ROLE: 'all' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyloft: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (!config.embedded) {
    process.stderr.write(
      `keyloft ${command}: KEYLOFT_DATABASE_URL points at PostgreSQL; back it up with pg_dump and restore with pg_restore (see docs/OPERATIONS.md, "Backup and restore").\n`,
    );
    process.exit(2);
  }
  return config;
}

async function fail(err: unknown): Promise<never> {
  const { BackupError } = await store();
  if (err instanceof BackupError) {
    process.stderr.write(`keyloft: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const KEY_NOTE =
  'The backup holds ciphertext and public keys only: back up the master key (KEYLOFT_MASTER_KEY, or the key file) separately and keep it apart from this file.';

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('online, consistent copy of the embedded SQLite database (a server may keep running)')
    .requiredOption('--out <file>', 'where to write the backup (mode 0600)')
    .option('--force', 'overwrite --out when it exists', false)
    .addHelpText(
      'after',
      `\nThe master private key is not in the backup. ${KEY_NOTE}\nFor PostgreSQL use pg_dump (docs/OPERATIONS.md).\n\nExample:\n  keyloft backup --out /backups/keyloft-$(date +%F).db\n`,
    )
    .action(async (o: { out: string; force: boolean }) => {
      const config = await embeddedConfig('backup');
      const out = resolve(o.out);
      try {
        const info = await (await store()).backupSqlite(config.databaseUrl, out, { force: o.force });
        process.stdout.write(
          `keyloft: backup of ${config.databaseUrl} written to ${info.file} (${info.bytes} bytes, integrity ok, master key id${info.masterKeyIds.length === 1 ? '' : 's'} ${info.masterKeyIds.join(', ') || 'none'}).\n`,
        );
        process.stdout.write(`keyloft: ${KEY_NOTE}\n`);
      } catch (err) {
        await fail(err);
      }
    });

  program
    .command('restore')
    .description('replace the embedded SQLite database with a backup (stop every server first)')
    .requiredOption('--from <file>', 'a file written by `keyloft backup`')
    .option('--force', 'replace an existing database', false)
    .addHelpText(
      'after',
      '\nThe backup is checked (integrity_check, keyloft tables) before anything is replaced; a database a server has open is never replaced.\nAfterwards start keyloft with the master key whose id the command prints.\n',
    )
    .action(async (o: { from: string; force: boolean }) => {
      const config = await embeddedConfig('restore');
      try {
        const info = await (await store()).restoreSqlite(resolve(o.from), config.databaseUrl, { force: o.force });
        process.stdout.write(
          `keyloft: restored ${resolve(o.from)} to ${info.file} (integrity ok, ${info.migrations} migration${info.migrations === 1 ? '' : 's'}).\n`,
        );
        process.stdout.write(
          `keyloft: its values open with master key id${info.masterKeyIds.length === 1 ? '' : 's'} ${info.masterKeyIds.join(', ') || 'none'}; start keyloft with that key (a wrong key is refused at start).\n`,
        );
      } catch (err) {
        await fail(err);
      }
    });
}
