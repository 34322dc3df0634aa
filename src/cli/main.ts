import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAdmin } from './admin.js';
import { registerBackup } from './backup.js';
import { registerCheck } from './check.js';
import { registerKeys } from './keys.js';
import { registerDeploy } from './deploy.js';
import { registerDeployKeys } from './deploy-keys.js';
import { registerDeployments } from './deployments.js';
import { registerInvitations } from './invitations.js';
import { registerRun } from './run.js';
import { registerCompletion } from './completion.js';
import { registerLink } from './link.js';
import { registerLogin } from './login.js';
import { registerMembers } from './members.js';
import { registerProjects } from './projects.js';
import { registerSecrets } from './secrets.js';
import { registerTrustPolicies } from './trust-policies.js';

// The installed package's own version (package.json ships in the tarball, two levels above dist/src/cli).
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Commander's parse errors as one short line naming the flag, e.g. `error: --scope is required`. */
function oneLineError(message: string): string {
  const first = message.trim().split('\n')[0] ?? '';
  const required = /required option '(-[^ ',]+(?:, )?)*(--[\w-]+)[^']*' not specified/.exec(first);
  if (required) return `error: ${required[2]} is required\n`;
  const argument = /missing required argument '([^']+)'/.exec(first);
  if (argument) return `error: the argument <${argument[1]}> is required\n`;
  return `${first}${first.includes('--help') ? '' : ' (see --help)'}\n`;
}

const program = new Command();
program
  .name('keyloft')
  .description('keyloft: secrets for continuous deployment to Fly.io')
  .version(version)
  // Program options (-V/--version) only before the subcommand, so `secrets restore --version N` is the subcommand's.
  .enablePositionalOptions()
  // A command line that does not parse: one line (`error: --scope is required`), not the whole help.
  .configureOutput({ outputError: (message, write) => write(oneLineError(message)) })
  .exitOverride((err) => {
    // --help and --version exit 0; a command line commander cannot parse exits 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

program
  .command('serve')
  .description('run the keyloft server')
  .option('--role <role>', 'all (default), api (no keys: dashboard and API), release (deployment routes only)')
  .option('--port <port>', 'port to listen on (default 8080, or KEYLOFT_PORT)')
  .option('--host <host>', 'address to listen on (default 127.0.0.1, or KEYLOFT_HOST)')
  .addHelpText(
    'after',
    '\nSettings come from the environment: KEYLOFT_DATABASE_URL, KEYLOFT_DATA_DIR, KEYLOFT_MASTER_KEY, KEYLOFT_MASTER_KEY_FILE, … (see README).\n',
  )
  // Loaded on use: the server's modules would slow every other command's start.
  .action(async (opts: { role?: string; port?: string; host?: string }) => (await import('./serve.js')).serveCommand(opts));

registerLogin(program);
registerProjects(program);
registerSecrets(program);
registerLink(program);
registerAdmin(program);
registerBackup(program);
registerKeys(program);
registerCheck(program);
registerRun(program);
registerDeploy(program);
registerMembers(program);
registerDeployKeys(program);
registerDeployments(program);
registerInvitations(program);
registerTrustPolicies(program);
registerCompletion(program);

await program.parseAsync(process.argv);
