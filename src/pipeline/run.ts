/**
 * The pipeline side of a deployment: fetch the pinned values with the deploy token, run a command
 * with them in its environment (and, for a build, as files in a private temporary directory),
 * mask every value in the command's output, forward signals, and clean up whatever happens.
 *
 * Values never appear in an argument list, an error message or keyloft's own output.
 */
import { isUtf8 } from 'node:buffer';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable, Transform, Writable } from 'node:stream';
import { refused, request } from '../client/http.js';
import type { StartedDeployment, StartRequest } from '../domain/contract.js';
import { CommandError, EXIT_REFUSED, EXIT_USAGE } from '../domain/exit-codes.js';
import { NAME_RE } from '../domain/rules.js';
import { createLiveMaskStream } from './mask.js';
import { SHM_DIR, secretsDirParent, secretsDirPrefix, sweepStaleSecretsDirs } from './secrets-dir.js';

export { createLiveMaskStream };

/** What a deployment receives: runtime values as text, build values as bytes. */
export interface Released {
  runtime: Record<string, string>;
  build: Record<string, Buffer>;
  /** A preview deployment of a project whose setting "build secrets for preview deployments" is off: none were pinned. */
  buildWithheld?: boolean;
}

/** Why a preview deployment has no build secrets, said wherever build secrets would be used. */
export const BUILD_WITHHELD_MESSAGE =
  'no build secrets were released to this deployment: the project\'s setting "build secrets for preview deployments" is off (workflows of fork pull requests could read them); an admin changes it on Project Settings → General';

/** Where and as which deployment to talk to the server. */
export interface DeployAuth {
  /** Base URL of the keyloft server (no trailing slash needed). */
  url: string;
  /** Deployment id. */
  deployment: string;
  /** Deploy token (`kldt_…`), or for completion also the project's deploy key. */
  token: string;
  /**
   * Release instances the token may be sent on to when `url` answers 421 (KEYLOFT_RELEASE_URL,
   * or the one saved with `keyloft login --release-url`). Any other URL in a 421 is refused.
   */
  releaseUrls?: readonly string[];
}

/** The pipeline's requests give up sooner than a person's: a CD job should fail, not hang. */
const REQUEST_TIMEOUT_MS = 30_000;

function secretsPath(id: string): string {
  return `/api/v1/deployments/${encodeURIComponent(id)}/secrets`;
}

/**
 * Fetches the deployment's pinned values. An `api`-role server answers 421 `wrong_role` with
 * `details.releaseUrl`: that URL is followed once — with the deploy token — only when it is the
 * same origin as `auth.url` or one of `auth.releaseUrls` (client/http.ts). Anything else is
 * refused before the token is sent there: a 421 must not be a way to have the token handed to
 * another host.
 */
export async function fetchReleased(auth: DeployAuth): Promise<Released> {
  const reply = await request({
    method: 'GET',
    base: auth.url,
    path: secretsPath(auth.deployment),
    token: auth.token,
    timeoutMs: REQUEST_TIMEOUT_MS,
    follow421: { releaseUrls: auth.releaseUrls ?? [] },
    releaseUnreachableNote: 'no secrets were fetched',
  });
  if (reply.status !== 200) throw refused('fetching the deployment secrets was', reply);
  return parseReleased(reply.body);
}

// biome-ignore lint/suspicious/noExplicitAny: an unchecked reply, checked field by field here
function parseReleased(body: any): Released {
  const bad = () => new CommandError('the server sent a malformed secrets reply', EXIT_REFUSED);
  if (!body || typeof body !== 'object' || typeof body.runtime !== 'object' || typeof body.build !== 'object' || !body.runtime || !body.build) throw bad();
  const runtime: Record<string, string> = {};
  const build: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(body.runtime as Record<string, unknown>)) {
    if (!NAME_RE.test(name) || typeof value !== 'string') throw bad();
    runtime[name] = value;
  }
  for (const [name, value] of Object.entries(body.build as Record<string, unknown>)) {
    if (!NAME_RE.test(name) || typeof value !== 'string') throw bad();
    build[name] = Buffer.from(value, 'base64');
  }
  return { runtime, build, ...(body.buildWithheld === true ? { buildWithheld: true } : {}) };
}

/** The reply of `POST /projects/{slug}/deployments`: the API contract's type. */
export type { StartedDeployment };

