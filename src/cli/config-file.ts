/**
 * The CLI's saved logins: one per server URL (like `gh`), each with its personal API token, and
 * the one in use ("current").
 *
 * File: `$KEYLOFT_CONFIG_DIR/config.json`, else `$XDG_CONFIG_HOME/keyloft/config.json`, else
 * `~/.config/keyloft/config.json`; the directory is 0700 and the file 0600.
 * Precedence: command-line flags > KEYLOFT_URL / KEYLOFT_TOKEN > the file. A saved token is only
 * ever sent to the URL it was saved for: a KEYLOFT_URL (or --url) without a saved login for it
 * sends no token unless KEYLOFT_TOKEN is given explicitly.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { normalizeUrl } from './http-client.js';

/** One saved login. */
export interface SavedConfig {
  url?: string;
  token?: string;
  /** Id of the API token that `keyloft login` created (so `logout` can revoke it). */
  tokenId?: string;
  /** Who logged in (for messages only). */
  email?: string;
  /**
   * The release instance of this server (`keyloft login --release-url`): the one other URL the
   * pipeline follows a 421 `wrong_role` answer to.
   */
  releaseUrl?: string;
}

/** The whole file: logins by normalised URL, and the current one. */
export interface SavedLogins {
  current?: string;
  hosts: Record<string, Omit<SavedConfig, 'url'>>;
}

const LOGIN_KEYS = ['token', 'tokenId', 'email', 'releaseUrl'] as const;

/** The same URL as `normalizeUrl`, or undefined when it is not one. */
function keyOf(url: string): string | undefined {
  try {
    return normalizeUrl(url);
  } catch {
    return undefined;
  }
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEYLOFT_CONFIG_DIR) return env.KEYLOFT_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'keyloft');
  return join(homedir(), '.config', 'keyloft');
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

function readFile(env: NodeJS.ProcessEnv): Record<string, unknown> | undefined {
  const file = configPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CommandError(`cannot read ${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CommandError(`${file} is not valid JSON; fix it or run \`keyloft logout\` and \`keyloft login\` again`, EXIT_USAGE);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CommandError(`${file} must hold a JSON object`, EXIT_USAGE);
  return parsed as Record<string, unknown>;
}

