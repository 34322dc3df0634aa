import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { generateRawKeyPair } from '../crypto/keys.js';
import { Keyring, type MasterKey, masterKeyFromPrivate } from '../crypto/keyring.js';
import { type Executor, isUniqueViolation } from '../store/executor.js';
import { insertMasterKey, listMasterKeys, masterKeyUsage } from '../store/keys.repository.js';

/** Start-up refused: a clear, key-free explanation for the operator. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

function parseKey(b64: string, where: string): Uint8Array {
  const raw = Buffer.from(b64.trim(), 'base64');
  if (raw.length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(b64.trim())) throw new StartupError(`${where} must hold 32 bytes in base64 (44 characters)`);
  return new Uint8Array(raw);
}

/**
 * The master private keys this process is configured with: KEYLOFT_MASTER_KEY (comma-separated),
 * KEYLOFT_MASTER_KEY_FILE (one per line), or on the embedded default `<data>/master.key`,
 * generated with mode 0600 when neither exists and the database has no key yet.
 */
export async function loadMasterKeys(config: Config, ex: Executor): Promise<{ keys: MasterKey[]; generatedFile?: string }> {
  const fromEnv = config.masterKeys.map((k, i) => parseKey(k, `KEYLOFT_MASTER_KEY${config.masterKeys.length > 1 ? ` entry ${i + 1}` : ''}`));
  const file = config.masterKeyFile ?? (fromEnv.length === 0 && config.embedded ? config.defaultMasterKeyFile : undefined);
  const fromFile: Uint8Array[] = [];
  let generatedFile: string | undefined;
  if (file) {
    if (existsSync(file)) {
      const lines = readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      if (lines.length === 0) throw new StartupError(`the master key file ${file} is empty`);
      lines.forEach((l, i) => {
        fromFile.push(parseKey(l, `line ${i + 1} of ${file}`));
      });
    } else if (!config.masterKeyFile && (await listMasterKeys(ex)).length === 0) {
      const pair = generateRawKeyPair();
      writeFileSync(file, `${Buffer.from(pair.privateKey).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      fromFile.push(pair.privateKey);
      generatedFile = file;
    } else {
      throw new StartupError(
        config.masterKeyFile
          ? `the master key file ${file} does not exist`
          : `no master key is configured: set KEYLOFT_MASTER_KEY or KEYLOFT_MASTER_KEY_FILE (the database already has keys, so a new one is not generated)`,
      );
    }
  }
  const keys = [...fromEnv, ...fromFile].map(masterKeyFromPrivate);
  if (keys.length === 0) throw new StartupError('no master key is configured: set KEYLOFT_MASTER_KEY or KEYLOFT_MASTER_KEY_FILE, or use --role api');
  return generatedFile ? { keys, generatedFile } : { keys };
}

/**
 * Checks configured master keys against the stored public keys. On an empty database the first
 * key's public half is stored. A key that matches no stored public key, or a stored key that
 * wraps project keys but is not configured, refuses the start; nothing is changed then.
 */
export async function verifyMasterKeys(ex: Executor, keys: readonly MasterKey[], now: number): Promise<Keyring> {
  const stored = await listMasterKeys(ex);
  if (stored.length === 0) {
    const first = keys[0]!;
    try {
      await insertMasterKey(ex, { id: first.id, public_key: first.publicKey, created_at: now, retired_at: null });
    } catch (err) {
      // Several instances started at once on an empty database: another one stored a key first.
      // Check against what it stored, as on any later start.
      if (isUniqueViolation(err) && (await listMasterKeys(ex)).length > 0) return verifyMasterKeys(ex, keys, now);
      throw err;
    }
    return Keyring.create([first]);
  }
  const storedIds = new Set(stored.map((s) => s.id));
  for (const k of keys) {
    const match = stored.find((s) => s.id === k.id);
    if (!match || !Buffer.from(match.public_key).equals(Buffer.from(k.publicKey))) {
      throw new StartupError(
        `the configured master key (id ${k.id}) does not match the master public key stored in the database (${[...storedIds].join(', ')}): ` +
          'this is the wrong key for this database. Nothing was changed.',
      );
    }
  }
  const usage = await masterKeyUsage(ex);
  for (const u of usage) {
    if (u.n > 0 && !keys.some((k) => k.id === u.master_key_id)) {
      throw new StartupError(`master key ${u.master_key_id} wraps ${u.n} project key(s) but is not configured; add it to KEYLOFT_MASTER_KEY or the key file`);
    }
  }
  return Keyring.create(keys);
}

/** The api role holds no key: it only needs a stored master public key to wrap new project keys. */
export async function requireStoredMasterKey(ex: Executor): Promise<void> {
  if ((await listMasterKeys(ex)).length === 0) {
    throw new StartupError('the database has no master public key yet: start a server with --role all or --role release once first');
  }
}
