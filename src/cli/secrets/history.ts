import type { Command } from 'commander';
import type { VersionMeta } from '../../domain/contract.js';
import type { Scope } from '../../domain/rules.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { printJson, table, when } from '../output.js';
import { scopeOption, projectOption, secretsPath, prOption, checkPr, target, secretNameArg } from './shared.js';

/** `keyloft secrets history`. */
export function registerHistory(secrets: Command): void {
  secrets
    .command('history')
    .description("a secret's versions: when, by whom, digest and size (never a value)")
    .argument('<name>', 'secret name')
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .addOption(prOption())
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  keyloft secrets history DATABASE_URL --project shop --scope production\n  keyloft secrets history NPM_TOKEN --scope build --json\n',
    )
    .action(
      action(async (name: string, o: { project?: string; scope: Scope; pr?: number; json?: boolean }) => {
        const project = target(o);
        checkPr(o);
        secretNameArg(name);
        const r = await client().request<{ versions: VersionMeta[] }>(
          'GET',
          `${secretsPath(project)}/${o.scope}/${encodeURIComponent(name)}/versions`,
          undefined,
          { query: { pr: o.pr } },
        );
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
}
