import type { Command } from 'commander';
import type { SecretMeta } from '../../domain/contract.js';
import { CommandError, EXIT_USAGE } from '../../domain/exit-codes.js';
import type { Scope } from '../../domain/rules.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { confirm, interactive, note, plural, print, printJson } from '../output.js';
import { scopeOption, projectOption, secretsPath, prOption, checkPr, target, refusedFor, secretNameArg } from './shared.js';

/** `keyloft secrets unset`. */
export function registerUnset(secrets: Command): void {
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
          secretNameArg(n);
        });
        const unique = [...new Set(names)];
        if (!o.yes) {
          if (!interactive())
            throw new CommandError(
              `refusing to delete ${plural(unique.length, 'secret')} without confirmation: not on a terminal; pass --yes to confirm`,
              EXIT_USAGE,
            );
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
            const r = await api.request<{ secret: SecretMeta | null }>('DELETE', `${secretsPath(project)}/${o.scope}/${encodeURIComponent(name)}`, undefined, {
              query: { pr: o.pr },
            });
            removed.push({ name, status: r.secret?.status ?? null });
          } catch (err) {
            if (removed.length > 0) note(`keyloft: deleted before the failure: ${removed.map((r) => r.name).join(', ')}`);
            refusedFor(name, err);
          }
        }
        if (o.json) return printJson({ project, scope: o.scope, ...(o.pr ? { pr: o.pr } : {}), removed });
        for (const r of removed)
          print(`${r.name} deleted from ${project}/${o.scope}${r.status === 'pending_removal' ? ' (pending removal until the next deployment)' : ''}`);
      }),
    );
}
