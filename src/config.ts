import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';

export type ServerRole = 'all' | 'api' | 'release';
export const SERVER_ROLES: readonly ServerRole[] = ['all', 'api', 'release'];

/** Every setting keyloft reads, validated once and frozen. No other module reads process.env. */
export interface Config {
  readonly databaseUrl: string;
  /** True when the database is the embedded SQLite default (the master key may be generated). */
  readonly embedded: boolean;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly role: ServerRole;
  /** Base64 master private keys from KEYLOFT_MASTER_KEY (comma-separated for rotation). Never logged. */
  readonly masterKeys: readonly string[];
  readonly masterKeyFile: string | undefined;
  /** Where the master key is generated on first start of the embedded default. */
  readonly defaultMasterKeyFile: string;
  readonly logLevel: string;
  readonly deployTokenTtlMinutes: number;
  /** At most this many running deployments per deploy key (KEYLOFT_DEPLOY_KEY_MAX_RUNNING, default 5). */
  readonly deployKeyMaxRunning: number;
  readonly releaseUrl: string | undefined;
  readonly publicUrl: string | undefined;
  /**
   * Which proxies' X-Forwarded-For is believed: false (none, the default), a hop count, or a list
   * of proxy addresses / CIDRs. Never "everyone": a direct client could forge its address.
   */
  readonly trustProxy: false | number | readonly string[];
  /** Idle lifetime of a session (sliding). */
  readonly sessionTtlHours: number;
  /** Absolute lifetime of a session from sign-in, however active it is. */
  readonly sessionMaxHours: number;
  readonly bodyLimitBytes: number;
  /** KEYLOFT_RELEASE_CACHE_BYTES: bound of the cache of opened values (release and all roles; 0 turns it off). */
  readonly releaseCacheBytes: number;
  /** After SIGTERM: how long /readyz answers 503 while requests are still served, before the server closes. */
  readonly shutdownGraceMs: number;
  /** Whether GET /metrics (Prometheus text format, no auth) is served. */
  readonly metrics: boolean;
  /** KEYLOFT_OIDC_RATE_LIMIT: OIDC exchanges per minute per client address (anonymous route). */
  readonly oidcRateLimitPerMinute: number;
  /** At start: how long to keep retrying an unreachable database before giving up (0: try once). */
  readonly dbConnectTimeoutS: number;
  /**
   * KEYLOFT_DATABASE_PREPARED_STATEMENTS (PostgreSQL; default true): the hot queries run as named
   * prepared statements, parsed and planned once per connection. false for a PgBouncer in
   * transaction pooling that does not keep prepared statements (before 1.21, or max_prepared_statements = 0).
   */
  readonly databasePreparedStatements: boolean;
  /** Slow and abusive clients: time to send a request's headers, and the whole request. */
  readonly headersTimeoutS: number;
  readonly requestTimeoutS: number;
  /** How long an idle keep-alive connection is kept between requests. */
  readonly keepAliveTimeoutS: number;
  /** A connection with no traffic either way for this long is closed (also one that stops reading a response). */
  readonly idleTimeoutS: number;
  /** Open connections beyond this are refused at accept. */
  readonly maxConnections: number;
  /** Where invitation e-mails go out (smtp:// or smtps://, credentials in the URL). Never logged. */
  readonly smtpUrl: string | undefined;
  /** The From: address of those e-mails. */
  readonly mailFrom: string;
  /** OpenID Connect single sign-on for people; undefined when KEYLOFT_SSO_ISSUER is not set. */
  readonly sso: SsoConfig | undefined;
  /** KEYLOFT_SSO_ONLY: people cannot sign in with a password (the setup token still works once). */
  readonly ssoOnly: boolean;
  /** KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: admit http://127.0.0.1:* / http://localhost:* issuers (tests, local development). */
  readonly oidcAllowHttpLoopback: boolean;
}

export interface SsoConfig {
  readonly issuer: string;
  readonly clientId: string;
  /** Never logged. */
  readonly clientSecret: string;
  /** Lower-case e-mail domains whose verified addresses get an account at first sign-in (empty: none). */
  readonly allowedDomains: readonly string[];
  /** `<KEYLOFT_PUBLIC_URL>/sso/callback`, the redirect URI to register with the identity provider. */
  readonly redirectUri: string;
}

