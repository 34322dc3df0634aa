/**
 * `keyloft secrets list|set|unset|import|history|restore|copy`. No command prints a value: the API returns none,
 * and local errors name the secret and the argument, never its value.
 */
import { readFileSync } from 'node:fs';
import type { SecretMeta } from '../services/secrets.service.js';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { action } from './http-client.js';
import { resolveProject } from './link.js';
import { client } from './projects.js';
import { confirm, interactive, note, paint, plural, print, printJson, promptHidden, readStdinBytes, table, when, type Style } from './output.js';

export const SCOPES = ['production', 'preview', 'build'] as const;
export type Scope = (typeof SCOPES)[number];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Import files at least this big get a progress line on stderr. */
const LARGE_IMPORT_BYTES = 256 * 1024;
const LARGE_IMPORT_LINES = 1000;

/** The API's secret metadata (the same type the server answers with; a type-only import). */
export type { SecretMeta };

interface VersionMeta {
  version: number;
  kind: string;
  digest: string | null;
  size: number | null;
  createdAt: string;
  createdBy: string;
}

interface ImportChange {
  name: string;
  /** `removed` only for imports that replace the scope (names the file does not hold). */
  change: 'added' | 'changed' | 'unchanged' | 'removed';
  digestBefore: string | null;
  digestAfter: string | null;
}

/** `POST …/restore`: the old version made current again as a new version (re-sealed on the server). */
interface RestoreResult {
  secret: SecretMeta;
  restoredFrom: number;
  version: number;
}

/** `POST …/secrets:copy`: names and short digests only, never values. */
interface CopyResult {
  dryRun: boolean;
  from: Scope;
  to: Scope;
  copied: Array<{ name: string; change: 'added' | 'changed'; digest: string }>;
  skipped: Array<{ name: string; reason: 'exists' | 'unchanged' }>;
  written: number;
}

interface ImportResult {
  dryRun: boolean;
  written: number;
  changes: ImportChange[];
}

const scopeOption = (mandatory: boolean) => {
  const o = new Option('--scope <scope>', mandatory ? 'production, preview or build' : 'only this scope: production, preview or build').choices(SCOPES);
  return mandatory ? o.makeOptionMandatory() : o;
};
const projectOption = () => new Option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)');

const secretsPath = (project: string) => `/projects/${encodeURIComponent(project)}/secrets`;

function parsePr(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > 2147483647) throw new InvalidArgumentError('must be a pull request number (a positive integer)');
  return n;
}
function parseVersion(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > 2147483647) throw new InvalidArgumentError('must be a version number (a positive integer; see `keyloft secrets history`)');
  return n;
}
const prOption = () => new Option('--pr <number>', 'preview only: the override for this pull request').argParser(parsePr);

/** --pr is only for the preview scope. */
function checkPr(o: { scope: Scope; pr?: number }): void {
  if (o.pr !== undefined && o.scope !== 'preview') throw new CommandError('--pr is only for --scope preview (per-pull-request overrides)', EXIT_USAGE);
}

function statusText(s: SecretMeta): string {
  const base = s.status === 'pending_removal' ? 'pending removal' : s.status;
  return s.applied && s.applied.of > 0 && s.status !== 'deployed' ? `${base} (${s.applied.count}/${s.applied.of} apps)` : base;
}

