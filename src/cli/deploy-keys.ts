/**
 * `keyloft deploy-keys list|create|revoke`: a project's deploy keys, the pipeline's credential (admins only).
 * A new key is shown once, on stdout (never in a command line: pipe it into your CI's secret store).
 */
import { type Command, Option } from 'commander';
import type { DeployKey } from '../domain/contract.js';
import { action } from './http-client.js';
import { resolveProject } from './link.js';
import { note, printJson, table, when } from './output.js';
import { client } from './projects.js';

const projectOption = () => new Option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)');
const keysPath = (project: string, id?: string) =>
  `/projects/${encodeURIComponent(project)}/deploy-keys${id === undefined ? '' : `/${encodeURIComponent(id)}`}`;

export function registerDeployKeys(program: Command): Command {
  const keys = program
    .command('deploy-keys')
    .description("a project's deploy keys: what the CD system uses to start deployments (admin)")
    .addHelpText(
      'after',
      `
A deploy key starts and completes its project's deployments and nothing else; it needs no release grant.

Examples:
  keyloft deploy-keys list --project shop
  keyloft deploy-keys create --name github-actions --project shop | gh secret set KEYLOFT_TOKEN
  keyloft deploy-keys revoke dk_… --project shop
`,
    );

  keys
    .command('list')
    .alias('ls')
    .description('deploy keys with their last use (never the key itself)')
    .addOption(projectOption())
    .option('--json', 'print as JSON')
    .action(
      action(async (o: { project?: string; json?: boolean }) => {
        const project = resolveProject(o.project);
        const r = await client().request<{ deployKeys: DeployKey[] }>('GET', keysPath(project));
        if (o.json) return printJson({ deployKeys: r.deployKeys });
        if (r.deployKeys.length === 0)
          return note(`No deploy keys in ${project}. Create one with: keyloft deploy-keys create --name NAME --project ${project}`);
        process.stdout.write(
          table(r.deployKeys, [
            { header: 'id', get: (k) => k.id, style: () => 'cyan' },
            { header: 'name', get: (k) => k.name },
            { header: 'created', get: (k) => `${when(k.createdAt)} by ${k.createdBy}` },
            { header: 'last used', get: (k) => (k.lastUsedAt ? when(k.lastUsedAt) : 'never') },
          ]),
        );
      }),
    );

  keys
    .command('create')
    .description('create a deploy key; the key is printed once on stdout (store it in your CI now)')
    .requiredOption('--name <name>', 'a name to tell keys apart (e.g. github-actions)')
    .addOption(projectOption())
    .option('--json', 'print id, name and key as JSON')
    .action(
      action(async (o: { name: string; project?: string; json?: boolean }) => {
        const project = resolveProject(o.project);
        const r = await client().request<DeployKey & { token: string }>('POST', keysPath(project), { name: o.name });
        if (o.json) return printJson(r);
        // Only the key on stdout, so it can be piped into a secret store; the rest on stderr.
        process.stdout.write(`${r.token}\n`);
        note(`Created deploy key ${r.name} (${r.id}) for ${project}. It is shown only this once: store it as a CI secret (e.g. KEYLOFT_TOKEN).`);
      }),
    );

  keys
    .command('revoke')
    .description('revoke a deploy key at once')
    .argument('<id>', 'the key id (see keyloft deploy-keys list)')
    .addOption(projectOption())
    .action(
      action(async (id: string, o: { project?: string }) => {
        const project = resolveProject(o.project);
        await client().request('DELETE', keysPath(project, id));
        note(`Revoked deploy key ${id} of ${project}`);
      }),
    );

  return keys;
}
