/**
 * `keyloft members invite`, `keyloft invitations list|revoke` and `keyloft audit`: people and the
 * audit log, over the HTTP API.
 */
import type { Command } from 'commander';
import type { AuditEvent, AuditPage, Invitation } from '../domain/contract.js';
import { ROLES } from '../domain/rules.js';
import { action, usageError } from './http-client.js';
import { resolveProject } from './link.js';
import { print, printJson, table, when } from './output.js';
import { client } from './projects.js';

function role(r: string): string {
  if (!(ROLES as readonly string[]).includes(r)) throw usageError(`--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(r.slice(0, 40))}`);
  return r;
}

/** `--since`: an ISO date/time, or a duration back from now (`30m`, `24h`, `7d`). */
export function parseSince(raw: string, now = Date.now()): number {
  const m = /^(\d{1,6})([mhd])$/.exec(raw.trim());
  if (m) return now - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
  const t = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw.trim()) || Number.isNaN(t)) {
    throw usageError(`--since must be a date (2026-11-29, 2026-11-29T10:00:00Z) or a duration (30m, 24h, 7d), got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return t;
}

/** Adds `invite` to the `members` command group. */
export function addMembersInvite(members: Command): void {
  members
    .command('invite')
    .description('invite a person by email (admin): prints a one-time link (valid 7 days), also e-mailed when the server has SMTP')
    .option('--project <slug>', 'project slug (default: from keyloft.json)')
    .requiredOption('--email <email>', 'their email address')
    .requiredOption('--role <role>', 'admin, member or viewer')
    .option('--release', 'also grant release: they can read values by starting a deployment')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
The answer is the same whether or not the email has an account. The link is printed this once
(it is stored only as a hash): send it to them. Pending invitations: keyloft invitations list.

Examples:
  keyloft members invite --project shop --email dana@example.com --role member
  keyloft members invite --project shop --email ci-owner@example.com --role admin --release
`,
    )
    .action(
      action(async (o: { project?: string; email: string; role: string; release?: boolean; json?: boolean }) => {
        const p = resolveProject(o.project);
        const body = { email: o.email, role: role(o.role), ...(o.release ? { release: true } : {}) };
        const r = await client().request<{ id: string; url: string; expiresAt: string; emailed: boolean }>(
          'POST',
          `/projects/${encodeURIComponent(p)}/invitations`,
          body,
        );
        if (o.json) return printJson(r);
        print(
          `Invited ${o.email.trim().toLowerCase()} to ${p} as ${o.role}${r.emailed ? ' (e-mailed)' : ''}. The link works once, until ${when(r.expiresAt)}:`,
        );
        print(r.url);
      }),
    );
}

export function registerInvitations(program: Command): void {
  // `members` may already be registered (list|add|set-role|remove): add `invite` to it.
  const members = program.commands.find((c) => c.name() === 'members') ?? program.command('members').description('members of a project, and invitations');
  addMembersInvite(members);

  const invitations = program.command('invitations').description('pending invitations of a project (admin)');
  invitations
    .command('list')
    .alias('ls')
    .description('pending invitations (never their links)')
    .option('--project <slug>', 'project slug (default: from keyloft.json)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  keyloft invitations list --project shop\n')
    .action(
      action(async (o: { project?: string; json?: boolean }) => {
        const p = resolveProject(o.project);
        const r = await client().request<{ invitations: Invitation[] }>('GET', `/projects/${encodeURIComponent(p)}/invitations`);
        if (o.json) return printJson(r);
        if (r.invitations.length === 0) return print(`No pending invitations in ${p}.`);
        process.stdout.write(
          table(r.invitations, [
            { header: 'id', get: (i) => i.id, style: () => 'cyan' },
            { header: 'email', get: (i) => i.email },
            { header: 'role', get: (i) => (i.release ? `${i.role} + release` : i.role) },
            { header: 'invited', get: (i) => `${when(i.createdAt)} by ${i.createdBy}` },
            { header: 'expires', get: (i) => when(i.expiresAt) },
          ]),
        );
      }),
    );
  invitations
    .command('revoke')
    .description('revoke a pending invitation: its link stops working')
    .argument('<id>', 'the invitation id (from keyloft invitations list)')
    .option('--project <slug>', 'project slug (default: from keyloft.json)')
    .addHelpText('after', '\nExamples:\n  keyloft invitations revoke --project shop inv_AbC123\n')
    .action(
      action(async (id: string, o: { project?: string }) => {
        const p = resolveProject(o.project);
        await client().request('DELETE', `/projects/${encodeURIComponent(p)}/invitations/${encodeURIComponent(id)}`);
        print(`Revoked invitation ${id}.`);
      }),
    );

  program
    .command('audit')
    .description("a project's audit log, newest first (who did what, when; never a value)")
    .option('--project <slug>', 'project slug (default: from keyloft.json)')
    .option('--since <when>', 'only events since a date (2026-11-29) or a duration back from now (30m, 24h, 7d)')
    .option('--action <action>', 'only this action (e.g. secret.updated, member.added)')
    .option('--limit <n>', 'at most this many events (default 50, or every event since --since)')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  keyloft audit --project shop\n  keyloft audit --project shop --since 24h\n  keyloft audit --since 2026-11-01 --action member.added --json\n',
    )
    .action(
      action(async (o: { project?: string; since?: string; action?: string; limit?: string; json?: boolean }) => {
        const p = resolveProject(o.project);
        const since = o.since !== undefined ? parseSince(o.since) : undefined;
        if (o.limit !== undefined && !/^\d{1,6}$/.test(o.limit)) throw usageError('--limit must be a whole number');
        const max = o.limit !== undefined ? Number(o.limit) : since !== undefined ? Number.POSITIVE_INFINITY : 50;
        const events: AuditEvent[] = [];
        let before: string | undefined;
        // Pages of up to 200, newest first, until --since or --limit is reached.
        for (;;) {
          const r = await client().request<AuditPage>('GET', `/projects/${encodeURIComponent(p)}/audit`, undefined, {
            query: { limit: Math.min(200, Number.isFinite(max) ? Math.max(1, max - events.length) : 200), before, action: o.action },
          });
          let done = r.nextCursor === null;
          for (const e of r.events) {
            if ((since !== undefined && Date.parse(e.at) < since) || events.length >= max) {
              done = true;
              break;
            }
            events.push(e);
          }
          if (done || events.length >= max) break;
          before = r.nextCursor!;
        }
        if (o.json) return printJson({ events });
        if (events.length === 0) return print(`No audit events in ${p}${o.since ? ` since ${o.since}` : ''}.`);
        process.stdout.write(
          table(events, [
            { header: 'when', get: (e) => when(e.at) },
            { header: 'actor', get: (e) => e.actor },
            { header: 'action', get: (e) => e.action, style: () => 'cyan' },
            { header: 'what', get: (e) => [e.scope, e.name, e.version !== null ? `v${e.version}` : null].filter(Boolean).join(' ') },
          ]),
        );
      }),
    );
}
