import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { ImportChange, ImportResult } from '../../domain/contract.js';
import { CommandError, EXIT_USAGE } from '../../domain/exit-codes.js';
import type { Scope } from '../../domain/rules.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { confirm, interactive, note, paint, plural, print, printJson, readStdinBytes, type Style } from '../output.js';
import { LARGE_IMPORT_BYTES, LARGE_IMPORT_LINES, scopeOption, projectOption, secretsPath, asUtf8, target } from './shared.js';

/** `keyloft secrets import`. */
export function registerImport(secrets: Command): void {
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
        if (large)
          note(
            `keyloft: ${o.dryRun ? 'checking' : 'importing'} ${label} (${(bytes.length / 1024).toFixed(0)} KiB, ${lines} lines) into ${project}/${o.scope}…`,
          );
        const send = (dryRun: boolean) =>
          client().request<ImportResult>('POST', `${secretsPath(project)}/${o.scope}:import`, text, {
            contentType: 'text/plain; charset=utf-8',
            query: { dryRun: dryRun ? true : undefined, replace: o.replace ? true : undefined },
            timeoutMs: 300_000,
          });
        if (o.replace && !o.dryRun && !o.yes) {
          if (!interactive())
            throw new CommandError(
              'refusing to --replace without confirmation: not on a terminal; pass --yes to confirm (or --dry-run to see what would be removed)',
              EXIT_USAGE,
            );
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
        const mark: Record<string, readonly [string, Style]> = {
          added: ['+', 'green'],
          changed: ['~', 'yellow'],
          unchanged: ['=', 'dim'],
          removed: ['-', 'red'],
        };
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
}
