/**
 * `keyloft login` / `keyloft logout` / `keyloft whoami`: the saved server URL and personal API token.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { Me } from '../domain/contract.js';
import { clearConfig, configPath, loginFor, readConfig, readLogins, resolveTarget, writeConfig } from './config-file.js';
import { CommandError, EXIT_REFUSED, EXIT_USAGE } from '../domain/exit-codes.js';
import { action, ApiClient, normalizeUrl } from './http-client.js';
import { interactive, note, print, printJson, promptHidden, promptLine, readStdinBytes } from './output.js';

function tokenName(): string {
  return `keyloft-cli@${hostname() || 'unknown-host'}`.slice(0, 100);
}

function warnPlainHttp(url: string): void {
  const u = new URL(url);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol === 'http:' && !local) note(`keyloft: warning: ${url} is plain HTTP; your password and token travel unencrypted`);
}

/** Email and password: from the terminal (password hidden), or as two lines on stdin when it is not a terminal. */
async function credentials(emailFlag: string | undefined): Promise<{ email: string; password: string }> {
  if (interactive()) {
    const email = emailFlag ?? (await promptLine('Email: ')).trim();
    const password = await promptHidden('Password: ');
    return { email, password };
  }
  const lines = (await readStdinBytes()).toString('utf8').split(/\r?\n/);
  const email = emailFlag ?? (lines.shift() ?? '').trim();
  const password = lines.shift() ?? '';
  return { email, password };
}