function pickLogin(o: unknown): Omit<SavedConfig, 'url'> {
  const out: Omit<SavedConfig, 'url'> = {};
  if (!o || typeof o !== 'object') return out;
  for (const k of LOGIN_KEYS) {
    const v = (o as Record<string, unknown>)[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/**
 * Every saved login. A file of the earlier one-login format (`{ url, token, … }`) reads as that
 * login, bound to its URL.
 */
export function readLogins(env: NodeJS.ProcessEnv = process.env): SavedLogins {
  const o = readFile(env);
  if (!o) return { hosts: {} };
  const hosts: SavedLogins['hosts'] = {};
  if (o.hosts && typeof o.hosts === 'object' && !Array.isArray(o.hosts)) {
    for (const [url, login] of Object.entries(o.hosts as Record<string, unknown>)) {
      const key = keyOf(url);
      if (key) hosts[key] = pickLogin(login);
    }
  }
  let current = typeof o.current === 'string' ? keyOf(o.current) : undefined;
  if (typeof o.url === 'string') {
    // the one-login format of keyloft before logins were bound to their URL
    const key = keyOf(o.url);
    if (key) {
      hosts[key] ??= pickLogin(o);
      current ??= key;
    }
  }
  return { ...(current && hosts[current] ? { current } : {}), hosts };
}

/** The saved login for `url` (same normalised URL), if any. */
export function loginFor(url: string, env: NodeJS.ProcessEnv = process.env): SavedConfig | undefined {
  const key = keyOf(url);
  const login = key ? readLogins(env).hosts[key] : undefined;
  return login && key ? { url: key, ...login } : undefined;
}

/** The saved login whose configured release URL is `url`, if exactly one names it. */
export function releaseLoginFor(url: string, env: NodeJS.ProcessEnv = process.env): SavedConfig | undefined {
  const key = keyOf(url);
  if (!key) return undefined;
  const hits = Object.entries(readLogins(env).hosts).filter(([, l]) => l.releaseUrl !== undefined && keyOf(l.releaseUrl) === key);
  return hits.length === 1 ? { url: hits[0]![0], ...hits[0]![1] } : undefined;
}

/** The current saved login ({} when there is none). A malformed file is a usage error naming the file. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): SavedConfig {
  const all = readLogins(env);
  return all.current ? { url: all.current, ...all.hosts[all.current] } : {};
}

function writeLogins(logins: SavedLogins, env: NodeJS.ProcessEnv): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {
    // best effort (e.g. a directory owned by someone else): the file itself is still 0600
  }
  const file = configPath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(logins, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

/**
 * Saves the login for `cfg.url` (replacing an earlier login to the same URL, keeping the others)
 * and makes it the current one. Atomic: directory 0700, file 0600 (also tightened when they exist).
 */
export function writeConfig(cfg: SavedConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (!cfg.url) throw new CommandError('a login needs a server URL', EXIT_USAGE);
  const key = normalizeUrl(cfg.url);
  const all = readLogins(env);
  all.hosts[key] = pickLogin(cfg);
  return writeLogins({ current: key, hosts: all.hosts }, env);
}

/**
 * Removes the saved login for `url` (default: the current one); the file goes with the last login.
 * Returns whether there was one.
 */
export function clearConfig(env: NodeJS.ProcessEnv = process.env, url?: string): boolean {
  const file = configPath(env);
  if (!existsSync(file)) return false;
  const all = readLogins(env);
  const key = url ? keyOf(url) : all.current;
  if (!key || !all.hosts[key]) return false;
  delete all.hosts[key];
  const rest = Object.keys(all.hosts);
  if (rest.length === 0) {
    rmSync(file, { force: true });
    return true;
  }
  writeLogins({ ...(all.current && all.current !== key ? { current: all.current } : {}), hosts: all.hosts }, env);
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
  /** The release instance the pipeline may follow a 421 to: KEYLOFT_RELEASE_URL, else the login's saved one. */
  releaseUrl: string | undefined;
}

/**
 * The server URL and token to use: flags > KEYLOFT_URL / KEYLOFT_TOKEN > the file saved by
 * `keyloft login`. A saved token is used only for the URL it was saved with. Throws a usage error
 * (exit 1) when either is missing, so nothing is sent.
 */
export function resolveTarget(opts: TargetOptions = {}, env: NodeJS.ProcessEnv = process.env): Target {
  const url = opts.url ? { value: opts.url, source: 'flag' as const } : env.KEYLOFT_URL ? { value: env.KEYLOFT_URL, source: 'env' as const } : undefined;
  let login: SavedConfig | undefined;
  let urlValue: string | undefined;
  let urlSource: Target['source']['url'] | undefined;
  if (url) {
    urlValue = normalizeUrl(url.value);
    urlSource = url.source;
    // The login saved for this URL; else the login whose configured release instance this URL is
    // (`keyloft login --release-url`): restore and copy run there with the same account.
    login = loginFor(urlValue, env) ?? releaseLoginFor(urlValue, env);
  } else {
    login = readConfig(env);
    if (login.url) {
      urlValue = login.url;
      urlSource = 'file';
    }
  }
  const token = opts.token
    ? { value: opts.token, source: 'flag' as const }
    : env.KEYLOFT_TOKEN
      ? { value: env.KEYLOFT_TOKEN, source: 'env' as const }
      : login?.token
        ? { value: login.token, source: 'file' as const }
        : undefined;
  if (!urlValue || !urlSource) {
    throw new CommandError('no server URL configured: run `keyloft login --url URL`, or set KEYLOFT_URL and KEYLOFT_TOKEN', EXIT_USAGE);
  }
  if (!token) {
    const saved = Object.keys(readLogins(env).hosts);
    throw new CommandError(
      `no token for ${urlValue}: ${saved.length > 0 ? 'the saved login is for another server and is never sent elsewhere; ' : ''}run \`keyloft login --url ${urlValue}\`, or set KEYLOFT_TOKEN`,
      EXIT_USAGE,
    );
  }
  const releaseUrl = env.KEYLOFT_RELEASE_URL || login?.releaseUrl || undefined;
  return { url: urlValue, token: token.value, source: { url: urlSource, token: token.source }, releaseUrl };
}