/** True for an http:// URL on a loopback host. */
export function isLoopbackHttp(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

function bool(env: Env, key: string, def: boolean, problems: string[]): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  if (raw !== 'true' && raw !== 'false') {
    problems.push(`${key} must be true or false (got ${JSON.stringify(raw)})`);
    return def;
  }
  return raw === 'true';
}

function people(e: Env, publicUrl: string | undefined, problems: string[]): Pick<Config, 'smtpUrl' | 'mailFrom' | 'sso' | 'ssoOnly' | 'oidcAllowHttpLoopback'> {
  const oidcAllowHttpLoopback = bool(e, 'KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK', false, problems);
  let smtpUrl: string | undefined;
  if (e.KEYLOFT_SMTP_URL) {
    try {
      const u = new URL(e.KEYLOFT_SMTP_URL);
      if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error();
      smtpUrl = e.KEYLOFT_SMTP_URL;
    } catch {
      // Not quoted: the URL may hold the SMTP password.
      problems.push('KEYLOFT_SMTP_URL must be an smtp:// or smtps:// URL (smtp://user:password@host:587)');
    }
    if (!publicUrl) problems.push("KEYLOFT_SMTP_URL needs KEYLOFT_PUBLIC_URL: links in e-mails are never built from a request's Host header");
  }
  const mailFrom = e.KEYLOFT_MAIL_FROM || `keyloft <keyloft@${publicUrl ? new URL(publicUrl).hostname : 'localhost'}>`;
  if (mailFrom.length > 254 || /[\r\n]/.test(mailFrom)) problems.push('KEYLOFT_MAIL_FROM must be one line of at most 254 characters');

  let sso: SsoConfig | undefined;
  const issuer = e.KEYLOFT_SSO_ISSUER;
  if (issuer) {
    const before = problems.length;
    try {
      const u = new URL(issuer);
      if (u.protocol !== 'https:' && !(oidcAllowHttpLoopback && isLoopbackHttp(issuer))) {
        problems.push(
          `KEYLOFT_SSO_ISSUER must be an https:// URL (http://127.0.0.1 and http://localhost only with KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK=true) (got ${JSON.stringify(issuer)})`,
        );
      }
    } catch {
      problems.push(`KEYLOFT_SSO_ISSUER must be a URL (got ${JSON.stringify(issuer)})`);
    }
    const clientId = e.KEYLOFT_SSO_CLIENT_ID ?? '';
    if (!clientId || clientId.length > 255) problems.push('KEYLOFT_SSO_CLIENT_ID is required with KEYLOFT_SSO_ISSUER (at most 255 characters)');
    const clientSecret = e.KEYLOFT_SSO_CLIENT_SECRET ?? '';
    if (!clientSecret) problems.push('KEYLOFT_SSO_CLIENT_SECRET is required with KEYLOFT_SSO_ISSUER');
    const allowedDomains = (e.KEYLOFT_SSO_ALLOWED_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean);
    for (const d of allowedDomains) {
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(d))
        problems.push(`KEYLOFT_SSO_ALLOWED_DOMAINS: ${JSON.stringify(d)} is not a domain name (example.com)`);
    }
    if (!publicUrl) problems.push('KEYLOFT_SSO_ISSUER needs KEYLOFT_PUBLIC_URL: the identity provider returns to <KEYLOFT_PUBLIC_URL>/sso/callback');
    if (problems.length === before)
      sso = { issuer: issuer.replace(/\/+$/, ''), clientId, clientSecret, allowedDomains, redirectUri: `${publicUrl}/sso/callback` };
  }
  const ssoOnly = bool(e, 'KEYLOFT_SSO_ONLY', false, problems);
  if (ssoOnly && !issuer) problems.push('KEYLOFT_SSO_ONLY=true needs KEYLOFT_SSO_ISSUER (otherwise nobody could sign in)');
  return { smtpUrl, mailFrom, sso, ssoOnly, oidcAllowHttpLoopback };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, key: string, def: number, min: number, max: number, problems: string[]): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${key} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
    return def;
  }
  return Number(raw);
}

