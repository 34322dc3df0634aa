import { type Command, Option } from 'commander';
import { deployFly } from '../pipeline/fly.js';
import type { ChangeSet, ShownDeployment, StartedBy } from '../domain/contract.js';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { type Environment, ENVIRONMENTS } from '../domain/rules.js';
import { ciIdToken, startDeploymentWithIdToken } from '../pipeline/oidc.js';
import { completeDeployment, startDeployment, type StartRequest } from '../pipeline/run.js';
import { readConfig, resolveTarget } from './config-file.js';
import { ApiClient, normalizeUrl } from './http-client.js';
import { resolveProject } from './link.js';
import { parsePr } from './args.js';
import { deployAuthFromEnv, fail } from './run.js';

/** Server URL and a personal token or deploy key: KEYLOFT_URL / KEYLOFT_TOKEN, else what `keyloft login` saved. */
export function personalTarget(env: NodeJS.ProcessEnv = process.env): { url: string; token: string; releaseUrl: string | undefined } {
  const t = resolveTarget({}, env);
  return { url: t.url, token: t.token, releaseUrl: t.releaseUrl };
}

/** Single-quotes a string for POSIX shells. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

interface StartOpts {
  project?: string;
  env: Environment;
  pr?: number;
  ref?: string;
  oidc?: boolean;
  audience?: string;
}

function startRequest(o: StartOpts): StartRequest {
  // With --oidc a pull-request token names its PR itself.
  if (o.env === 'preview' && o.pr === undefined && !o.oidc)
    throw new CommandError('--pr is required for --env preview (or use --oidc with a pull-request ID token)', EXIT_USAGE);
  if (o.audience !== undefined && !o.oidc) throw new CommandError('--audience is only for --oidc', EXIT_USAGE);
  if (o.env === 'production' && o.pr !== undefined) throw new CommandError('--pr is only for --env preview', EXIT_USAGE);
  return { environment: o.env, ...(o.pr !== undefined ? { pr: o.pr } : {}), ...(o.ref ? { ref: o.ref } : {}) };
}

/** "deploy key ci", "trust policy main", or "person alice@example.com (release grant)": a person-started release stands out. */
export function formatStartedBy(s: StartedBy | string): string {
  if (typeof s === 'string') return s; // a server from before `startedBy` was an object
  if (s.kind === 'person') return `PERSON ${s.name} (release grant, not the pipeline)`;
  return `${s.kind === 'deploy_key' ? 'deploy key' : 'trust policy'} ${s.name}`;
}

/** Human form of `deploy show`: names, versions and short digests only. */
export function formatShown(r: ShownDeployment): string {
  const d = r.deployment;
  const lines = [
    `deployment ${d.id}  ${d.status}`,
    `  environment  ${d.environment}${d.pr !== null ? ` (PR #${d.pr})` : ''}${r.app ? `  app ${r.app}` : ''}`,
    `  ref          ${d.ref ?? '-'}`,
    `  started      ${d.createdAt} by ${formatStartedBy(d.startedBy)}${d.completedAt ? `, completed ${d.completedAt}` : ''}`,
    ...(d.reason ? [`  reason       ${d.reason}`] : []),
    `  runtime      ${r.pinned.runtime.map((p) => `${p.name} v${p.version}`).join(', ') || '-'}`,
    `  build        ${r.pinned.build.map((p) => `${p.name} v${p.version}`).join(', ') || '-'}`,
  ];
  const c = r.changes;
  if (c) {
    lines.push(c.previous ? `changes since ${c.previous}:` : 'changes (first succeeded deployment of this environment):');
    const set = (label: string, s: ChangeSet) => {
      const out = [
        ...s.added.map((n) => `  + ${label}${n}`),
        ...s.changed.map((x) => `  ~ ${label}${x.name}  ${x.digestBefore} -> ${x.digestAfter}`),
        ...s.removed.map((n) => `  - ${label}${n}`),
      ];
      return out;
    };
    const all = [...set('', c), ...set('build:', c.build)];
    lines.push(...(all.length > 0 ? all : ['  (none)']));
  }
  return `${lines.join('\n')}\n`;
}

const envOption = () => new Option('--env <environment>', 'production or preview').choices(ENVIRONMENTS).makeOptionMandatory();
const oidcOption = () =>
  new Option('--oidc', "start with the CI job's OpenID Connect ID token (a trust policy of the project must accept it) instead of KEYLOFT_TOKEN");
const audienceOption = () => new Option('--audience <aud>', 'with --oidc on GitHub Actions: the audience to request (default: the keyloft server URL)');

/** The server URL alone (for --oidc, which needs no KEYLOFT_TOKEN): KEYLOFT_URL, else what `keyloft login` saved. */
export function serverUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.KEYLOFT_URL || readConfig(env).url;
  if (!url) throw new CommandError('no server URL configured: set KEYLOFT_URL (or run `keyloft login --url URL`)', EXIT_USAGE);
  return normalizeUrl(url);
}

/** With --oidc: the server URL and the CI job's ID token (never printed). */
async function oidcStart(o: StartOpts): Promise<{ url: string; idToken: string; releaseUrl: string | undefined }> {
  const url = serverUrl();
  const { token, source } = await ciIdToken(o.audience ?? url);
  process.stderr.write(`keyloft: exchanging the CI ID token from ${source}\n`);
  return { url, idToken: token, releaseUrl: process.env.KEYLOFT_RELEASE_URL || undefined };
}