function statusStyle(s: SecretMeta): Style {
  return s.status === 'deployed' ? 'green' : s.status === 'pending' ? 'yellow' : 'red';
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of `bytes` if it is valid UTF-8 (a BOM is kept), else undefined. */
export function asUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

interface Assignment {
  name: string;
  source: 'argument' | 'stdin' | 'file';
  bytes: Buffer;
}

/** Parses NAME=VALUE, NAME=- and NAME=@file arguments; error messages never repeat a value. */
async function readAssignments(args: string[]): Promise<Assignment[]> {
  const parsed: Array<{ name: string; kind: 'literal' | 'stdin' | 'file'; rest: string }> = [];
  const seen = new Set<string>();
  args.forEach((arg, i) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CommandError(`argument ${i + 1} is not NAME=VALUE (use NAME=- to read the value from standard input, or NAME=@FILE)`, EXIT_USAGE);
    const name = arg.slice(0, eq);
    if (!NAME.test(name) || name.length > 255) {
      throw new CommandError(`argument ${i + 1}: a secret name must match [A-Za-z_][A-Za-z0-9_]* (at most 255 characters)`, EXIT_USAGE);
    }
    if (seen.has(name)) throw new CommandError(`${name} is given more than once`, EXIT_USAGE);
    seen.add(name);
    const rest = arg.slice(eq + 1);
    if (rest === '-') parsed.push({ name, kind: 'stdin', rest });
    else if (rest.startsWith('@') && rest.length > 1) parsed.push({ name, kind: 'file', rest: rest.slice(1) });
    else parsed.push({ name, kind: 'literal', rest });
  });
  const fromStdin = parsed.filter((p) => p.kind === 'stdin');
  if (fromStdin.length > 1) throw new CommandError(`only one value can come from standard input (NAME=-); got ${fromStdin.map((p) => p.name).join(', ')}; use NAME=@FILE for the others`, EXIT_USAGE);
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
      if (bytes.length === 0) throw new CommandError(`${p.name}=-: standard input was empty; pipe the value in (to really set an empty value, use ${p.name}=)`, EXIT_USAGE);
      out.push({ name: p.name, source: 'stdin', bytes });
    }
  }
  return out;
}

/** The JSON field for a value: text as `value`; binary (build scope only) as `valueBase64`. */
function valueField(a: Assignment, scope: Scope): { value: string } | { valueBase64: string } {
  const text = asUtf8(a.bytes);
  if (text !== undefined && (scope !== 'build' || !text.includes('\u0000'))) return { value: text };
  if (scope === 'build') return { valueBase64: a.bytes.toString('base64') };
  throw new CommandError(`${a.name}: the value (from ${a.source}) is not UTF-8 text; ${scope} secrets must be text (only build secrets may be binary)`, EXIT_USAGE);
}

function target(o: { project?: string }): string {
  return resolveProject(o.project);
}

function refusedFor(name: string, err: unknown): never {
  if (err instanceof CommandError) throw new CommandError(`${name}: ${err.message}`, err.exitCode, { code: err.code, field: err.field });
  throw err;
}

