/**
 * `keyloft trust-policies list|add|remove` and `keyloft previews close`.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { TrustPolicy } from '../domain/contract.js';
import { ENVIRONMENTS } from '../domain/rules.js';
import { parsePr } from './args.js';
import { action, usageError } from './http-client.js';
import { resolveProject } from './link.js';
import { note, print, printJson, table, when } from './output.js';
import { client } from './projects.js';

export type { TrustPolicy };

const GITHUB = 'https://token.actions.githubusercontent.com';

function parseClaim(raw: string, prev: Record<string, string> = {}): Record<string, string> {
  const i = raw.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('must be CLAIM=PATTERN, e.g. repository_owner=acme');
  return { ...prev, [raw.slice(0, i)]: raw.slice(i + 1) };
}

const projectOption = () => new Option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)');

export function registerTrustPolicies(program: Command): void {
  const tp = program
    .command('trust-policies')
    .description("trust policies: which CI systems' OpenID Connect ID tokens may start deployments (admin)")
    .addHelpText(
      'after',
      `
Examples (GitHub Actions):
  keyloft trust-policies add --name main --audience https://keyloft.example.com \\
    --subject 'repo:acme/shop:ref:refs/heads/main' --env production
  keyloft trust-policies add --name pulls --audience https://keyloft.example.com \\
    --subject 'repo:acme/shop:pull_request' --env preview
`,
    );

  tp.command('list')
    .alias('ls')
    .description("the project's trust policies")
    .addOption(projectOption())
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      "\nExamples:\n  keyloft trust-policies list --project shop\n  keyloft trust-policies list --json | jq -r '.trustPolicies[].subject'\n",
    )
    .action(
      action(async (o: { project?: string; json?: boolean }) => {
        const slug = resolveProject(o.project);
        const r = await client().request<{ trustPolicies: TrustPolicy[] }>('GET', `/projects/${encodeURIComponent(slug)}/trust-policies`);
        if (o.json) return printJson(r);
        if (r.trustPolicies.length === 0) return print(`No trust policies in ${slug}. Add one with: keyloft trust-policies add --help`);
        process.stdout.write(
          table(r.trustPolicies, [
            { header: 'id', get: (p) => p.id, style: () => 'dim' },
            { header: 'name', get: (p) => p.name, style: () => 'cyan' },
            { header: 'env', get: (p) => p.environment },
            { header: 'subject', get: (p) => p.subject },
            {
              header: 'claims',
              get: (p) =>
                Object.entries(p.claims)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ') || '-',
            },
            { header: 'issuer', get: (p) => (p.issuer === GITHUB ? 'GitHub Actions' : p.issuer) },
            { header: 'audience', get: (p) => p.audience },
            { header: 'last used', get: (p) => when(p.lastUsedAt) },
          ]),
        );
      }),
    );

  tp.command('add')
    .description('add a trust policy: ID tokens of ISSUER for AUDIENCE whose subject (and every --claim) matches may start deployments of ENV')
    .addOption(projectOption())
    .requiredOption('--name <name>', 'a name for the policy (shown as who started a deployment)')
    .option('--issuer <url>', "https:// issuer, exactly as the tokens' iss claim", GITHUB)
    .requiredOption('--audience <aud>', "the tokens' aud claim (keyloft deploy --oidc asks GitHub for the server URL by default)")
    .requiredOption('--subject <pattern>', 'sub pattern: exact, or * for any run of characters')
    .addOption(new Option('--env <environment>', 'production or preview').choices(ENVIRONMENTS).makeOptionMandatory())
    .option('--claim <CLAIM=PATTERN>', 'another claim that must match (repeatable)', parseClaim)
    .option('--json', 'print the new policy as JSON')
    .addHelpText(
      'after',
      `
Patterns are exact strings, or globs where * stands for any run of characters (including : and /).
The subject must start with literal text (a leading * would accept any repository).

Examples:
  keyloft trust-policies add --name main --audience https://keyloft.example.com \\
    --subject 'repo:acme/shop:ref:refs/heads/main' --env production
  keyloft trust-policies add --name gitlab-main --issuer https://gitlab.com --audience https://keyloft.example.com \\
    --subject 'project_path:acme/shop:ref_type:branch:ref:main' --env production
  keyloft trust-policies add --name tags --audience https://keyloft.example.com \\
    --subject 'repo:acme/shop:ref:refs/tags/v*' --claim workflow=release --env production
`,
    )
    .action(
      action(
        async (o: {
          project?: string;
          name: string;
          issuer: string;
          audience: string;
          subject: string;
          env: string;
          claim?: Record<string, string>;
          json?: boolean;
        }) => {
          const slug = resolveProject(o.project);
          const p = await client().request<TrustPolicy>('POST', `/projects/${encodeURIComponent(slug)}/trust-policies`, {
            name: o.name,
            issuer: o.issuer,
            audience: o.audience,
            subject: o.subject,
            environment: o.env,
            ...(o.claim ? { claims: o.claim } : {}),
          });
          if (o.json) return printJson(p);
          print(`Added trust policy ${p.name} (${p.id}) to ${slug}: ${p.environment} deployments for ${p.subject}`);
        },
      ),
    );

  tp.command('remove')
    .alias('rm')
    .description('remove a trust policy (by id or name)')
    .argument('<policy>', 'policy id (tp_…) or name')
    .addOption(projectOption())
    .addHelpText(
      'after',
      '\nCI jobs the policy accepted before keep the deployments they started until those complete or expire.\n\nExamples:\n  keyloft trust-policies remove pulls --project shop\n  keyloft trust-policies rm tp_AbC123\n',
    )
    .action(
      action(async (which: string, o: { project?: string }) => {
        const slug = resolveProject(o.project);
        const api = client();
        const r = await api.request<{ trustPolicies: TrustPolicy[] }>('GET', `/projects/${encodeURIComponent(slug)}/trust-policies`);
        const p = r.trustPolicies.find((x) => x.id === which) ?? r.trustPolicies.find((x) => x.name === which);
        if (!p) throw usageError(`no trust policy ${JSON.stringify(which)} in ${slug} (see \`keyloft trust-policies list\`)`);
        await api.request('DELETE', `/projects/${encodeURIComponent(slug)}/trust-policies/${encodeURIComponent(p.id)}`);
        print(`Removed trust policy ${p.name} (${p.id}) from ${slug}`);
      }),
    );

  const previews = program
    .command('previews')
    .description('preview apps (one per pull request)')
    .addHelpText('after', '\nExample:\n  keyloft previews close --project shop --pr 42\n');
  previews
    .command('close')
    .description("mark a pull request's preview app closed: it stops counting for preview status and its per-PR overrides are deleted")
    .addOption(projectOption())
    .requiredOption('--pr <number>', 'pull request number', parsePr)
    .addHelpText(
      'after',
      "\nUses KEYLOFT_URL and KEYLOFT_TOKEN (a member's personal API token), or `keyloft login`.\n\nExample:\n  keyloft previews close --project shop --pr 42\n",
    )
    .action(
      action(async (o: { project?: string; pr: number }) => {
        const slug = resolveProject(o.project);
        await client().request('DELETE', `/projects/${encodeURIComponent(slug)}/previews/${o.pr}`);
        note(`Closed the preview app of pull request #${o.pr} in ${slug}`);
      }),
    );
}
