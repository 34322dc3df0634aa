import type { Command } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { MissingMasterKeyError } from '../crypto/keyring.js';
import { KeyloftError } from '../domain/errors.js';
import { loadMasterKeys, StartupError, verifyMasterKeys } from '../services/bootstrap.js';
import { type CheckReport, createCheckService } from '../services/check.service.js';
import { migrateToLatest, openDatabase } from '../store/db.js';

function fail(message: string): never {
  process.stderr.write(`keyloft: ${message}\n`);
  process.exit(2);
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      "open every stored secret version with the master keys, on the server's own database (same configuration as `keyloft serve`), and list the damaged ones",
    )
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  keyloft check\n  KEYLOFT_DATABASE_URL=postgres://… KEYLOFT_MASTER_KEY_FILE=/run/secrets/master.key keyloft check --json\n\n' +
        'Exit status: 0 when every version opens, 1 when any is damaged (each listed by project, scope, name and version;\n' +
        'never a value), 2 when the check could not run. Nothing is written.\n',
    )
    .action(async (o: { json?: boolean }) => {
      let cfg: Config;
      try {
        cfg = loadConfig({ ...process.env, KEYLOFT_ROLE: 'all' });
      } catch (err) {
        if (err instanceof ConfigError) fail(err.message);
        throw err;
      }
      const database = openDatabase(cfg.databaseUrl, { preparedStatements: cfg.databasePreparedStatements });
      let report: CheckReport;
      try {
        await migrateToLatest(database.db);
        const { keys } = await loadMasterKeys(cfg, database.db);
        const keyring = await verifyMasterKeys(database.db, keys, Date.now());
        report = await createCheckService({ db: database.db, keyring }).check();
      } catch (err) {
        if (err instanceof StartupError || err instanceof MissingMasterKeyError) fail(`cannot check: ${err.message}`);
        if (err instanceof KeyloftError) fail(`cannot check: ${err.message}`);
        throw err;
      } finally {
        await database.close();
      }
      if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const lines = [`checked ${report.checked} sealed version(s): ${report.damaged.length === 0 ? 'all open' : `${report.damaged.length} damaged`}`];
        for (const d of report.damaged) lines.push(`  damaged: ${d.project} ${d.scope} ${d.name} v${d.version} (${d.reason})`);
        if (report.damaged.length > 0)
          lines.push(
            'restore these rows from a backup (docs/OPERATIONS.md), or set the secrets again; a deployment that pins one is refused with secret_damaged',
          );
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      process.exit(report.damaged.length === 0 ? 0 : 1);
    });
}