export function registerSecrets(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('app and build secrets of a project: list, set, unset, import, history, restore, copy (values are never shown)')
    .addHelpText(
      'after',
      `
Scopes: production and preview hold app secrets (runtime environment variables);
build holds build secrets (flyctl deploy --build-secret). Changes apply at the next deployment.

Examples:
  keyloft secrets list --project shop
  printf %s "$STRIPE_KEY" | keyloft secrets set --project shop --scope production STRIPE_KEY=-
  keyloft secrets import --project shop --scope preview .env.preview
  keyloft secrets restore DATABASE_URL --version 3 --project shop --scope production
  keyloft secrets copy --project shop --from production --to preview --dry-run
`,
    );

  secrets
    .command('list')
    .alias('ls')
    .description('secret metadata: name, scope, digest, status, last change (never a value)')
    .addOption(projectOption())
    .addOption(scopeOption(false))
    .option('--filter <text>', 'only names containing this text (case-insensitive)')
    .addOption(new Option('--pr <number>', 'what the preview deployment of this pull request gets: its overrides and the preview defaults').argParser(parsePr))
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
The digest is a keyed hash of the value: equal digests mean equal values within a project.
Status: deployed, pending (changed since the last deployment) or pending removal.

Examples:
  keyloft secrets list --project shop
  keyloft secrets list --project shop --scope build --json
  keyloft secrets list --filter stripe
  keyloft secrets list --pr 42                 # preview defaults, with PR 42's overrides in their place
`,
    )
    .action(
      action(async (o: { project?: string; scope?: Scope; filter?: string; pr?: number; json?: boolean }) => {
        const project = target(o);
        if (o.pr !== undefined && o.scope !== undefined && o.scope !== 'preview') throw new CommandError('--pr is only for the preview scope (leave out --scope, or use --scope preview)', EXIT_USAGE);
        const scope = o.pr !== undefined ? 'preview' : o.scope;
        const r = await client().request<{ secrets: SecretMeta[] }>('GET', secretsPath(project), undefined, { query: { scope } });
        if (o.pr !== undefined) {
          // What PR N's deployment pins: its own overrides, and the preview defaults it does not override.
          const overridden = new Set(r.secrets.filter((s) => s.pr === o.pr).map((s) => s.name));
          r.secrets = r.secrets.filter((s) => s.pr === o.pr || (s.pr === undefined && !overridden.has(s.name)));
        }
        if (o.filter !== undefined) {
          const needle = o.filter.toLowerCase();
          r.secrets = r.secrets.filter((s) => s.name.toLowerCase().includes(needle));
        }
        const what = `${scope ? ` (${scope}${o.pr !== undefined ? `, PR ${o.pr}` : ''})` : ''}${o.filter !== undefined ? ` matching ${JSON.stringify(o.filter)}` : ''}`;
        if (o.json) return printJson({ project, scope: scope ?? null, ...(o.pr !== undefined ? { pr: o.pr } : {}), secrets: r.secrets });
        if (r.secrets.length === 0) {
          if (o.filter !== undefined || o.pr !== undefined) return print(`No secrets in ${project}${what}.`);
          return print(`No secrets in ${project}${what}. Add one with: keyloft secrets set --project ${project} --scope production NAME=-`);
        }
        process.stdout.write(
          table(r.secrets, [
            { header: 'name', get: (s) => s.name },
            { header: 'scope', get: (s) => (s.pr ? `${s.scope} (PR ${s.pr})` : s.scope) },
            { header: 'digest', get: (s) => s.digest ?? '-', style: () => 'dim' },
            { header: 'status', get: statusText, style: statusStyle },
            { header: 'updated', get: (s) => `${when(s.updatedAt)} by ${s.updatedBy}` },
          ]),
        );
        if (process.stdout.isTTY && r.secrets.some((s) => s.status !== 'deployed')) print(paint('Pending changes apply at the next deployment.', 'yellow'));
      }),
    );

  secrets
    .command('set')
    .description('add or overwrite secrets (a new version each); NAME=- reads the value from stdin, NAME=@FILE from a file')
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .argument('<assignments...>', 'NAME=VALUE, NAME=- (standard input) or NAME=@FILE')
    .addOption(prOption())
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Safe forms: NAME=- (standard input, byte for byte; on a terminal it is asked for, hidden)
and NAME=@FILE (the file's bytes exactly, trailing newline included, e.g. a PEM key).
NAME=VALUE puts the value in your shell history and the process list; prefer the others.
Only one NAME=- per command. A value starting with @ must come from stdin or a file.
Build secrets may be binary; app secrets (production, preview) must be UTF-8 text.
Several secrets are written all or nothing. Changes apply at the next deployment.

Examples:
  printf %s "$DATABASE_URL" | keyloft secrets set --project shop --scope production DATABASE_URL=-
  keyloft secrets set --project shop --scope production TLS_KEY=@key.pem TLS_CERT=@cert.pem
  keyloft secrets set --project shop --scope build NPM_TOKEN=- < ~/.npm-token
  keyloft secrets set --scope preview LOG_LEVEL=debug        # project from keyloft.json
  keyloft secrets set --scope preview --pr 42 API_URL=https://pr42.example.com   # override for PR 42
`,
    )
    .action(
      action(async (args: string[], o: { project?: string; scope: Scope; pr?: number; json?: boolean }) => {
        const project = target(o);
        checkPr(o);
        const assignments = await readAssignments(args);
        const fields = assignments.map((a) => ({ name: a.name, field: valueField(a, o.scope) }));
        const api = client();
        const results: Array<{ name: string; change: ImportChange['change']; digest: string | null; version: number | null }> = [];
        if (fields.length === 1 || o.pr !== undefined || fields.some((f) => f.name === '__proto__')) {
          for (const f of fields) {
            const r = await api
              .request<{ secret: SecretMeta; created: boolean; unchanged?: boolean }>('PUT', `${secretsPath(project)}/${o.scope}/${encodeURIComponent(f.name)}`, f.field, { query: { pr: o.pr } })
              .catch((err: unknown) => refusedFor(f.name, err));
            results.push({ name: f.name, change: r.unchanged ? 'unchanged' : r.created ? 'added' : 'changed', digest: r.secret.digest, version: r.secret.version });
          }
        } else {
          // One request for all of them: the server writes all or nothing.
          const map: Record<string, unknown> = {};
          for (const f of fields) map[f.name] = 'value' in f.field ? f.field.value : { valueBase64: f.field.valueBase64 };
          const r = await api.request<ImportResult>('POST', `${secretsPath(project)}/${o.scope}:import`, { secrets: map });
          for (const c of r.changes) results.push({ name: c.name, change: c.change, digest: c.digestAfter, version: null });
        }
        if (o.json) return printJson({ project, scope: o.scope, ...(o.pr ? { pr: o.pr } : {}), secrets: results });
        const where = `${project}/${o.scope}${o.pr ? ` (PR ${o.pr})` : ''}`;
        for (const r of results) {
          const what = r.change === 'unchanged' ? 'unchanged (same value)' : r.change === 'added' ? 'added' : 'updated';
          print(`${r.name} ${what} in ${where}${r.digest ? ` (digest ${r.digest}${r.version ? `, version ${r.version}` : ''})` : ''}`);
        }
        if (results.some((r) => r.change !== 'unchanged')) print('Changes apply at the next deployment.');
        const binary = fields.filter((f) => 'valueBase64' in f.field).map((f) => f.name);
        if (binary.length > 0) {
          print(
            `${binary.join(', ')}: binary (not UTF-8 text). \`keyloft deploy fly\` cannot pass ${binary.length === 1 ? 'it' : 'them'} as --build-secret (flyctl takes text) and refuses to start; build with \`keyloft run --build\`, which writes ${binary.length === 1 ? 'it' : 'each'} as a file in $KEYLOFT_SECRETS_DIR.`,
          );
        }
      }),
    );

  secrets
    .command('unset')
    .alias('rm')
    .description('delete secrets (pending removal until the next deployment); asks first on a terminal')
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .argument('<names...>', 'secret names')
    .addOption(prOption())
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  keyloft secrets unset --project shop --scope preview OLD_FLAG
  keyloft secrets unset --project shop --scope production A B C --yes
