import type { Command } from 'commander';
import type { SecretMeta } from '../../domain/contract.js';
import { Option } from 'commander';
import { CommandError, EXIT_USAGE } from '../../domain/exit-codes.js';
import type { Scope } from '../../domain/rules.js';
import { parsePr } from '../args.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { paint, print, printJson, table, when } from '../output.js';
import { scopeOption, projectOption, secretsPath, statusText, statusStyle, target } from './shared.js';

/** `keyloft secrets list`. */
export function registerList(secrets: Command): void {
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
        if (o.pr !== undefined && o.scope !== undefined && o.scope !== 'preview')
          throw new CommandError('--pr is only for the preview scope (leave out --scope, or use --scope preview)', EXIT_USAGE);
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
}