function url(env: Env, key: string, problems: string[]): string | undefined {
  const raw = env[key];
  if (!raw) return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return raw.replace(/\/+$/, '');
  } catch {
    problems.push(`${key} must be an http(s) URL (got ${JSON.stringify(raw)})`);
    return undefined;
  }
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * KEYLOFT_TRUST_PROXY: unset/false, a hop count (1–10), or a comma-separated list of proxy
 * addresses, CIDRs or the names loopback / linklocal / uniquelocal. `true` is refused: it would
 * believe any client's X-Forwarded-For (forged addresses bypass lockout and fill the audit log).
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string[] {
  const v = (raw ?? '').trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') {
    problems.push(
      "KEYLOFT_TRUST_PROXY=true would trust any client's X-Forwarded-For header; set the number of proxies in front of keyloft (e.g. 1) or their addresses/CIDRs (e.g. 10.0.0.0/8)",
    );
    return false;
  }
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 10) problems.push(`KEYLOFT_TRUST_PROXY must be a hop count from 1 to 10 or a list of proxy addresses/CIDRs (got ${JSON.stringify(v)})`);
    return n >= 1 && n <= 10 ? n : false;
  }
  const entries = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = entries.filter((entry) => {
    if (PROXY_NAMES.has(entry)) return false;
    const [addr, bits, extra] = entry.split('/');
    const family = isIP(addr ?? '');
    if (family === 0 || extra !== undefined) return true;
    if (bits === undefined) return false;
    return !/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128);
  });
  if (bad.length > 0 || entries.length === 0) {
    problems.push(
      `KEYLOFT_TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of proxy addresses/CIDRs (e.g. 10.0.0.0/8,127.0.0.1); not valid: ${JSON.stringify(bad.join(',') || v)}`,
    );
    return false;
  }
  return entries;
}

/**
 * Reads the configuration from the environment, with command-line overrides.
 * Throws ConfigError listing every problem.
 */
