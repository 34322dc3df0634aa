import type { Command } from 'commander';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { fetchReleased, runWithSecrets } from '../pipeline/run.js';
import type { DeployAuth } from '../pipeline/run.js';
import { loginFor, readConfig } from './config-file.js';

/** Prints a keyloft failure (never a value) and sets the exit code. */
export function fail(err: unknown): void {
  if (err instanceof CommandError) {
    process.stderr.write(`keyloft: ${err.message}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  throw err;
}

/** The deployment and its token from KEYLOFT_DEPLOYMENT / KEYLOFT_DEPLOY_TOKEN / KEYLOFT_URL. */
export async function deployAuthFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<DeployAuth> {
  const missing: string[] = [];
  const token = env.KEYLOFT_DEPLOY_TOKEN;
  const deployment = env.KEYLOFT_DEPLOYMENT;
  // The server URL may also come from `keyloft login`; the token never does.
  const url = env.KEYLOFT_URL || readConfig(env).url;
  if (!token) missing.push('KEYLOFT_DEPLOY_TOKEN');
  if (!deployment) missing.push('KEYLOFT_DEPLOYMENT');
  if (!url) missing.push('KEYLOFT_URL');
  if (missing.length > 0) {
    throw new CommandError(`${missing.join(', ')} not set (start a deployment first: eval "$(keyloft deploy start --project P --env production)")`, EXIT_USAGE);
  }
  if (!/^https?:\/\//i.test(url!)) throw new CommandError('KEYLOFT_URL must be an http(s) URL', EXIT_USAGE);
  let saved: string | undefined;
  try {
    saved = loginFor(url!, env)?.releaseUrl;
  } catch {
    saved = undefined; // an unreadable login file only means no saved release URL
  }
  const releaseUrls = [env.KEYLOFT_RELEASE_URL, saved].filter((u): u is string => !!u);
  return { url: url!, deployment: deployment!, token: token!, releaseUrls };
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description("run a command with the deployment's secrets in its environment, masking them in its output")
    .option('--build', 'build mode: build secrets as env vars and as files in $KEYLOFT_SECRETS_DIR (instead of runtime secrets)', false)
    .argument('<command...>', 'the command to run (put it after --)')
    .allowUnknownOption()
    .addHelpText(
      'after',
      `
Reads KEYLOFT_URL, KEYLOFT_DEPLOYMENT and KEYLOFT_DEPLOY_TOKEN (see \`keyloft deploy start\`).
Every secret value, and its base64 (also wrapped), hex, URL- and JSON-encoded forms, is shown
as *** in the command's output (docs/PIPELINE.md lists what is and is not masked). With --build,
the secrets directory is on /dev/shm (tmpfs) where present; directories left by a killed run are
removed at the next run. A 421 from a split-role server is followed only to KEYLOFT_RELEASE_URL. The exit code is the command's (128+n when ended by signal n).

Examples:
  keyloft run --build -- npm run build
  keyloft run -- node server.js
`,
    )
    .action(async (command: string[], o: { build: boolean }) => {
      try {
        const auth = await deployAuthFromEnv();
        const released = await fetchReleased(auth);
        const result = await runWithSecrets({ command, released, build: o.build, extraMask: [auth.token], forwardSignals: true });
        process.exitCode = result.code;
      } catch (err) {
        fail(err);
      }
    });
}