export function registerDeploy(program: Command): void {
  const deploy = program.command('deploy').description('deployments: start one, complete it, or drive flyctl from start to finish');

  deploy
    .command('start')
    .description('start a deployment and print its id and deploy token (as shell exports, or JSON)')
    .option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)')
    .addOption(envOption())
    .option('--pr <number>', 'pull request number (preview only)', parsePr)
    .option('--ref <sha>', 'git ref being deployed')
    .addOption(oidcOption())
    .addOption(audienceOption())
    .option('--json', 'print the whole reply as JSON', false)
    .addHelpText(
      'after',
      `
Uses KEYLOFT_URL and KEYLOFT_TOKEN (a personal token or the project's deploy key), or \`keyloft login\`.
With --oidc, no KEYLOFT_TOKEN: the CI job's ID token comes from KEYLOFT_OIDC_TOKEN, the file
KEYLOFT_OIDC_TOKEN_FILE, or GitHub Actions (\`permissions: id-token: write\`), and one of the
project's trust policies must accept it; a pull-request token names its own --pr.
The output holds the deploy token: evaluate it, do not log it.

Example:
  eval "$(keyloft deploy start --project shop --env production --ref "$GITHUB_SHA")"
  eval "$(keyloft deploy start --oidc --project shop --env preview)"
  keyloft run --build -- npm run build
  keyloft deploy complete --status succeeded
`,
    )
    .action(async (o: StartOpts & { json: boolean }) => {
      try {
        const body = startRequest(o);
        const project = resolveProject(o.project);
        let target: { url: string };
        let started: Awaited<ReturnType<typeof startDeployment>>;
        if (o.oidc) {
          const { url, idToken } = await oidcStart(o);
          target = { url };
          started = await startDeploymentWithIdToken(url, project, body, idToken);
        } else {
          const personal = personalTarget();
          target = personal;
          started = await startDeployment(personal.url, personal.token, project, body);
        }
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ url: target.url, ...started }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `export KEYLOFT_URL=${shellQuote(target.url)}\nexport KEYLOFT_DEPLOYMENT=${shellQuote(started.id)}\nexport KEYLOFT_DEPLOY_TOKEN=${shellQuote(started.token)}\n`,
          );
        }
        const pinned = started.pinned ? `${started.pinned.runtime.length} runtime, ${started.pinned.build.length} build secret(s) pinned` : '';
        process.stderr.write(
          `keyloft: deployment ${started.id} started for ${started.project?.app ?? project}; ${pinned}; token expires ${started.expiresAt}\n`,
        );
      } catch (err) {
        fail(err);
      }
    });

  deploy
    .command('show')
    .description('show a deployment: status, pinned names and versions, and what changed (by digest) since the previous succeeded one')
    .argument('<id>', 'deployment id')
    .option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)')
    .option('--json', 'print the whole reply as JSON', false)
    .action(async (id: string, o: { project?: string; json: boolean }) => {
      try {
        const target = personalTarget();
        const project = resolveProject(o.project);
        const r = await new ApiClient(target.url, target.token).request<ShownDeployment>(
          'GET',
          `/projects/${encodeURIComponent(project)}/deployments/${encodeURIComponent(id)}`,
        );
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatShown(r));
      } catch (err) {
        fail(err);
      }
    });

  deploy
    .command('complete')
    .description('end the deployment in KEYLOFT_DEPLOYMENT as succeeded or failed (revokes its token)')
    .addOption(new Option('--status <status>', 'succeeded or failed').choices(['succeeded', 'failed']).makeOptionMandatory())
    .action(async (o: { status: 'succeeded' | 'failed' }) => {
      try {
        const auth = await deployAuthFromEnv();
        await completeDeployment(auth, o.status);
        process.stderr.write(`keyloft: deployment ${auth.deployment} ${o.status}\n`);
      } catch (err) {
        fail(err);
      }
    });

  deploy
    .command('fly')
    .description('start a deployment, stage runtime secrets and deploy with flyctl, complete it by the outcome')
    .option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)')
    .addOption(envOption())
    .option('--pr <number>', 'pull request number (preview only)', parsePr)
    .option('--ref <sha>', 'git ref being deployed')
    .option('--app <name>', "Fly app name (default: the project's production app, or its preview pattern for --pr)")
    .addOption(oidcOption())
    .addOption(audienceOption())
    .argument('[flyctlArgs...]', 'extra arguments for `flyctl deploy` (after --)')
    .addHelpText(
      'after',
      `
Runs \`flyctl secrets import --app APP --stage\` (values on stdin), then
\`flyctl deploy --app APP --build-secret NAME=VALUE … [flyctlArgs]\`, masking flyctl's output.
flyctl comes from KEYLOFT_FLYCTL or PATH and uses its own credentials (FLY_API_TOKEN).
Exit code: flyctl's. With --oidc, the deployment is started with the CI job's ID token (see
\`keyloft deploy start --help\`) instead of KEYLOFT_TOKEN.

Example:
  keyloft deploy fly --project shop --env preview --pr 42 -- --remote-only
  keyloft deploy fly --oidc --project shop --env production -- --remote-only
`,
    )
    .action(async (flyctlArgs: string[], o: StartOpts & { app?: string }) => {
      try {
        const body = startRequest(o);
        const target = o.oidc ? await oidcStart(o) : personalTarget();
        const result = await deployFly({
          url: target.url,
          ...('idToken' in target ? { idToken: target.idToken } : { token: target.token }),
          ...(target.releaseUrl ? { releaseUrls: [target.releaseUrl] } : {}),
          project: resolveProject(o.project),
          environment: body.environment,
          ...(body.pr !== undefined ? { pr: body.pr } : {}),
          ...(body.ref !== undefined ? { ref: body.ref } : {}),
          ...(o.app ? { app: o.app } : {}),
          extraArgs: flyctlArgs,
          forwardSignals: true,
        });
        process.exitCode = result.code;
      } catch (err) {
        fail(err);
      }
    });
}
