/**
 * `keyloft members list|add|set-role|remove`: the people of a project, their roles and release grants.
 * `registerMembers` returns the `members` command so further subcommands (e.g. `invite`) can be added to it.
 */
import { type Command, Option } from 'commander';
import type { Member } from '../domain/contract.js';
import { ROLES } from '../domain/rules.js';
import { action, usageError } from './http-client.js';
import { resolveProject } from './link.js';
import { details, print, printJson, table, when } from './output.js';
import { client } from './projects.js';

export type { Member };
export { ROLES };
export const RELEASE_WARNING = 'can read values by starting a deployment';

const projectOption = () => new Option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)');
export const membersPath = (project: string, email?: string) =>
  `/projects/${encodeURIComponent(project)}/members${email === undefined ? '' : `/${encodeURIComponent(email)}`}`;

function showMember(m: Member): string {
  return details([
    ['Email', m.email],
    ['Role', m.role],
    ['Release grant', m.release ? `yes (${RELEASE_WARNING})` : 'no'],
  ]);
}

/** `--release` / `--no-release`: undefined when neither is given (the grant stays as it is). */
function releaseOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--release', `give the release grant: the person ${RELEASE_WARNING}`))
    .addOption(new Option('--no-release', 'take the release grant away'));
}

export function registerMembers(program: Command): Command {
  const members = program
    .command('members')
    .description("a project's members: roles and the release grant (admins change them)")
    .addHelpText(
      'after',
      `
Roles: admin (members, settings, delete project), member (write and delete secrets), viewer (metadata only).
The release grant is separate and off by default for every role: a person with it ${RELEASE_WARNING}.

Examples:
  keyloft members list --project shop
  keyloft members add ana@example.com --role member --project shop
  keyloft members set-role ana@example.com --release --project shop
  keyloft members remove ana@example.com --project shop
`,
    );

  members
    .command('list')
    .alias('ls')
    .description('members of the project with their role and release grant')
    .addOption(projectOption())
    .option('--json', 'print as JSON')
    .action(
      action(async (o: { project?: string; json?: boolean }) => {
        const project = resolveProject(o.project);
        const r = await client().request<{ members: Member[] }>('GET', membersPath(project));
        if (o.json) return printJson({ members: r.members });
        process.stdout.write(
          table(r.members, [
            { header: 'email', get: (m) => m.email, style: () => 'cyan' },
            { header: 'role', get: (m) => m.role },
            { header: 'release', get: (m) => (m.release ? 'yes' : '-'), style: (m) => (m.release ? 'yellow' : 'dim') },
            { header: 'added', get: (m) => when(m.addedAt) },
          ]),
        );
      }),
    );

  releaseOptions(
    members
      .command('add')
      .description('add a person with a keyloft account (admin); with --release they may start deployments')
      .argument('<email>', "the person's email")
      .addOption(new Option('--role <role>', 'admin, member or viewer').choices(ROLES).default('member'))
      .addOption(projectOption())
      .option('--json', 'print the member as JSON'),
  ).action(
    action(async (email: string, o: { role: string; release?: boolean; project?: string; json?: boolean }) => {
      const project = resolveProject(o.project);
      const r = await client().request<{ member: Member; change: string }>('POST', membersPath(project), {
        email,
        role: o.role,
        ...(o.release !== undefined ? { release: o.release } : {}),
      });
      if (o.json) return printJson(r);
      print(`${r.change === 'added' ? 'Added' : 'Updated'} ${r.member.email} in ${project}`);
      process.stdout.write(showMember(r.member));
    }),
  );

  releaseOptions(
    members
      .command('set-role')
      .description("change a member's role and/or release grant (admin)")
      .argument('<email>', "the member's email")
      .argument('[role]', 'admin, member or viewer (omit to change only the release grant)')
      .addOption(projectOption())
      .option('--json', 'print the member as JSON'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  keyloft members set-role ana@example.com admin\n  keyloft members set-role ana@example.com --release\n  keyloft members set-role ana@example.com viewer --no-release\n',
    )
    .action(
      action(async (email: string, role: string | undefined, o: { release?: boolean; project?: string; json?: boolean }) => {
        if (role !== undefined && !(ROLES as readonly string[]).includes(role))
          throw usageError(`role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(role)})`);
        if (role === undefined && o.release === undefined) throw usageError('give a role, --release or --no-release');
        const project = resolveProject(o.project);
        const r = await client().request<{ member: Member }>('PATCH', membersPath(project, email), {
          ...(role ? { role } : {}),
          ...(o.release !== undefined ? { release: o.release } : {}),
        });
        if (o.json) return printJson(r);
        print(`Updated ${r.member.email} in ${project}`);
        process.stdout.write(showMember(r.member));
      }),
    );

  members
    .command('remove')
    .alias('rm')
    .description('remove a member from the project (admin)')
    .argument('<email>', "the member's email")
    .addOption(projectOption())
    .action(
      action(async (email: string, o: { project?: string }) => {
        const project = resolveProject(o.project);
        await client().request('DELETE', membersPath(project, email));
        print(`Removed ${email} from ${project}`);
      }),
    );

  return members;
}
