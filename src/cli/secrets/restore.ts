import type { Command } from 'commander';
import type { RestoreResult } from '../../domain/contract.js';
import type { Scope } from '../../domain/rules.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { print, printJson } from '../output.js';
import { scopeOption, projectOption, secretsPath, parseVersion, prOption, checkPr, target, refusedFor, secretNameArg } from './shared.js';

/** `keyloft secrets restore`. */
export function registerRestore(secrets: Command): void {
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
        secretNameArg(name);
        const r = await client()
          .request<RestoreResult>('POST', `${secretsPath(project)}/${o.scope}/${encodeURIComponent(name)}/versions/${o.version}/restore`, undefined, {
            query: { pr: o.pr },
          })
          .catch((err: unknown) => refusedFor(name, err));
        if (o.json)
          return printJson({
            project,
            scope: o.scope,
            ...(o.pr ? { pr: o.pr } : {}),
            name,
            restoredFrom: r.restoredFrom,
            version: r.version,
            secret: r.secret,
          });
        const where = `${project}/${o.scope}${o.pr ? ` (PR ${o.pr})` : ''}`;
        print(`${name} in ${where}: restored v${r.restoredFrom} as v${r.version}${r.secret.digest ? ` (digest ${r.secret.digest})` : ''}`);
        print('Changes apply at the next deployment.');
      }),
    );
}
