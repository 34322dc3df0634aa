import { Command } from 'commander';
import { registerAdmin } from './admin.js';
import { registerBackup } from './backup.js';
import { registerKeys } from './keys.js';
import { registerDeploy } from './deploy.js';
import { registerDeployKeys } from './deploy-keys.js';
import { registerRun } from './run.js';
import { registerCompletion } from './completion.js';
import { registerLink } from './link.js';
import { registerLogin } from './login.js';
import { registerMembers } from './members.js';
import { registerProjects } from './projects.js';
import { registerSecrets } from './secrets.js';
import { registerTrustPolicies } from './trust-policies.js';

const program = new Command();
program
  .name('keyloft')
  .description('keyloft: secrets for continuous deployment to Fly.io')
  .version('0.1.0')
  // Program options (-V/--version) only before the subcommand, so `secrets restore --version N` is the subcommand's.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride((err) => {
    // Usage errors exit 1; --help and --version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 1);
  });

program
  .command('serve')
  .description('run the keyloft server')
  .option('--role <role>', 'all (default), api (no keys: dashboard and API), release (deployment routes only)')
  .option('--port <port>', 'port to listen on (default 8080, or KEYLOFT_PORT)')
  .option('--host <host>', 'address to listen on (default 127.0.0.1, or KEYLOFT_HOST)')
  .addHelpText('after', '\nSettings come from the environment: KEYLOFT_DATABASE_URL, KEYLOFT_DATA_DIR, KEYLOFT_MASTER_KEY, KEYLOFT_MASTER_KEY_FILE, … (see README).\n')
  // Loaded on use: the server's modules would slow every other command's start.
  .action(async (opts: { role?: string; port?: string; host?: string }) => (await import('./serve.js')).serveCommand(opts));

registerLogin(program);
registerProjects(program);
registerSecrets(program);
registerLink(program);
registerAdmin(program);
registerBackup(program);
registerKeys(program);
registerRun(program);
registerDeploy(program);
registerMembers(program);
registerDeployKeys(program);
registerTrustPolicies(program);
registerCompletion(program);

await program.parseAsync(process.argv);
