import { type Command, Option } from 'commander';
import { deployFly } from '../pipeline/fly.js';
import { CommandError, EXIT_USAGE } from '../domain/exit-codes.js';
import { completeDeployment, startDeployment, type StartRequest } from '../pipeline/run.js';
import { resolveTarget } from './config-file.js';
import { ApiClient } from './http-client.js';
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
  env: 'production' | 'preview';
  pr?: number;
  ref?: string;
}

function startRequest(o: StartOpts): StartRequest {
  if (o.env === 'preview' && o.pr === undefined) throw new CommandError('--pr is required for --env preview', EXIT_USAGE);
  if (o.env === 'production' && o.pr !== undefined) throw new CommandError('--pr is only for --env preview', EXIT_USAGE);
  return { environment: o.env, ...(o.pr !== undefined ? { pr: o.pr } : {}), ...(o.ref ? { ref: o.ref } : {}) };
}

interface ChangeSet {
  added: string[];
  changed: Array<{ name: string; digestBefore: string; digestAfter: string }>;
  removed: string[];
}
interface ShownDeployment {
  deployment: {
    id: string;
    environment: string;
    pr: number | null;
    ref: string | null;
    status: string;
    startedBy: string;
    createdAt: string;
    completedAt: string | null;
    reason?: string | null;
  };
  pinned: { runtime: Array<{ name: string; version: number }>; build: Array<{ name: string; version: number }> };
  app?: string;
  changes?: ChangeSet & { previous: string | null; build: ChangeSet };
}

/** Human form of `deploy show`: names, versions and short digests only. */
export function formatShown(r: ShownDeployment): string {
  const d = r.deployment;
  const lines = [
    `deployment ${d.id}  ${d.status}`,
    `  environment  ${d.environment}${d.pr !== null ? ` (PR #${d.pr})` : ''}${r.app ? `  app ${r.app}` : ''}`,
    `  ref          ${d.ref ?? '-'}`,
    `  started      ${d.createdAt} by ${d.startedBy}${d.completedAt ? `, completed ${d.completedAt}` : ''}`,
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

const envOption = () => new Option('--env <environment>', 'production or preview').choices(['production', 'preview']).makeOptionMandatory();

export function registerDeploy(program: Command): void {
  const deploy = program.command('deploy').description('deployments: start one, complete it, or drive flyctl from start to finish');

  deploy
    .command('start')
    .description('start a deployment and print its id and deploy token (as shell exports, or JSON)')
    .option('--project <slug>', 'project slug (default: KEYLOFT_PROJECT or the nearest keyloft.json, see `keyloft link`)')
    .addOption(envOption())
    .option('--pr <number>', 'pull request number (preview only)', parsePr)
    .option('--ref <sha>', 'git ref being deployed')
    .option('--json', 'print the whole reply as JSON', false)
    .addHelpText(
      'after',
      `
Uses KEYLOFT_URL and KEYLOFT_TOKEN (a personal token or the project's deploy key), or \`keyloft login\`.
The output holds the deploy token: evaluate it, do not log it.

Example:
  eval "$(keyloft deploy start --project shop --env production --ref "$GITHUB_SHA")"
  keyloft run --build -- npm run build
  keyloft deploy complete --status succeeded
`,
    )
    .action(async (o: StartOpts & { json: boolean }) => {
      try {
        const body = startRequest(o);
        const target = personalTarget();
        const project = resolveProject(o.project);
        const started = await startDeployment(target.url, target.token, project, body);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ url: target.url, ...started }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `export KEYLOFT_URL=${shellQuote(target.url)}\nexport KEYLOFT_DEPLOYMENT=${shellQuote(started.id)}\nexport KEYLOFT_DEPLOY_TOKEN=${shellQuote(started.token)}\n`,
          );
        }
        const pinned = started.pinned ? `${started.pinned.runtime.length} runtime, ${started.pinned.build.length} build secret(s) pinned` : '';
        process.stderr.write(`keyloft: deployment ${started.id} started for ${started.project?.app ?? project}; ${pinned}; token expires ${started.expiresAt}\n`);
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
        const r = await new ApiClient(target.url, target.token).request<ShownDeployment>('GET', `/projects/${encodeURIComponent(project)}/deployments/${encodeURIComponent(id)}`);
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
    .argument('[flyctlArgs...]', 'extra arguments for `flyctl deploy` (after --)')
    .addHelpText(
      'after',
      `
Runs \`flyctl secrets import --app APP --stage\` (values on stdin), then
\`flyctl deploy --app APP --build-secret NAME=VALUE … [flyctlArgs]\`, masking flyctl's output.
flyctl comes from KEYLOFT_FLYCTL or PATH and uses its own credentials (FLY_API_TOKEN).
Exit code: flyctl's.

Example:
  keyloft deploy fly --project shop --env preview --pr 42 -- --remote-only
`,
    )
    .action(async (flyctlArgs: string[], o: StartOpts & { app?: string }) => {
      try {
        const body = startRequest(o);
        const target = personalTarget();
        const result = await deployFly({
          url: target.url,
          token: target.token,
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
