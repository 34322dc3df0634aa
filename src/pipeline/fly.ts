/**
 * The Fly.io driver behind `keyloft deploy fly`: start a deployment, stage the runtime secrets
 * with `flyctl secrets import --stage` (values on stdin only), run `flyctl deploy` with the build
 * secrets as `--build-secret NAME=VALUE` (flyctl's own interface), mask all of flyctl's output,
 * and complete the deployment by flyctl's exit status.
 */
import { spawn } from 'node:child_process';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { CommandError, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_USAGE } from '../domain/exit-codes.js';
import type { Environment } from '../domain/rules.js';
import {
  completeDeployment,
  createLiveMaskStream,
  type DeployAuth,
  BUILD_WITHHELD_MESSAGE,
  envSafe,
  fetchReleased,
  maskValues,
  pipeMasked,
  type Released,
  signalExitCode,
  startDeployment,
  type StartedDeployment,
  WITHHELD_ENV,
} from './run.js';
import { startDeploymentWithIdToken } from './oidc.js';

/** flyctl's stdin reader takes lines up to 64 KiB (Go's bufio.Scanner default), newline included. */
const MAX_LINE_BYTES = 64 * 1024 - 1;

/**
 * Encodes one secret as the line(s) `flyctl secrets import` parses back to exactly `value`.
 *
 * flyctl's reader (internal/command/secrets/parser.go) works line by line: `NAME=VALUE`, where
 * leading spaces of VALUE are dropped and one pair of surrounding double quotes is removed (no
 * escapes are interpreted); a VALUE starting with `"""` opens a multi-line value that runs until
 * a line ending in `"""`, lines joined with `\n`. A line's final `\r` is always dropped.
 * Returns the text (ending in `\n`) or, for a value that cannot round-trip, the reason.
 */
export function encodeFlySecret(name: string, value: string): { text: string } | { problem: string } {
  if (value.includes('\0')) return { problem: 'contains a NUL character' };
  const lines = value.split('\n');
  if (lines.some((l) => l.endsWith('\r'))) return { problem: "has a line ending in a carriage return (CRLF), which flyctl's import drops" };
  let text: string;
  if (lines.length === 1) {
    // Bare when no version of flyctl's reader would change it; else in double quotes, unless
    // the opening quote would then start a `"""` multi-line value.
    const bareOk = !value.startsWith(' ') && !value.startsWith('"');
    const quoteOk = !`"${value}"`.startsWith('"""');
    if (bareOk) text = `${name}=${value}\n`;
    else if (quoteOk) text = `${name}="${value}"\n`;
    else return { problem: "starts with two double quotes, which flyctl's import reads as the start of a multi-line value" };
  } else {
    // The first line follows `"""`; the last line ends with `"""`; no line in between may end with `"""`.
    const middle = lines.slice(1, -1);
    if (middle.some((l) => l.endsWith('"""'))) return { problem: 'has a line ending in """, which ends a multi-line value in flyctl\'s import' };
    text = `${name}="""${lines.join('\n')}"""\n`;
  }
  for (const line of text.split('\n')) {
    if (Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES - 1) return { problem: "has a line longer than flyctl's import reads (64 KiB)" };
  }
  return { text };
}

/** The whole stdin of `flyctl secrets import`, or CommandError naming the secrets (never values) that cannot be encoded. */
export function flySecretsDotenv(runtime: Record<string, string>): string {
  const parts: string[] = [];
  const problems: string[] = [];
  for (const [name, value] of Object.entries(runtime)) {
    const r = encodeFlySecret(name, value);
    if ('problem' in r) problems.push(`${name} ${r.problem}`);
    else parts.push(r.text);
  }
  if (problems.length > 0) throw new CommandError(`cannot pass these secrets to flyctl: ${problems.join('; ')}`, EXIT_USAGE);
  return parts.join('');
}

/** `--build-secret NAME=VALUE` pairs, or CommandError for values an argument cannot carry. */
export function buildSecretArgs(build: Record<string, Buffer>): string[] {
  const args: string[] = [];
  const binary: string[] = [];
  for (const [name, value] of Object.entries(build)) {
    if (!envSafe(value)) binary.push(name);
    else args.push('--build-secret', `${name}=${value.toString('utf8')}`);
  }
  if (binary.length > 0) {
    throw new CommandError(
      `build secrets ${binary.join(', ')} are binary (NUL or not UTF-8); flyctl's --build-secret takes text only — store them base64-encoded and decode in the Dockerfile`,
      EXIT_USAGE,
    );
  }
  return args;
}

