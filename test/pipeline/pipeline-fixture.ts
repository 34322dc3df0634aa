/** Shared pieces of the pipeline tests: running the real `keyloft` binary as a subprocess. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEYLOFT_BIN } from '../helpers/server.js';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** An empty config dir, so that no `keyloft login` of the machine leaks into the tests. */
const EMPTY_CONFIG_DIR = mkdtempSync(join(tmpdir(), 'keyloft-test-config-'));
process.on('exit', () => rmSync(EMPTY_CONFIG_DIR, { recursive: true, force: true }));

/** Environment for a keyloft CLI process: the test's env without inherited KEYLOFT_* settings. */
export function cliEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEYLOFT_')) env[k] = v;
  env.KEYLOFT_CONFIG_DIR = EMPTY_CONFIG_DIR;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<Finished>;
}

/** Starts `node bin/keyloft.js ARGS…` with `env`; `done` resolves when it has exited. */
export function keyloft(args: string[], env: Record<string, string>, opts: { stdin?: string; timeoutMs?: number; cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [KEYLOFT_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  else child.stdin!.end();
  const done = new Promise<Finished>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keyloft ${args.join(' ')} did not finish in time\nstdout: ${out}\nstderr: ${err}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

/** Resolves once `predicate(stdout)` holds (polling), or rejects after `ms`. */
export async function waitFor(running: Running, predicate: (stdout: string) => boolean, ms = 15_000): Promise<void> {
  const start = Date.now();
  while (!predicate(running.stdout())) {
    if (running.child.exitCode !== null || running.child.signalCode !== null)
      throw new Error(`exited early\nstdout: ${running.stdout()}\nstderr: ${running.stderr()}`);
    if (Date.now() - start > ms) throw new Error(`timed out\nstdout: ${running.stdout()}\nstderr: ${running.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The forms of a value that must never appear in masked output. */
export function encodedForms(value: string | Buffer): string[] {
  const b = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  const forms = [b.toString('base64'), b.toString('base64url')];
  if (!Buffer.isBuffer(value)) {
    forms.push(value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1));
    if (value.includes('\n')) forms.push(...value.split('\n').filter((l) => l.length >= 4));
  }
  return forms.filter((f) => f.length >= 4);
}

/** Go's bufio.ScanLines: split on \n, drop one \r before it (and at the very end), no empty last token. */
function scanLines(text: string): string[] {
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** Port of flyctl's parseSecrets; `current` adds the quote stripping and trimming of newer releases. */
export function parseFlySecrets(text: string, current = true): Record<string, string> {
  const secrets: Record<string, string> = {};
  let multiline = false;
  let key = '';
  let val = '';
  for (const line of scanLines(text)) {
    if (!multiline) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const eq = line.indexOf('=');
      if (eq === -1) throw new Error(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      let k = line.slice(0, eq);
      let value = line.slice(eq + 1);
      if (current) {
        k = k.trim();
        value = value.replace(/^ +/, '');
      }
      if (value.startsWith('"""')) {
        multiline = true;
        key = k;
        val = `${value.slice(3)}\n`;
      } else {
        if (current && value.startsWith('"') && value.endsWith('"')) {
          if (value.length < 2) throw new Error('flyctl would panic (slice bounds)');
          value = value.slice(1, -1);
        }
        secrets[k] = value;
      }
    } else if (line.endsWith('"""')) {
      val += line.slice(0, -3);
      secrets[key] = val;
      val = '';
      multiline = false;
    } else {
      val += `${line}\n`;
    }
  }
  return secrets;
}
