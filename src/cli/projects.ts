/**
 * `keyloft projects list|create|show`.
 */
import type { Command } from 'commander';
import type { Project } from '../domain/contract.js';
import { resolveTarget } from './config-file.js';
import { action, ApiClient } from './http-client.js';
import { resolveProject } from './link.js';
import { details, print, printJson, table, when } from './output.js';

export type { Project };

/** An API client for the saved (or KEYLOFT_URL / KEYLOFT_TOKEN) target. */
export function client(): ApiClient {
  const t = resolveTarget();
  return new ApiClient(t.url, t.token);
}

function showProject(p: Project): string {
  return details([
    ['Slug', p.slug],
    ['Name', p.name],
    ['Fly app', p.flyApp],
    ['Preview apps', p.flyPreviewPattern],
    ['Your role', p.role],
    ['Created', when(p.createdAt)],
  ]);
}

export function registerProjects(program: Command): void {
  const projects = program
    .command('projects')
    .description('list, create and show projects')
    .addHelpText(
      'after',
      '\nExamples:\n  keyloft projects list\n  keyloft projects create --slug shop --name "Shop" --fly-app shop-prod\n  keyloft projects show shop --json\n',
    );

  projects
    .command('list')
    .alias('ls')
    .description('the projects you are a member of')
    .option('--json', 'print as JSON')
    .addHelpText('after', "\nExamples:\n  keyloft projects list\n  keyloft projects list --json | jq -r '.projects[].slug'\n")
    .action(
      action(async (o: { json?: boolean }) => {
        const r = await client().request<{ projects: Project[] }>('GET', '/projects');
        if (o.json) return printJson({ projects: r.projects });
        if (r.projects.length === 0) return print('No projects yet. Create one with: keyloft projects create --slug SLUG --name NAME');
        process.stdout.write(
          table(r.projects, [
            { header: 'slug', get: (p) => p.slug, style: () => 'cyan' },
            { header: 'name', get: (p) => p.name },
            { header: 'fly app', get: (p) => p.flyApp },
            { header: 'role', get: (p) => p.role },
            { header: 'created', get: (p) => when(p.createdAt) },
          ]),
        );
      }),
    );

  projects
    .command('create')
    .description('create a project (you become its admin)')
    .requiredOption('--slug <slug>', 'short unique id: lower-case letters, digits, dashes')
    .requiredOption('--name <name>', 'display name')
    .option('--fly-app <app>', 'Fly app name of the production app (default: the slug)')
    .option('--fly-preview-pattern <pattern>', 'Fly app name of preview apps (default <slug>-pr-<pr>)')
    .option('--json', 'print the new project as JSON')
    .addHelpText(
      'after',
      `
Add secrets afterwards with \`keyloft secrets set\` or \`keyloft secrets import\`.

Examples:
  keyloft projects create --slug shop --name "Shop"
  keyloft projects create --slug shop --name "Shop" --fly-app shop-prod --fly-preview-pattern 'shop-pr-<pr>'
`,
    )
    .action(
      action(async (o: { slug: string; name: string; flyApp?: string; flyPreviewPattern?: string; json?: boolean }) => {
        const body = {
          slug: o.slug,
          name: o.name,
          ...(o.flyApp ? { flyApp: o.flyApp } : {}),
          ...(o.flyPreviewPattern ? { flyPreviewPattern: o.flyPreviewPattern } : {}),
        };
        const r = await client().request<{ project: Project }>('POST', '/projects', body);
        if (o.json) return printJson({ project: r.project });
        print(`Created project ${r.project.slug}`);
        process.stdout.write(showProject(r.project));
      }),
    );

  projects
    .command('show')
    .description('show a project (default: --project or the linked project)')
    .argument('[slug]', 'project slug')
    .option('--project <slug>', 'project slug (default: from keyloft.json)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  keyloft projects show shop\n  keyloft projects show --json      # the project linked with `keyloft link`\n')
    .action(
      action(async (slug: string | undefined, o: { project?: string; json?: boolean }) => {
        const p = resolveProject(slug ?? o.project);
        const r = await client().request<{ project: Project }>('GET', `/projects/${encodeURIComponent(p)}`);
        if (o.json) return printJson({ project: r.project });
        process.stdout.write(showProject(r.project));
      }),
    );
}