/** The start body (the API contract's): `textBuildSecrets` refuses before starting when a build secret is binary (deploy fly). */
export type { StartRequest };

/** Starts a deployment with a personal token or the project's deploy key. */
export async function startDeployment(url: string, token: string, project: string, body: StartRequest): Promise<StartedDeployment> {
  const reply = await request<StartedDeployment>({
    method: 'POST',
    base: url,
    path: `/api/v1/projects/${encodeURIComponent(project)}/deployments`,
    token,
    body,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  if (reply.status !== 201) throw refused('starting the deployment was', reply);
  return checkStarted(reply.body);
}

/** A started deployment's reply, or a refusal when it lacks what the pipeline needs. */
export function checkStarted(b: StartedDeployment | undefined): StartedDeployment {
  if (!b || typeof b.id !== 'string' || typeof b.token !== 'string') throw new CommandError('the server sent a malformed deployment reply', EXIT_REFUSED);
  return b;
}

/** Ends the deployment as succeeded or failed (revokes its token). */
export async function completeDeployment(auth: DeployAuth, status: 'succeeded' | 'failed', reason?: string): Promise<unknown> {
  const body = status === 'failed' && reason ? { status, reason: [...reason].slice(0, 500).join('') } : { status };
  const reply = await request({
    method: 'POST',
    base: auth.url,
    path: `/api/v1/deployments/${encodeURIComponent(auth.deployment)}/complete`,
    token: auth.token,
    body,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  if (reply.status !== 200) throw refused(`completing the deployment as ${status} was`, reply);
  return reply.body;
}

/** Every value worth masking: runtime and build values, plus any extra strings (tokens). */
export function maskValues(released: Released, extra: Array<string | undefined> = []): Array<string | Buffer> {
  const out: Array<string | Buffer> = [...Object.values(released.runtime), ...Object.values(released.build)];
  for (const e of extra) if (e) out.push(e);
  return out;
}

/** Whether bytes can be an environment variable's value (UTF-8 text without NUL). */
export function envSafe(value: Buffer): boolean {
  return !value.includes(0) && isUtf8(value);
}

/**
 * Creates a private directory (0700) holding one file per build secret (0600, exact bytes),
 * named after the secret, under /dev/shm (tmpfs) where present. Returns its path.
 */
export function writeSecretsDir(build: Record<string, Buffer>, parent = secretsDirParent(process.env.KEYLOFT_TMPDIR)): string {
  const dir = mkdtempSync(secretsDirPrefix(parent));
  try {
    chmodSync(dir, 0o700);
    for (const [name, value] of Object.entries(build)) {
      if (!NAME_RE.test(name)) continue;
      const file = join(dir, name);
      writeFileSync(file, value, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

/** Environment variables that must not reach the child: credentials of keyloft itself. */
export const WITHHELD_ENV = ['KEYLOFT_DEPLOY_TOKEN', 'KEYLOFT_TOKEN', 'KEYLOFT_SECRETS_DIR', 'KEYLOFT_OIDC_TOKEN', 'KEYLOFT_OIDC_TOKEN_FILE'];

export interface RunOptions {
  /** The command and its arguments (no values in here, ever). */
  command: string[];
  released: Released;
  /** Build mode: build secrets as env vars and as files in KEYLOFT_SECRETS_DIR (no runtime secrets). */
  build: boolean;
  /** Base environment (default process.env); keyloft's own tokens are removed from it. */
  env?: NodeJS.ProcessEnv;
  stdout?: Writable;
  stderr?: Writable;
  /** Also mask these strings (e.g. the deploy token). */
  extraMask?: Array<string | undefined>;
  /** Install SIGINT/SIGTERM/SIGHUP handlers on this process that forward to the child (CLI use). */
  forwardSignals?: boolean;
  /** Where keyloft writes its own notes (names only, never values); default process.stderr. */
  log?: (line: string) => void;
}

export interface RunResult {
  /** The exit code keyloft should exit with: the child's, or 128+n for a signal. */
  code: number;
  /** The signal that ended the child, if any. */
  childSignal: NodeJS.Signals | null;
  /** The signal keyloft received and forwarded, if any. */
  receivedSignal: NodeJS.Signals | null;
  /** The secrets directory that was used (already removed). */
  secretsDir: string | undefined;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 1);
}

/**
 * Runs `command` with the secrets, masking its stdout and stderr separately. Resolves when the
 * child has exited and its output is flushed; the secrets directory is gone by then.
 */
export async function runWithSecrets(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`keyloft: ${line}\n`));
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
  for (const k of WITHHELD_ENV) delete env[k];

  let secretsDir: string | undefined;
  const removeDir = () => {
    if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
  };
  // Last resort if keyloft itself dies (an uncaught error): the 'exit' event still runs.
  process.once('exit', removeDir);

  try {
    // Directories of earlier runs that were SIGKILLed (the only way one survives) go first.
    const swept = sweepStaleSecretsDirs([process.env.KEYLOFT_TMPDIR || SHM_DIR, SHM_DIR, tmpdir()].filter((d) => d));
    if (swept.length > 0) log(`removed ${swept.length} secrets director${swept.length === 1 ? 'y' : 'ies'} left by a killed keyloft run`);
    if (opts.build) {
      if (opts.released.buildWithheld) log(BUILD_WITHHELD_MESSAGE);
      secretsDir = writeSecretsDir(opts.released.build);
      env.KEYLOFT_SECRETS_DIR = secretsDir;
      for (const [name, value] of Object.entries(opts.released.build)) {
        if (envSafe(value)) env[name] = value.toString('utf8');
        else log(`build secret ${name} is binary; it is only in $KEYLOFT_SECRETS_DIR/${name}, not in the environment`);
      }
    } else {
      for (const [name, value] of Object.entries(opts.released.runtime)) env[name] = value;
    }

    const values = maskValues(opts.released, opts.extraMask);
    const stdout = opts.stdout ?? process.stdout;
    const stderr = opts.stderr ?? process.stderr;
    const [file, ...args] = opts.command;
    if (!file) throw new CommandError('no command given (usage: keyloft run [--build] -- COMMAND [ARGS…])', EXIT_USAGE);

    const child = spawn(file, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
    const outMask = createLiveMaskStream(values);
    const errMask = createLiveMaskStream(values);
    pipeMasked(child.stdout!, outMask, stdout);
    pipeMasked(child.stderr!, errMask, stderr);

    let received: NodeJS.Signals | null = null;
    let forwards = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      received ??= signal;
      forwards++;
      // The third signal no longer asks: the child is killed, the directory still removed.
      if (child.exitCode === null && child.signalCode === null) child.kill(forwards >= 3 ? 'SIGKILL' : signal);
    };
    if (opts.forwardSignals) for (const s of FORWARDED) process.on(s, onSignal);

    let spawnError: NodeJS.ErrnoException | undefined;
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError = err;
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        // A background grandchild may hold the pipes open: stop waiting for them after a while.
        graceTimer = setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
          resolve(exited!);
        }, 2000);
        graceTimer.unref();
      });
      child.once('close', (code, signal) => {
        if (graceTimer) clearTimeout(graceTimer);
        resolve(exited ?? { code, signal });
      });
    });
    if (opts.forwardSignals) for (const s of FORWARDED) process.off(s, onSignal);

    for (const m of [outMask, errMask]) if (!m.writableEnded) m.end();
    await Promise.all([outMask, errMask].map((m) => finished(m).catch(() => {})));

    removeDir();
    const dir = secretsDir;
    secretsDir = undefined;

    if (spawnError) {
      const notFound = spawnError.code === 'ENOENT';
      log(`cannot run ${JSON.stringify(file)}: ${notFound ? 'command not found' : (spawnError.code ?? spawnError.message)}`);
      return { code: notFound ? 127 : 126, childSignal: null, receivedSignal: received, secretsDir: dir };
    }
    const code = received ? signalExitCode(received) : ended.signal ? signalExitCode(ended.signal) : (ended.code ?? 1);
    return { code, childSignal: ended.signal, receivedSignal: received, secretsDir: dir };
  } finally {
    removeDir();
    process.off('exit', removeDir);
  }
}

/** child → mask → destination, without ending the destination (it may be process.stdout). */
export function pipeMasked(source: Readable, mask: Transform, dest: Writable): void {
  source.on('error', () => mask.end());
  source.pipe(mask);
  mask.on('error', () => {});
  // A closed stdout (EPIPE) must not crash keyloft before it has cleaned up and completed.
  if (dest.listenerCount('error') === 0) dest.on('error', () => {});
  mask.pipe(dest, { end: false });
}
