/**
 * `keyloft link`: remembers a directory's project in `keyloft.json` (`{ "project": "slug" }`),
 * so `--project` can be left out in that directory and below.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveTarget } from './config-file.js';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { action, ApiClient } from './http-client.js';
import { print, printJson } from './output.js';

export const LINK_FILE = 'keyloft.json';
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The nearest keyloft.json from `start` upwards, with its project, or undefined. */
export function findLink(start: string = process.cwd()): { file: string; project: string } | undefined {
  let dir = resolve(start);
  for (;;) {
    const file = join(dir, LINK_FILE);
    if (existsSync(file)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        throw new CommandError(`${file} is not valid JSON (expected { "project": "slug" })`, EXIT_USAGE);
      }
      const project = (parsed as { project?: unknown } | null)?.project;
      if (typeof project !== 'string' || !SLUG.test(project))
        throw new CommandError(`${file} has no valid "project" (expected { "project": "slug" })`, EXIT_USAGE);
      return { file, project };
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The project to act on: --project, else KEYLOFT_PROJECT, else the nearest keyloft.json. */
export function resolveProject(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const p = flag ?? env.KEYLOFT_PROJECT ?? findLink()?.project;
  if (!p) throw new CommandError('no project given: pass --project SLUG, or run `keyloft link --project SLUG` in this directory', EXIT_USAGE);
  if (!SLUG.test(p))
    throw new CommandError(`--project must be a project slug (lower-case letters, digits and dashes), got ${JSON.stringify(p.slice(0, 80))}`, EXIT_USAGE);
  return p;
}

export function registerLink(program: Command): void {
  program
    .command('link')
    .description(`link the current directory to a project (writes ${LINK_FILE}), so --project can be left out here and below`)
    .requiredOption('--project <slug>', 'project slug')
    .option('--no-verify', 'do not check with the server that the project exists')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  keyloft link --project shop
  keyloft secrets list            # now means --project shop, in this directory and below

The file holds no secret and can be committed: { "project": "shop" }.
`,
    )
    .action(
      action(async (o: { project: string; verify: boolean; json?: boolean }) => {
        if (!SLUG.test(o.project))
          throw new CommandError(
            `--project must be a project slug (lower-case letters, digits and dashes), got ${JSON.stringify(o.project.slice(0, 80))}`,
            EXIT_USAGE,
          );
        if (o.verify) {
          const t = resolveTarget();
          await new ApiClient(t.url, t.token).request('GET', `/projects/${encodeURIComponent(o.project)}`);
        }
        const file = join(process.cwd(), LINK_FILE);
        writeFileSync(file, `${JSON.stringify({ project: o.project }, null, 2)}\n`);
        if (o.json) printJson({ project: o.project, file });
        else print(`Linked ${process.cwd()} to project ${o.project} (${LINK_FILE})`);
      }),
    );
}
