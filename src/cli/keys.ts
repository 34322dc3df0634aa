import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { generateRawKeyPair } from '../crypto/keys.js';
import { type MasterKey, masterKeyFromPrivate, MissingMasterKeyError } from '../crypto/keyring.js';
import { KeyloftError } from '../domain/errors.js';
import { loadMasterKeys, StartupError, verifyMasterKeys } from '../services/bootstrap.js';
import { appendKeyToFile, createRotationService, keyStatus } from '../services/rotation.service.js';
import { type Database, migrateToLatest, openDatabase } from '../store/db.js';

function fail(message: string, code = 1): never {
  process.stderr.write(`keyloft: ${message}\n`);
  process.exit(code);
}

function config(): Config {
  try {
    return loadConfig({ ...process.env, KEYLOFT_ROLE: 'all' });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

async function withDb<T>(cfg: Config, fn: (d: Database) => Promise<T>): Promise<T> {
  const database = openDatabase(cfg.databaseUrl, { preparedStatements: cfg.databasePreparedStatements });
  try {
    await migrateToLatest(database.db);
    return await fn(database);
  } catch (err) {
    if (err instanceof StartupError) fail(`refusing to rotate: ${err.message}`);
    if (err instanceof MissingMasterKeyError) fail(err.message);
    if (err instanceof KeyloftError) fail(`${err.message}${err.field ? ` (field: ${err.field})` : ''}`, 2);
    throw err;
  } finally {
    await database.close();
  }
}

/** The key file new keys are appended to: KEYLOFT_MASTER_KEY_FILE, or the embedded default when no key is in the environment. */
function keyFileOf(cfg: Config): string | undefined {
  return cfg.masterKeyFile ?? (cfg.masterKeys.length === 0 && cfg.embedded ? cfg.defaultMasterKeyFile : undefined);
}

function readKeyFile(file: string): MasterKey {
  if (!existsSync(file)) fail(`the new key file ${file} does not exist`);
  const lines = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const b64 = lines[lines.length - 1];
  if (!b64 || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) fail(`${file} must hold a master private key: 32 bytes in base64 (44 characters) on its last line`);
  return masterKeyFromPrivate(new Uint8Array(Buffer.from(b64, 'base64')));
}

function positive(v: string, name: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) fail(`${name} must be a positive whole number`);
  return Number(v);
}

interface RotateOptions {
  newKeyFile?: string;
  registerOnly?: boolean;
  project?: string;
  batchSize: string;
  maxBatches?: string;
  json?: boolean;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("master and project key rotation, on the server's own database (same configuration as `keyloft serve`)");

  keys
    .command('rotate')
    .description("re-wrap every project key under a new master key (resumable); with --project, replace that project's key pairs and re-seal its values")
    .option('--new-key-file <file>', 'the new master private key (base64, last line of the file); without it a key is generated and appended to the key file')
    .option('--register-only', 'only store the new master public key (so release servers can be configured with it first), re-wrap nothing')
    .option('--project <slug>', "rotate this project's own key pairs instead: re-seal every current and historical value")
    .option('--batch-size <n>', 'rows per committed batch', '100')
    .option('--max-batches <n>', 'stop (resumably) after this many batches')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nA rotation commits batch by batch and records its progress: run the same command again to resume.\n' +
        'Servers keep working throughout: a row is always readable under the master key id it names, and release\n' +
        'servers re-read their key file when they meet a key id they do not hold. With keys in KEYLOFT_MASTER_KEY,\n' +
        'run with --register-only first, add the key to every release server, restart them, then rotate.\n',
    )
    .action(async (o: RotateOptions) => {
      const cfg = config();
      const batchSize = positive(o.batchSize, '--batch-size');
      const maxBatches = o.maxBatches !== undefined ? positive(o.maxBatches, '--max-batches') : undefined;
      const out = (text: string, json: unknown) => process.stdout.write(o.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
      const code = await withDb(cfg, async ({ db }) => {
        const { keys: configured } = await loadMasterKeys(cfg, db);
        const keyring = await verifyMasterKeys(db, configured, Date.now());
        const svc = createRotationService({ db, clock: Date.now, keyring });
        if (o.project) {
          const r = await svc.rotateProject(o.project, { batchSize, ...(maxBatches !== undefined ? { maxBatches } : {}) });
          out(
            r.done
              ? `project ${o.project}: new key pairs ${Object.values(r.newPairs).join(', ')}; re-sealed ${r.resealed} value(s); retired ${r.retired.length} old pair(s)`
              : `project ${o.project}: re-sealed ${r.resealed} value(s) in ${r.batches} batch(es) and stopped; run the same command again to resume`,
            { project: o.project, ...r },
          );
          return r.done ? 0 : 3;
        }
        const keyFile = keyFileOf(cfg);
        const given = o.newKeyFile ? readKeyFile(o.newKeyFile) : undefined;
        const inProgress = await svc.masterRecord();
        let target: string;
        if (inProgress) {
          if (given && given.id !== inProgress.target)
            fail(`a rotation to master key ${inProgress.target} is in progress; run \`keyloft keys rotate\` without --new-key-file to resume it first`, 2);
          target = inProgress.target;
          process.stderr.write(`keyloft: resuming the rotation to master key ${target} (${inProgress.rewrapped} project key(s) re-wrapped so far)\n`);
        } else {
          let key = given;
          if (!key) {
            if (!keyFile)
              fail(
                'the master keys come from KEYLOFT_MASTER_KEY: create a key yourself (32 random bytes, base64) and pass it with --new-key-file, then add it to KEYLOFT_MASTER_KEY',
              );
            const pair = generateRawKeyPair();
            key = masterKeyFromPrivate(pair.privateKey);
            pair.privateKey.fill(0);
          }
          // Public half stored retired (unused) first, then the private half saved, then activated:
          // a crash at any point leaves nothing wrapped under a key that is not saved.
          await svc.registerMasterKey(key);
          if (keyFile && appendKeyToFile(keyFile, key)) process.stderr.write(`keyloft: added master key ${key.id} to ${keyFile}\n`);
          else if (!keyFile) process.stderr.write(`keyloft: add master key ${key.id} (from ${o.newKeyFile}) to KEYLOFT_MASTER_KEY on every release server\n`);
          if (o.registerOnly) {
            out(
              `registered master key ${key.id}; configure it on every release server, restart them, then run \`keyloft keys rotate --new-key-file ${o.newKeyFile ?? keyFile}\``,
              { registered: key.id },
            );
            return 0;
          }
          target = (await svc.beginMasterRotation(key.id)).target;
        }
        const r = await svc.rewrapBatches({ batchSize, ...(maxBatches !== undefined ? { maxBatches } : {}) });
        out(
          r.done
            ? `rotated to master key ${target}: re-wrapped ${r.rewrapped} project key(s) in ${r.batches} batch(es); retired ${r.retired.length ? r.retired.join(', ') : 'no key'}. ` +
                'A retired key can be removed from the configuration once `keyloft keys status` shows it wraps 0 project keys.'
            : `re-wrapped ${r.rewrapped} project key(s) in ${r.batches} batch(es), ${r.remaining} left; run \`keyloft keys rotate\` again to resume`,
          r,
        );
        return r.done ? 0 : 3;
      });
      process.exit(code);
    });

  keys
    .command('status')
    .description('which key ids are in use and by how many rows')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const cfg = config();
      const s = await withDb(cfg, ({ db }) => keyStatus(db));
      if (o.json) {
        process.stdout.write(`${JSON.stringify(s)}\n`);
        return;
      }
      const lines = ['master keys (newest last):'];
      for (const m of s.masters) {
        lines.push(
          `  ${m.id}  ${m.retiredAt === null ? 'active ' : 'retired'}  wraps ${m.projectKeys} project key(s)${m.retiredAt !== null && m.projectKeys === 0 ? '  (unused: may be removed from the configuration)' : ''}`,
        );
      }
      lines.push(`project key pairs: ${s.projectKeyPairs} (${s.retiredProjectKeyPairs} retired)`);
      lines.push(`sealed values: ${s.sealedVersions} (${s.versionsUnderRetiredPairs} under retired pairs)`);
      if (s.rotation) lines.push(`rotation in progress to ${s.rotation.target}: ${s.rotation.rewrapped} re-wrapped; run \`keyloft keys rotate\` to resume`);
      if (s.projectRotationsInProgress) lines.push(`project rotations in progress: ${s.projectRotationsInProgress}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