/** The flyctl executable: KEYLOFT_FLYCTL, else `flyctl` on PATH. */
export function flyctlPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEYLOFT_FLYCTL || 'flyctl';
}

export interface FlyctlRun {
  code: number;
  signal: NodeJS.Signals | null;
  /** The last non-empty line flyctl printed (stdout or stderr), after masking: the failure reason's detail. */
  lastLine: string;
}

export interface FlyctlOptions {
  flyctl: string;
  args: string[];
  /** Written to flyctl's stdin (then closed); without it flyctl gets no stdin. */
  stdin?: string;
  env: NodeJS.ProcessEnv;
  mask: Array<string | Buffer>;
  stdout: Writable;
  stderr: Writable;
  /** Called with the child so that signals can be forwarded to it. */
  onChild?: (kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs flyctl with masked stdout/stderr; resolves with its exit code once its output is flushed. */
export async function runFlyctl(opts: FlyctlOptions): Promise<FlyctlRun> {
  const child = spawn(opts.flyctl, opts.args, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  opts.onChild?.((signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
  const outMask = createLiveMaskStream(opts.mask);
  const errMask = createLiveMaskStream(opts.mask);
  pipeMasked(child.stdout!, outMask, opts.stdout);
  pipeMasked(child.stderr!, errMask, opts.stderr);
  // The last line, as printed (masked): kept for the failure reason sent with `complete`.
  let lastLine = '';
  let partial = '';
  const track = (chunk: Buffer | string) => {
    const lines = (partial + chunk.toString()).split(/\r?\n/);
    partial = (lines.pop() ?? '').slice(-1000);
    for (const l of lines) if (l.trim() !== '') lastLine = l.trim();
  };
  outMask.on('data', track);
  errMask.on('data', track);
  child.stdin!.on('error', () => {}); // flyctl may exit without reading stdin
  child.stdin!.end(opts.stdin ?? '');

  let spawnError: NodeJS.ErrnoException | undefined;
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  for (const m of [outMask, errMask]) if (!m.writableEnded) m.end();
  await Promise.all([outMask, errMask].map((m) => finished(m).catch(() => {})));
  if (spawnError) {
    const notFound = spawnError.code === 'ENOENT';
    throw new CommandError(
      notFound
        ? `flyctl not found (looked for ${JSON.stringify(opts.flyctl)}; install flyctl or set KEYLOFT_FLYCTL)`
        : `cannot run flyctl: ${spawnError.code ?? spawnError.message}`,
      notFound ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE,
    );
  }
  if (partial.trim() !== '') lastLine = partial.trim();
  return { code: ended.signal ? signalExitCode(ended.signal) : (ended.code ?? 1), signal: ended.signal, lastLine };
}

export interface DeployFlyOptions {
  url: string;
  /** Personal API token or the project's deploy key (unless `idToken`). */
  token?: string;
  /** A CI ID token to exchange for the deployment instead (a trust policy must accept it). */
  idToken?: string;
  /** Release instances a 421 may send the deploy token on to (see `DeployAuth.releaseUrls`). */
  releaseUrls?: readonly string[];
  project: string;
  environment: Environment;
  pr?: number;
  ref?: string;
  /** Fly app name; default: the app the server names for this deployment. */
  app?: string;
  /** Extra arguments for `flyctl deploy`. */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  stdout?: Writable;
  stderr?: Writable;
  log?: (line: string) => void;
  forwardSignals?: boolean;
}

export interface DeployFlyResult {
  /** keyloft's exit code: flyctl's, or 128+n when interrupted. */
  code: number;
  deployment: StartedDeployment;
  app: string;
  status: 'succeeded' | 'failed';
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Starts a deployment, drives flyctl, completes the deployment by the outcome. */
export async function deployFly(opts: DeployFlyOptions): Promise<DeployFlyResult> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`keyloft: ${line}\n`));
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const request = {
    environment: opts.environment,
    ...(opts.pr !== undefined ? { pr: opts.pr } : {}),
    ...(opts.ref !== undefined ? { ref: opts.ref } : {}),
    // flyctl's --build-secret takes text: the server refuses before anything starts when a build secret is binary.
    textBuildSecrets: true,
  };
  const started =
    opts.idToken !== undefined
      ? await startDeploymentWithIdToken(opts.url, opts.project, request, opts.idToken)
      : await startDeployment(opts.url, opts.token ?? '', opts.project, request);
  const auth: DeployAuth = { url: opts.url, deployment: started.id, token: started.token, ...(opts.releaseUrls ? { releaseUrls: opts.releaseUrls } : {}) };
  const app = opts.app || started.project?.app;
  const pr = opts.pr ?? started.deployment?.pr ?? undefined;
  log(`deployment ${started.id} started (${opts.environment}${pr !== undefined && pr !== null ? ` #${pr}` : ''}) for Fly app ${app ?? '(none)'}`);

  let status: 'succeeded' | 'failed' = 'failed';
  let outcomeKnown = false;
  let received: NodeJS.Signals | null = null;
  let killCurrent: ((s: NodeJS.Signals) => void) | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    received ??= s;
    killCurrent?.(s);
  };
  if (opts.forwardSignals) for (const s of FORWARDED) process.on(s, onSignal);
  try {
    if (!app) throw new CommandError("no Fly app name: pass --app NAME or set the project's Fly app name", EXIT_USAGE);
    const released: Released = await fetchReleased(auth);
    const dotenv = flySecretsDotenv(released.runtime);
    const buildArgs = buildSecretArgs(released.build);

    const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
    for (const k of WITHHELD_ENV) delete env[k];
    const flyctl = flyctlPath(opts.env ?? process.env);
    const mask = maskValues(released, [started.token, opts.token, opts.idToken]);
    const common = { flyctl, env, mask, stdout, stderr, onChild: (k: (s: NodeJS.Signals) => void) => (killCurrent = k) };

    let code = 0;
    let reason: string | undefined;
    const failed = (what: string, run: FlyctlRun) => `${what} exited with code ${run.code}${run.lastLine ? `: ${run.lastLine}` : ''}`;
    const names = Object.keys(released.runtime);
    if (names.length > 0) {
      log(`staging ${names.length} runtime secret(s) on ${app}: ${names.join(', ')}`);
      const staged = await runFlyctl({ ...common, args: ['secrets', 'import', '--app', app, '--stage'], stdin: dotenv });
      code = staged.code;
      if (code !== 0) reason = failed('flyctl secrets import', staged);
      if (code !== 0 && !received) log(`flyctl secrets import failed (exit ${code}); not deploying`);
    }
    // Secrets deleted in keyloft since this app's last succeeded deployment: unset them on Fly too (names only).
    const removed = (started.pinned.removed ?? []).filter((n) => !(n in released.runtime));
    if (code === 0 && !received && removed.length > 0) {
      log(`unsetting ${removed.length} deleted secret(s) on ${app}: ${removed.join(', ')}`);
      const unset = await runFlyctl({ ...common, args: ['secrets', 'unset', '--app', app, '--stage', ...removed] });
      code = unset.code;
      if (code !== 0) reason = failed('flyctl secrets unset', unset);
      if (code !== 0 && !received) log(`flyctl secrets unset failed (exit ${code}); not deploying`);
    }
    if (code === 0 && !received) {
      const buildNames = Object.keys(released.build);
      if (released.buildWithheld) log(BUILD_WITHHELD_MESSAGE);
      log(`flyctl deploy --app ${app}${buildNames.length > 0 ? ` with build secret(s) ${buildNames.join(', ')}` : ''}`);
      const deployed = await runFlyctl({ ...common, args: ['deploy', '--app', app, ...buildArgs, ...(opts.extraArgs ?? [])] });
      code = deployed.code;
      if (code !== 0) reason = failed('flyctl deploy', deployed);
    }
    if (received) {
      code = signalExitCode(received);
      reason = `interrupted by ${received}`;
    }
    status = code === 0 ? 'succeeded' : 'failed';
    outcomeKnown = true;
    await completeDeployment(auth, status, reason);
    log(`deployment ${started.id} ${status}`);
    return { code, deployment: started, app, status };
  } catch (err) {
    // Whatever went wrong before flyctl's outcome: the deployment failed (best effort).
    if (!outcomeKnown)
      await completeDeployment(auth, 'failed', err instanceof CommandError ? `keyloft: ${err.message}` : 'keyloft failed before flyctl finished').catch(
        () => {},
      );
    throw err;
  } finally {
    if (opts.forwardSignals) for (const s of FORWARDED) process.off(s, onSignal);
  }
}
