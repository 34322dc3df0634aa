/**
 * The CLI's saved server URL and personal API token.
 *
 * File: `$KEYLOFT_CONFIG_DIR/config.json`, else `$XDG_CONFIG_HOME/keyloft/config.json`, else
 * `~/.config/keyloft/config.json`; the directory is 0700 and the file 0600.
 * Precedence: command-line flags > KEYLOFT_URL / KEYLOFT_TOKEN > the file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { normalizeUrl } from './http-client.js';

export interface SavedConfig {
  url?: string;
  token?: string;
  /** Id of the API token that `keyloft login` created (so `logout` can revoke it). */
  tokenId?: string;
  /** Who logged in (for messages only). */
  email?: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEYLOFT_CONFIG_DIR) return env.KEYLOFT_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'keyloft');
  return join(homedir(), '.config', 'keyloft');
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

/** The saved configuration ({} when there is none). A malformed file is a usage error naming the file. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): SavedConfig {
  const file = configPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CommandError(`cannot read ${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CommandError(`${file} is not valid JSON; fix it or run \`keyloft logout\` and \`keyloft login\` again`, EXIT_USAGE);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CommandError(`${file} must hold a JSON object`, EXIT_USAGE);
  const o = parsed as Record<string, unknown>;
  const out: SavedConfig = {};
  for (const k of ['url', 'token', 'tokenId', 'email'] as const) if (typeof o[k] === 'string') out[k] = o[k];
  return out;
}

/** Writes the configuration atomically: directory 0700, file 0600 (also tightened when they already exist). */
export function writeConfig(cfg: SavedConfig, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {
    // best effort (e.g. a directory owned by someone else): the file itself is still 0600
  }
  const file = configPath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

/** Removes the saved configuration; returns whether there was one. */
export function clearConfig(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = configPath(env);
  if (!existsSync(file)) return false;
  rmSync(file, { force: true });
  return true;
}

export interface TargetOptions {
  url?: string;
  token?: string;
}

export interface Target {
  url: string;
  token: string;
  /** Where each part came from, for messages. */
  source: { url: 'flag' | 'env' | 'file'; token: 'flag' | 'env' | 'file' };
}

/**
 * The server URL and token to use: flags > KEYLOFT_URL / KEYLOFT_TOKEN > the file saved by `keyloft login`.
 * Throws a usage error (exit 1) when either is missing.
 */
export function resolveTarget(opts: TargetOptions = {}, env: NodeJS.ProcessEnv = process.env): Target {
  let file: SavedConfig | undefined;
  const saved = () => (file ??= readConfig(env));
  const pick = (flag: string | undefined, envName: 'KEYLOFT_URL' | 'KEYLOFT_TOKEN', key: 'url' | 'token') => {
    if (flag) return { value: flag, source: 'flag' as const };
    if (env[envName]) return { value: env[envName]!, source: 'env' as const };
    const v = saved()[key];
    return v ? { value: v, source: 'file' as const } : undefined;
  };
  const url = pick(opts.url, 'KEYLOFT_URL', 'url');
  const token = pick(opts.token, 'KEYLOFT_TOKEN', 'token');
  if (!url || !token) {
    const missing = [!url ? 'server URL' : '', !token ? 'token' : ''].filter(Boolean).join(' and ');
    throw new CommandError(`no ${missing} configured: run \`keyloft login --url URL\`, or set KEYLOFT_URL and KEYLOFT_TOKEN`, EXIT_USAGE);
  }
  return { url: normalizeUrl(url.value), token: token.value, source: { url: url.source, token: token.source } };
}