`,
    )
    .action(
      action(async (names: string[], o: { project?: string; scope: Scope; pr?: number; yes?: boolean; json?: boolean }) => {
        const project = target(o);
        checkPr(o);
        names.forEach((n) => {
          if (!NAME.test(n)) throw new CommandError(`not a secret name: ${JSON.stringify(n.slice(0, 80))} (names match [A-Za-z_][A-Za-z0-9_]*)`, EXIT_USAGE);
        });
        const unique = [...new Set(names)];
        if (!o.yes) {
          if (!interactive()) throw new CommandError(`refusing to delete ${plural(unique.length, 'secret')} without confirmation: not on a terminal; pass --yes to confirm`, EXIT_USAGE);
          if (!(await confirm(`Delete ${unique.join(', ')} from ${project}/${o.scope}${o.pr ? ` (PR ${o.pr} override)` : ''}?`))) {
            note('keyloft: nothing deleted');
            process.exitCode = 1;
            return;
          }
        }
        const api = client();
        const removed: Array<{ name: string; status: string | null }> = [];
        for (const name of unique) {
          try {
            const r = await api.request<{ secret: SecretMeta | null }>('DELETE', `${secretsPath(project)}/${o.scope}/${encodeURIComponent(name)}`, undefined, { query: { pr: o.pr } });
            removed.push({ name, status: r.secret?.status ?? null });
          } catch (err) {
            if (removed.length > 0) note(`keyloft: deleted before the failure: ${removed.map((r) => r.name).join(', ')}`);
            refusedFor(name, err);
          }
        }
        if (o.json) return printJson({ project, scope: o.scope, ...(o.pr ? { pr: o.pr } : {}), removed });
        for (const r of removed) print(`${r.name} deleted from ${project}/${o.scope}${r.status === 'pending_removal' ? ' (pending removal until the next deployment)' : ''}`);
      }),
    );

  secrets
    .command('import')
    .description('add or overwrite secrets from a dotenv file (all or nothing); --dry-run shows what would change')
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .argument('[file]', 'dotenv file, or - for standard input (the default when it is not a terminal)')
    .option('--dry-run', 'only report what would be added, changed or left unchanged')
    .option('--replace', "also delete the scope's secrets that the file does not name (asks first on a terminal)")
    .option('-y, --yes', 'with --replace: do not ask for confirmation (required when not on a terminal)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The file is dotenv: NAME=value lines, # comments, optional "export", single- or
double-quoted values (double quotes allow \\n escapes and multi-line values).
Names not in the file are left alone, unless --replace: then they are deleted in the
same transaction (pending removal until the next deployment). Prints, per name: added,
changed, unchanged (or removed).

Examples:
  keyloft secrets import --project shop --scope production .env.production --dry-run
  keyloft secrets import --project shop --scope production .env.production
  keyloft secrets import --project shop --scope build build.env --replace --yes
  op read op://vault/shop/env | keyloft secrets import --project shop --scope preview -
`,
    )
    .action(
      action(async (file: string | undefined, o: { project?: string; scope: Scope; dryRun?: boolean; replace?: boolean; yes?: boolean; json?: boolean }) => {
        const project = target(o);
        let bytes: Buffer;
        let label: string;
        if (file === undefined || file === '-') {
          if (file === undefined && process.stdin.isTTY) throw new CommandError('give a dotenv FILE, or - to read one from standard input', EXIT_USAGE);
          bytes = await readStdinBytes();
          label = 'standard input';
        } else {
          try {
            bytes = readFileSync(file);
          } catch (err) {
            throw new CommandError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT_USAGE);
          }
          label = file;
        }
        const text = asUtf8(bytes);
        if (text === undefined) throw new CommandError(`${label} is not UTF-8 text`, EXIT_USAGE);
        const lines = text.split('\n').length;
        const large = bytes.length >= LARGE_IMPORT_BYTES || lines >= LARGE_IMPORT_LINES;
        const started = Date.now();
        if (large) note(`keyloft: ${o.dryRun ? 'checking' : 'importing'} ${label} (${(bytes.length / 1024).toFixed(0)} KiB, ${lines} lines) into ${project}/${o.scope}…`);
        const send = (dryRun: boolean) =>
          client().request<ImportResult>('POST', `${secretsPath(project)}/${o.scope}:import`, text, {
            contentType: 'text/plain; charset=utf-8',
            query: { dryRun: dryRun ? true : undefined, replace: o.replace ? true : undefined },
            timeoutMs: 300_000,
          });
        if (o.replace && !o.dryRun && !o.yes) {
          if (!interactive()) throw new CommandError('refusing to --replace without confirmation: not on a terminal; pass --yes to confirm (or --dry-run to see what would be removed)', EXIT_USAGE);
          const removed = (await send(true)).changes.filter((c) => c.change === 'removed').map((c) => c.name);
          if (removed.length > 0 && !(await confirm(`--replace deletes ${removed.join(', ')} from ${project}/${o.scope}. Continue?`))) {
            note('keyloft: nothing imported');
            process.exitCode = 1;
            return;
          }
        }
        const r = await send(o.dryRun === true);
        if (large) note(`keyloft: ${plural(r.changes.length, 'entry', 'entries')} processed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (o.json) return printJson({ project, scope: o.scope, ...r });
        const mark: Record<string, readonly [string, Style]> = { added: ['+', 'green'], changed: ['~', 'yellow'], unchanged: ['=', 'dim'], removed: ['-', 'red'] };
        for (const c of r.changes) {
          const [sym, style] = mark[c.change] ?? ['?', 'dim'];
          const digests = c.change === 'changed' ? ` (${c.digestBefore} → ${c.digestAfter})` : c.change === 'added' ? ` (${c.digestAfter})` : '';
          print(paint(`${sym} ${c.name}  ${c.change}${digests}`, style));
        }
        const count = (k: ImportChange['change']) => r.changes.filter((c) => c.change === k).length;
        const summary = `${count('added')} added, ${count('changed')} changed, ${count('unchanged')} unchanged${count('removed') > 0 ? `, ${count('removed')} removed` : ''}`;
        if (r.dryRun) print(`${summary}; dry run: nothing was written`);
        else print(`${summary}; wrote ${plural(r.written, 'secret')} to ${project}/${o.scope}${r.written > 0 ? '; changes apply at the next deployment' : ''}`);
      }),
    );

  secrets
    .command('history')
    .description("a secret's versions: when, by whom, digest and size (never a value)")
    .argument('<name>', 'secret name')
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .addOption(prOption())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  keyloft secrets history DATABASE_URL --project shop --scope production\n  keyloft secrets history NPM_TOKEN --scope build --json\n')
    .action(
      action(async (name: string, o: { project?: string; scope: Scope; pr?: number; json?: boolean }) => {
        const project = target(o);
        checkPr(o);
        if (!NAME.test(name)) throw new CommandError(`not a secret name: ${JSON.stringify(name.slice(0, 80))} (names match [A-Za-z_][A-Za-z0-9_]*)`, EXIT_USAGE);
        const r = await client().request<{ versions: VersionMeta[] }>('GET', `${secretsPath(project)}/${o.scope}/${encodeURIComponent(name)}/versions`, undefined, { query: { pr: o.pr } });
        if (o.json) return printJson({ project, scope: o.scope, ...(o.pr ? { pr: o.pr } : {}), name, versions: r.versions });
        process.stdout.write(
          table(r.versions, [
            { header: 'version', get: (v) => String(v.version) },
            { header: 'kind', get: (v) => v.kind, style: (v) => (v.kind === 'delete' ? 'red' : undefined) },
            { header: 'digest', get: (v) => v.digest ?? '-', style: () => 'dim' },
            { header: 'size', get: (v) => (v.size === null ? '-' : `${v.size} B`) },
            { header: 'created', get: (v) => when(v.createdAt) },
            { header: 'by', get: (v) => v.createdBy },
          ]),
        );
      }),
    );

  secrets
    .command('restore')
    .description('make an old version current again as a new version; the value is re-sealed on the server, never shown')
    .argument('<name>', 'secret name')
    .requiredOption('--version <n>', 'the version to restore (see `keyloft secrets history`)', parseVersion)
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .addOption(prOption())
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The server opens the old version and seals it again as a new version (kind restore,
audited as "restored vN as vM"); the value never leaves the server. A deletion (a
tombstone) cannot be restored. The change applies at the next deployment.

Examples:
  keyloft secrets history DATABASE_URL --project shop --scope production
  keyloft secrets restore DATABASE_URL --version 3 --project shop --scope production
  keyloft secrets restore API_URL --version 1 --scope preview --pr 42 --json
`,
    )
    .action(
      action(async (name: string, o: { project?: string; scope: Scope; version: number; pr?: number; json?: boolean }) => {
        const project = target(o);
        checkPr(o);
        if (!NAME.test(name)) throw new CommandError(`not a secret name: ${JSON.stringify(name.slice(0, 80))} (names match [A-Za-z_][A-Za-z0-9_]*)`, EXIT_USAGE);
        const r = await client()
          .request<RestoreResult>('POST', `${secretsPath(project)}/${o.scope}/${encodeURIComponent(name)}/versions/${o.version}/restore`, undefined, { query: { pr: o.pr } })
          .catch((err: unknown) => refusedFor(name, err));
        if (o.json) return printJson({ project, scope: o.scope, ...(o.pr ? { pr: o.pr } : {}), name, restoredFrom: r.restoredFrom, version: r.version, secret: r.secret });
        const where = `${project}/${o.scope}${o.pr ? ` (PR ${o.pr})` : ''}`;
        print(`${name} in ${where}: restored v${r.restoredFrom} as v${r.version}${r.secret.digest ? ` (digest ${r.secret.digest})` : ''}`);
        print('Changes apply at the next deployment.');
      }),
    );

  secrets
    .command('copy')
    .description('copy secrets (chosen ones or all) from one scope to another on the server, all or nothing; values are never shown')
    .argument('[names...]', 'the secrets to copy (default: all of the --from scope)')
    .addOption(new Option('--from <scope>', 'source scope: production, preview or build').choices(SCOPES).makeOptionMandatory())
    .addOption(new Option('--to <scope>', 'target scope: production, preview or build').choices(SCOPES).makeOptionMandatory())
    .addOption(projectOption())
    .option('--overwrite', 'also replace secrets that already exist in the target scope (default: skip them)')
    .option('--dry-run', 'only report what would be copied or skipped; write nothing')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The server opens each value and seals it again for the target scope; no value is
sent to or shown by the CLI. Prints, per name: copied (added or changed, with the
digest) or skipped (exists: the target already has it, pass --overwrite; unchanged:
the target already has the same value). The copy is all or nothing: a name missing
from the source, or a binary build value going to an app scope, copies nothing.
Per-pull-request preview overrides are not copied. Changes apply at the next deployment.

Examples:
  keyloft secrets copy --project shop --from production --to preview --dry-run
  keyloft secrets copy --project shop --from production --to preview STRIPE_KEY SENTRY_DSN
  keyloft secrets copy --project shop --from production --to preview --overwrite --json
`,
    )
    .action(
      action(async (names: string[], o: { project?: string; from: Scope; to: Scope; overwrite?: boolean; dryRun?: boolean; json?: boolean }) => {
        const project = target(o);
        if (o.from === o.to) throw new CommandError('--from and --to must be different scopes', EXIT_USAGE);
        names.forEach((n) => {
          if (!NAME.test(n)) throw new CommandError(`not a secret name: ${JSON.stringify(n.slice(0, 80))} (names match [A-Za-z_][A-Za-z0-9_]*)`, EXIT_USAGE);
        });
        const unique = [...new Set(names)];
        const r = await client().request<CopyResult>(
          'POST',
          `/projects/${encodeURIComponent(project)}/secrets:copy`,
          { from: o.from, to: o.to, ...(unique.length > 0 ? { names: unique } : {}), ...(o.overwrite ? { overwrite: true } : {}), ...(o.dryRun ? { dryRun: true } : {}) },
          { timeoutMs: 300_000 },
        );
        if (o.json) return printJson({ project, ...r });
        const verb = r.dryRun ? 'would copy' : 'copied';
        for (const c of r.copied) print(paint(`${c.change === 'added' ? '+' : '~'} ${c.name}  ${verb} (${c.change}, digest ${c.digest})`, c.change === 'added' ? 'green' : 'yellow'));
        for (const s of r.skipped) {
          print(paint(`= ${s.name}  skipped (${s.reason === 'exists' ? 'exists in the target; --overwrite replaces it' : 'unchanged: the same value is already there'})`, 'dim'));
        }
        const route = `${project}/${r.from} → ${r.to}`;
        const summary = `${r.copied.length} to copy, ${r.skipped.length} skipped`;
        if (r.dryRun) print(`${route}: ${summary}; dry run: nothing was written`);
        else if (r.copied.length === 0 && r.skipped.length === 0) print(`${route}: nothing to copy (${r.from} has no secrets)`);
        else print(`${route}: copied ${plural(r.written, 'secret')}, ${r.skipped.length} skipped${r.written > 0 ? '; changes apply at the next deployment' : ''}`);
      }),
    );
}
