/** What the `keyloft secrets` subcommands share: options, argument parsing, value checks. */
import { readFileSync } from 'node:fs';
import type { SecretMeta } from '../../domain/contract.js';
import { InvalidArgumentError, Option } from 'commander';
import { CommandError, EXIT_USAGE } from '../../domain/exit-codes.js';
import { NAME_MAX, NAME_PATTERN, NAME_RE, SCOPES, type Scope } from '../../domain/rules.js';
import { parsePr } from '../args.js';
import { resolveProject } from '../link.js';
import { interactive, promptHidden, readStdinBytes, type Style } from '../output.js';

/** Import files at least this big get a progress line on stderr. */
export const LARGE_IMPORT_BYTES = 256 * 1024;
export const LARGE_IMPORT_LINES = 1000;

export const scopeOption = (mandatory: boolean) => {
  const o = new Option('--scope <scope>', mandatory ? 'production, preview or build' : 'only this scope: production, preview or build').choices(SCOPES);
  return mandatory ? o.makeOptionMandatory() : o;
};
export const projectOption = () => new Option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)');

export const secretsPath = (project: string) => `/projects/${encodeURIComponent(project)}/secrets`;

export function parseVersion(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > 2147483647)
    throw new InvalidArgumentError('must be a version number (a positive integer; see `keyloft secrets history`)');
  return n;
}
export const prOption = () => new Option('--pr <number>', 'preview only: the override for this pull request').argParser(parsePr);

/** --pr is only for the preview scope. */
export function checkPr(o: { scope: Scope; pr?: number }): void {
  if (o.pr !== undefined && o.scope !== 'preview') throw new CommandError('--pr is only for --scope preview (per-pull-request overrides)', EXIT_USAGE);
}

export function statusText(s: SecretMeta): string {
  const base = s.status === 'pending_removal' ? 'pending removal' : s.status;
  return s.applied && s.applied.of > 0 && s.status !== 'deployed' ? `${base} (${s.applied.count}/${s.applied.of} apps)` : base;
}

export function statusStyle(s: SecretMeta): Style {
  return s.status === 'deployed' ? 'green' : s.status === 'pending' ? 'yellow' : 'red';
}

export const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of `bytes` if it is valid UTF-8 (a BOM is kept), else undefined. */
export function asUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A secret name given as an argument, checked before anything is sent (exit 1). */
export function secretNameArg(name: string): string {
  if (!NAME_RE.test(name)) throw new CommandError(`not a secret name: ${JSON.stringify(name.slice(0, 80))} (names match ${NAME_PATTERN})`, EXIT_USAGE);
  return name;
}

export interface Assignment {
  name: string;
  source: 'argument' | 'stdin' | 'file';
  bytes: Buffer;
}

/** Parses NAME=VALUE, NAME=- and NAME=@file arguments; error messages never repeat a value. */
export async function readAssignments(args: string[]): Promise<Assignment[]> {
  const parsed: Array<{ name: string; kind: 'literal' | 'stdin' | 'file'; rest: string }> = [];
  const seen = new Set<string>();
  args.forEach((arg, i) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CommandError(`argument ${i + 1} is not NAME=VALUE (use NAME=- to read the value from standard input, or NAME=@FILE)`, EXIT_USAGE);
    const name = arg.slice(0, eq);
    if (!NAME_RE.test(name) || name.length > NAME_MAX) {
      throw new CommandError(`argument ${i + 1}: a secret name must match ${NAME_PATTERN} (at most ${NAME_MAX} characters)`, EXIT_USAGE);
    }
    if (seen.has(name)) throw new CommandError(`${name} is given more than once`, EXIT_USAGE);
    seen.add(name);
    const rest = arg.slice(eq + 1);
    if (rest === '-') parsed.push({ name, kind: 'stdin', rest });
    else if (rest.startsWith('@') && rest.length > 1) parsed.push({ name, kind: 'file', rest: rest.slice(1) });
    else parsed.push({ name, kind: 'literal', rest });
  });
  const fromStdin = parsed.filter((p) => p.kind === 'stdin');
  if (fromStdin.length > 1)
    throw new CommandError(
      `only one value can come from standard input (NAME=-); got ${fromStdin.map((p) => p.name).join(', ')}; use NAME=@FILE for the others`,
      EXIT_USAGE,
    );
  const out: Assignment[] = [];
  for (const p of parsed) {
    if (p.kind === 'literal') out.push({ name: p.name, source: 'argument', bytes: Buffer.from(p.rest, 'utf8') });
    else if (p.kind === 'file') {
      try {
        out.push({ name: p.name, source: 'file', bytes: readFileSync(p.rest) });
      } catch (err) {
        throw new CommandError(`${p.name}: cannot read ${p.rest}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT_USAGE);
      }
    } else if (interactive()) {
      // On a terminal: ask without echo (no trailing newline is added to the value).
      out.push({ name: p.name, source: 'stdin', bytes: Buffer.from(await promptHidden(`Value for ${p.name} (input hidden): `), 'utf8') });
    } else {
      const bytes = await readStdinBytes();
      // An empty stdin is nearly always a mistake (nothing piped in, e.g. /dev/null in CI), not an intended empty value.
      if (bytes.length === 0)
        throw new CommandError(`${p.name}=-: standard input was empty; pipe the value in (to really set an empty value, use ${p.name}=)`, EXIT_USAGE);
      out.push({ name: p.name, source: 'stdin', bytes });
    }
  }
  return out;
}

/** The JSON field for a value: text as `value`; binary (build scope only) as `valueBase64`. */
export function valueField(a: Assignment, scope: Scope): { value: string } | { valueBase64: string } {
  const text = asUtf8(a.bytes);
  if (text !== undefined && (scope !== 'build' || !text.includes('\u0000'))) return { value: text };
  if (scope === 'build') return { valueBase64: a.bytes.toString('base64') };
  throw new CommandError(
    `${a.name}: the value (from ${a.source}) is not UTF-8 text; ${scope} secrets must be text (only build secrets may be binary)`,
    EXIT_USAGE,
  );
}

export function target(o: { project?: string }): string {
  return resolveProject(o.project);
}

export function refusedFor(name: string, err: unknown): never {
  if (err instanceof CommandError) throw new CommandError(`${name}: ${err.message}`, err.exitCode, { code: err.code, field: err.field });
  throw err;
}