export function loadConfig(env: Env = process.env, overrides: { role?: string; port?: string; host?: string } = {}): Config {
  const problems: string[] = [];
  const e: Env = { ...env };
  if (overrides.role !== undefined) e.KEYLOFT_ROLE = overrides.role;
  if (overrides.port !== undefined) e.KEYLOFT_PORT = overrides.port;
  if (overrides.host !== undefined) e.KEYLOFT_HOST = overrides.host;

  const dataDir = resolve(e.KEYLOFT_DATA_DIR || './data');
  let databaseUrl = e.KEYLOFT_DATABASE_URL || '';
  let embedded = false;
  if (!databaseUrl) {
    databaseUrl = resolve(dataDir, 'keyloft.db');
    embedded = true;
  } else if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    try {
      new URL(databaseUrl);
    } catch {
      problems.push('KEYLOFT_DATABASE_URL is not a valid postgres:// URL');
    }
  } else if (/^(sqlite|file):/.test(databaseUrl) || isAbsolute(databaseUrl) || databaseUrl.startsWith('.')) {
    const path = databaseUrl.replace(/^(sqlite|file):(\/\/)?/, '');
    databaseUrl = resolve(path);
    embedded = true;
  } else {
    problems.push('KEYLOFT_DATABASE_URL must be postgres://…, postgresql://…, sqlite:PATH or a file path');
  }

  const role = (e.KEYLOFT_ROLE || 'all') as ServerRole;
  if (!SERVER_ROLES.includes(role)) problems.push(`KEYLOFT_ROLE / --role must be one of all, api, release (got ${JSON.stringify(e.KEYLOFT_ROLE)})`);

  const masterKeys = (e.KEYLOFT_MASTER_KEY || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  masterKeys.forEach((k, i) => {
    if (!/^[A-Za-z0-9+/]{43}=$/.test(k) || Buffer.from(k, 'base64').length !== 32) {
      problems.push(`KEYLOFT_MASTER_KEY${masterKeys.length > 1 ? ` (entry ${i + 1})` : ''} must be 32 bytes in base64 (44 characters)`);
    }
  });
  const masterKeyFile = e.KEYLOFT_MASTER_KEY_FILE ? resolve(e.KEYLOFT_MASTER_KEY_FILE) : undefined;
  if (role === 'api' && (masterKeys.length > 0 || masterKeyFile)) {
    problems.push('the api role holds no master key: unset KEYLOFT_MASTER_KEY and KEYLOFT_MASTER_KEY_FILE, or use --role all|release');
  }

  const host = e.KEYLOFT_HOST || '127.0.0.1';
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) problems.push(`KEYLOFT_HOST must be a host name or address (got ${JSON.stringify(host)})`);
  const logLevel = e.KEYLOFT_LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`KEYLOFT_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got ${JSON.stringify(logLevel)})`);
  }
  const trustProxy = parseTrustProxy(e.KEYLOFT_TRUST_PROXY, problems);
  const metrics = e.KEYLOFT_METRICS || 'true';
  if (!['true', 'false'].includes(metrics)) problems.push(`KEYLOFT_METRICS must be true or false (got ${JSON.stringify(metrics)})`);

  const publicUrl = url(e, 'KEYLOFT_PUBLIC_URL', problems);
  const config: Config = {
    databaseUrl,
    embedded,
    port: int(e, 'KEYLOFT_PORT', 8080, 0, 65535, problems),
    host,
    dataDir,
    role,
    masterKeys,
    masterKeyFile,
    defaultMasterKeyFile: resolve(dataDir, 'master.key'),
    logLevel,
    deployTokenTtlMinutes: int(e, 'KEYLOFT_DEPLOY_TOKEN_TTL_MINUTES', 30, 1, 24 * 60, problems),
    deployKeyMaxRunning: int(e, 'KEYLOFT_DEPLOY_KEY_MAX_RUNNING', 5, 1, 1000, problems),
    releaseUrl: url(e, 'KEYLOFT_RELEASE_URL', problems),
    publicUrl,
    trustProxy,
    sessionTtlHours: int(e, 'KEYLOFT_SESSION_TTL_HOURS', 12, 1, 24 * 30, problems),
    sessionMaxHours: int(e, 'KEYLOFT_SESSION_MAX_HOURS', 168, 1, 24 * 365, problems),
    shutdownGraceMs: int(e, 'KEYLOFT_SHUTDOWN_GRACE_MS', 0, 0, 120_000, problems),
    bodyLimitBytes: int(e, 'KEYLOFT_BODY_LIMIT_BYTES', 1024 * 1024, 64 * 1024 + 1024, 64 * 1024 * 1024, problems),
    releaseCacheBytes: int(e, 'KEYLOFT_RELEASE_CACHE_BYTES', 32 * 1024 * 1024, 0, 1024 * 1024 * 1024, problems),
    metrics: metrics === 'true',
    oidcRateLimitPerMinute: int(e, 'KEYLOFT_OIDC_RATE_LIMIT', 120, 1, 100_000, problems),
    dbConnectTimeoutS: int(e, 'KEYLOFT_DB_CONNECT_TIMEOUT_S', 60, 0, 3600, problems),
    databasePreparedStatements: bool(e, 'KEYLOFT_DATABASE_PREPARED_STATEMENTS', true, problems),
    headersTimeoutS: int(e, 'KEYLOFT_HEADERS_TIMEOUT_S', 10, 1, 600, problems),
    requestTimeoutS: int(e, 'KEYLOFT_REQUEST_TIMEOUT_S', 60, 1, 3600, problems),
    keepAliveTimeoutS: int(e, 'KEYLOFT_KEEP_ALIVE_TIMEOUT_S', 72, 1, 600, problems),
    idleTimeoutS: int(e, 'KEYLOFT_IDLE_TIMEOUT_S', 90, 1, 3600, problems),
    maxConnections: int(e, 'KEYLOFT_MAX_CONNECTIONS', 4096, 16, 1_000_000, problems),
    ...people(e, publicUrl, problems),
  };
  if (config.headersTimeoutS > config.requestTimeoutS) {
    problems.push(`KEYLOFT_HEADERS_TIMEOUT_S (${config.headersTimeoutS}) must not exceed KEYLOFT_REQUEST_TIMEOUT_S (${config.requestTimeoutS})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