/** Signs in with email and password and creates a personal API token named keyloft-cli@<host>. */
async function tokenFromPassword(url: string, email: string, password: string): Promise<{ token: string; tokenId: string }> {
  if (!email) throw new CommandError('no email given', EXIT_USAGE);
  if (!password) throw new CommandError('no password given', EXIT_USAGE);
  const anon = new ApiClient(url);
  const s = await anon.raw<{ csrfToken: string }>('POST', '/session', { email, password }).catch((err: unknown) => {
    // A 401 here is about the email and password, not a token (the generic 401 text says "token").
    if (err instanceof CommandError && err.code === 'unauthenticated')
      throw new CommandError('server refused (401 unauthenticated): the email or password is wrong', EXIT_REFUSED, { code: err.code });
    throw err;
  });
  const cookie = s.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('keyloft_session='));
  if (!cookie || !s.body?.csrfToken) throw new CommandError('the server did not start a session (is this a keyloft server?)', 2);
  const headers = { cookie, 'x-csrf-token': s.body.csrfToken };
  try {
    const t = await anon.request<{ id: string; token: string }>('POST', '/tokens', { name: tokenName() }, { headers });
    return { token: t.token, tokenId: t.id };
  } finally {
    // The session was only needed to create the token.
    await anon.request('DELETE', '/session', undefined, { headers }).catch(() => undefined);
  }
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('sign in to a keyloft server and save its URL and a personal API token (file mode 0600)')
    .option('--url <url>', 'the server, e.g. https://keyloft.example.com (default: KEYLOFT_URL or the saved URL)')
    .option('--token <token>', 'use an existing personal API token (klt_…) instead of email and password')
    .option('--token-stdin', 'read the API token from standard input (keeps it out of the process list)')
    .option('--email <email>', 'the email to sign in with (otherwise asked for)')
    .option(
      '--release-url <url>',
      "this server's release instance (role release), if it runs apart: the one other URL `keyloft run` may send a deploy token to when the server answers 421, and where this login's token is used when KEYLOFT_URL names it",
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Without a token, asks for your email and password (the password is not shown), creates a
personal API token named keyloft-cli@<host> and saves it. When standard input is not a
terminal, reads the email and the password as two lines from it.

The URL and token are saved in $XDG_CONFIG_HOME/keyloft/config.json (default
~/.config/keyloft/config.json; KEYLOFT_CONFIG_DIR overrides the directory), one login per
server URL; the last one is the current one. A saved token is only ever sent to the URL it
was saved for: with KEYLOFT_URL naming another server, no token is sent unless KEYLOFT_TOKEN
is set. KEYLOFT_URL and KEYLOFT_TOKEN, when set, take precedence over the file.

Examples:
  keyloft login --url https://keyloft.example.com
  printf '%s\\n' "$KEYLOFT_API_TOKEN" | keyloft login --url https://keyloft.example.com --token-stdin
  keyloft login --url http://localhost:8080 --token klt_…
`,
    )
    .action(
      action(async (o: { url?: string; token?: string; tokenStdin?: boolean; email?: string; releaseUrl?: string; json?: boolean }) => {
        const rawUrl = o.url ?? process.env.KEYLOFT_URL ?? readConfig().url;
        if (!rawUrl) throw new CommandError('missing --url (the keyloft server, e.g. --url https://keyloft.example.com)', EXIT_USAGE);
        if (o.token && o.tokenStdin) throw new CommandError('give either --token or --token-stdin, not both', EXIT_USAGE);
        const url = normalizeUrl(rawUrl);
        const releaseUrl = o.releaseUrl ? normalizeUrl(o.releaseUrl) : loginFor(url)?.releaseUrl;
        warnPlainHttp(url);
        let token: string;
        let tokenId: string | undefined;
        if (o.token || o.tokenStdin) {
          token = o.token ?? (await readStdinBytes()).toString('utf8').trim();
          if (!token) throw new CommandError('no token on standard input', EXIT_USAGE);
        } else {
          const { email, password } = await credentials(o.email);
          ({ token, tokenId } = await tokenFromPassword(url, email, password));
        }
        const me = await new ApiClient(url, token).request<Me>('GET', '/me');
        const file = writeConfig({
          url,
          token,
          ...(tokenId ? { tokenId } : {}),
          ...(me.email ? { email: me.email } : {}),
          ...(releaseUrl ? { releaseUrl } : {}),
        });
        if (o.json)
          printJson({ url, email: me.email || null, kind: me.kind, tokenName: tokenId ? tokenName() : null, configFile: file, releaseUrl: releaseUrl ?? null });
        else print(`Logged in to ${url}${me.email ? ` as ${me.email}` : ''}; token saved to ${file}`);
        if (process.env.KEYLOFT_TOKEN || process.env.KEYLOFT_URL)
          note('keyloft: note: KEYLOFT_URL / KEYLOFT_TOKEN are set in this shell and take precedence over the saved login');
      }),
    );

  program
    .command('logout')
    .description('forget the saved login of the current server, or of --url (and revoke its token if `keyloft login` created it)')
    .option('--url <url>', 'the server whose login to forget (default: the current one)')
    .option('--keep-token', 'do not revoke the token on the server, only forget it locally')
    .addHelpText('after', '\nExamples:\n  keyloft logout\n  keyloft logout --url https://staging.keyloft.example.com\n')
    .action(
      action(async (o: { url?: string; keepToken?: boolean }) => {
        const cfg = o.url ? (loginFor(o.url) ?? {}) : readConfig();
        if (!cfg.token && !cfg.url) {
          print(o.url ? `Not logged in to ${normalizeUrl(o.url)}` : 'Not logged in');
          return;
        }
        let revoked = false;
        if (!o.keepToken && cfg.url && cfg.token && cfg.tokenId) {
          try {
            await new ApiClient(cfg.url, cfg.token).request('DELETE', `/tokens/${encodeURIComponent(cfg.tokenId)}`);
            revoked = true;
          } catch (err) {
            note(`keyloft: warning: could not revoke the token on the server (${(err as Error).message}); forgetting it locally anyway`);
          }
        }
        clearConfig(process.env, cfg.url);
        const left = Object.keys(readLogins().hosts).length;
        print(
          `Logged out${cfg.url ? ` of ${cfg.url}` : ''}${revoked ? '; the token was revoked' : ''} (${left > 0 ? `${left} other login(s) kept in` : 'removed'} ${configPath()})`,
        );
        if (process.env.KEYLOFT_TOKEN) note('keyloft: note: KEYLOFT_TOKEN is still set in this shell');
      }),
    );

  program
    .command('whoami')
    .description('show the server and the account the CLI acts as')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  keyloft whoami --json\n')
    .action(
      action(async (o: { json?: boolean }) => {
        const t = resolveTarget();
        const me = await new ApiClient(t.url, t.token).request<Me>('GET', '/me');
        const others = Object.keys(readLogins().hosts).filter((u) => u !== t.url);
        if (o.json)
          printJson({
            url: t.url,
            email: me.email || null,
            kind: me.kind,
            isAdmin: me.isAdmin,
            tokenFrom: t.source.token,
            releaseUrl: t.releaseUrl ?? null,
            otherLogins: others,
          });
        else
          print(
            `${me.email || me.kind} on ${t.url}${me.isAdmin ? ' (instance admin)' : ''}${others.length > 0 ? `\nother saved logins: ${others.join(', ')}` : ''}`,
          );
      }),
    );
}
