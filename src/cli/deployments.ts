/**
 * `keyloft deployments list|cancel`: a project's deployments, and cancelling a running one
 * (it completes as failed, "cancelled by …", and its deploy token stops working at once).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Deployment } from '../domain/contract.js';
import { ENVIRONMENTS } from '../domain/rules.js';
import { parsePr } from './args.js';
import { action } from './http-client.js';
import { formatStartedBy } from './deploy.js';
import { resolveProject } from './link.js';
import { print, printJson, table, when } from './output.js';
import { client } from './projects.js';

function positive(max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
    return n;
  };
}

const path = (project: string) => `/projects/${encodeURIComponent(project)}/deployments`;

export function registerDeployments(program: Command): void {
  const deployments = program
    .command('deployments')
    .description("list a project's deployments, or cancel a running one")
    .addHelpText(
      'after',
      '\nExamples:\n  keyloft deployments list --project shop --env preview --pr 42\n  keyloft deployments cancel dep_1a2b3c --project shop\n',
    );

  deployments
    .command('list')
    .alias('ls')
    .description('deployments, newest first: status, environment, PR, ref, who started it, why it failed')
    .option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)')
    .addOption(new Option('--env <environment>', 'only production or preview').choices(ENVIRONMENTS))
    .option('--pr <number>', 'only the preview deployments of this pull request', parsePr)
    .option('--limit <n>', 'at most this many (1-200, default 50)', positive(200))
    .option('--json', 'print as JSON')
    .action(
      action(async (o: { project?: string; env?: string; pr?: number; limit?: number; json?: boolean }) => {
        const project = resolveProject(o.project);
        const r = await client().request<{ deployments: Deployment[] }>('GET', path(project), undefined, {
          query: { environment: o.env, pr: o.pr, limit: o.limit },
        });
        if (o.json) return printJson({ project, deployments: r.deployments });
        if (r.deployments.length === 0) return print(`No deployments in ${project}${o.env ? ` (${o.env})` : ''}${o.pr ? ` for PR #${o.pr}` : ''}.`);
        process.stdout.write(
          table(r.deployments, [
            { header: 'id', get: (d) => d.id, style: () => 'cyan' },
            { header: 'status', get: (d) => d.status, style: (d) => (d.status === 'succeeded' ? 'green' : d.status === 'failed' ? 'red' : 'yellow') },
            { header: 'environment', get: (d) => `${d.environment}${d.pr !== null ? ` #${d.pr}` : ''}` },
            { header: 'ref', get: (d) => d.ref?.slice(0, 12) ?? '-' },
            { header: 'started', get: (d) => `${when(d.createdAt)} by ${formatStartedBy(d.startedBy)}` },
            { header: 'reason', get: (d) => d.reason ?? '' },
          ]),
        );
      }),
    );

  deployments
    .command('cancel')
    .description('cancel a running deployment: it completes as failed and its deploy token stops working')
    .argument('<id>', 'deployment id')
    .option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)')
    .option('--json', 'print the deployment as JSON')
    .action(
      action(async (id: string, o: { project?: string; json?: boolean }) => {
        const project = resolveProject(o.project);
        const r = await client().request<{ deployment: Deployment }>('POST', `${path(project)}/${encodeURIComponent(id)}/cancel`);
        if (o.json) return printJson(r);
        print(
          `Cancelled deployment ${r.deployment.id} (${r.deployment.environment}${r.deployment.pr !== null ? ` #${r.deployment.pr}` : ''}): ${r.deployment.reason ?? 'failed'}; its deploy token no longer works.`,
        );
      }),
    );
}
