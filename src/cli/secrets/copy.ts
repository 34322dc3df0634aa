import type { Command } from 'commander';
import type { CopyResult } from '../../domain/contract.js';
import { Option } from 'commander';
import { CommandError, EXIT_USAGE } from '../../domain/exit-codes.js';
import { SCOPES, type Scope } from '../../domain/rules.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { paint, plural, print, printJson } from '../output.js';
import { projectOption, target, secretNameArg } from './shared.js';

/** `keyloft secrets copy`. */
export function registerCopy(secrets: Command): void {
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
          secretNameArg(n);
        });
        const unique = [...new Set(names)];
        const r = await client().request<CopyResult>(
          'POST',
          `/projects/${encodeURIComponent(project)}/secrets:copy`,
          {
            from: o.from,
            to: o.to,
            ...(unique.length > 0 ? { names: unique } : {}),
            ...(o.overwrite ? { overwrite: true } : {}),
            ...(o.dryRun ? { dryRun: true } : {}),
          },
          { timeoutMs: 300_000 },
        );
        if (o.json) return printJson({ project, ...r });
        const verb = r.dryRun ? 'would copy' : 'copied';
        for (const c of r.copied)
          print(paint(`${c.change === 'added' ? '+' : '~'} ${c.name}  ${verb} (${c.change}, digest ${c.digest})`, c.change === 'added' ? 'green' : 'yellow'));
        for (const s of r.skipped) {
          print(
            paint(
              `= ${s.name}  skipped (${s.reason === 'exists' ? 'exists in the target; --overwrite replaces it' : 'unchanged: the same value is already there'})`,
              'dim',
            ),
          );
        }
        const route = `${project}/${r.from} → ${r.to}`;
        const summary = `${r.copied.length} to copy, ${r.skipped.length} skipped`;
        if (r.dryRun) print(`${route}: ${summary}; dry run: nothing was written`);
        else if (r.copied.length === 0 && r.skipped.length === 0) print(`${route}: nothing to copy (${r.from} has no secrets)`);
        else
          print(`${route}: copied ${plural(r.written, 'secret')}, ${r.skipped.length} skipped${r.written > 0 ? '; changes apply at the next deployment' : ''}`);
      }),
    );
}
