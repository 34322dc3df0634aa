import type { Command } from 'commander';
import type { ImportChange, ImportResult, SecretMeta } from '../../domain/contract.js';
import type { Scope } from '../../domain/rules.js';
import { action } from '../http-client.js';
import { client } from '../projects.js';
import { print, printJson } from '../output.js';
import { scopeOption, projectOption, secretsPath, prOption, checkPr, readAssignments, valueField, target, refusedFor } from './shared.js';

/** `keyloft secrets set`. */
export function registerSet(secrets: Command): void {
  secrets
    .command('set')
    .description('add or overwrite secrets (a new version each); NAME=- reads the value from stdin, NAME=@FILE from a file')
    .addOption(projectOption())
    .addOption(scopeOption(true))
    .argument('<assignments...>', 'NAME=VALUE, NAME=- (standard input) or NAME=@FILE')
    .addOption(prOption())
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Safe forms: NAME=- (standard input, byte for byte; on a terminal it is asked for, hidden)
and NAME=@FILE (the file's bytes exactly, trailing newline included, e.g. a PEM key).
NAME=VALUE puts the value in your shell history and the process list; prefer the others.
Only one NAME=- per command. A value starting with @ must come from stdin or a file.
Build secrets may be binary; app secrets (production, preview) must be UTF-8 text.
Several secrets are written all or nothing. Changes apply at the next deployment.

Examples:
  printf %s "$DATABASE_URL" | keyloft secrets set --project shop --scope production DATABASE_URL=-
  keyloft secrets set --project shop --scope production TLS_KEY=@key.pem TLS_CERT=@cert.pem
  keyloft secrets set --project shop --scope build NPM_TOKEN=- < ~/.npm-token
  keyloft secrets set --scope preview LOG_LEVEL=debug        # project from keyloft.json
  keyloft secrets set --scope preview --pr 42 API_URL=https://pr42.example.com   # override for PR 42
`,
    )
    .action(
      action(async (args: string[], o: { project?: string; scope: Scope; pr?: number; json?: boolean }) => {
        const project = target(o);
        checkPr(o);
        const assignments = await readAssignments(args);
        const fields = assignments.map((a) => ({ name: a.name, field: valueField(a, o.scope) }));
        const api = client();
        const results: Array<{ name: string; change: ImportChange['change']; digest: string | null; version: number | null }> = [];
        if (fields.length === 1 || o.pr !== undefined || fields.some((f) => f.name === '__proto__')) {
          for (const f of fields) {
            const r = await api
              .request<{ secret: SecretMeta; created: boolean; unchanged?: boolean }>(
                'PUT',
                `${secretsPath(project)}/${o.scope}/${encodeURIComponent(f.name)}`,
                f.field,
                { query: { pr: o.pr } },
              )
              .catch((err: unknown) => refusedFor(f.name, err));
            results.push({
              name: f.name,
              change: r.unchanged ? 'unchanged' : r.created ? 'added' : 'changed',
              digest: r.secret.digest,
              version: r.secret.version,
            });
          }
        } else {
          // One request for all of them: the server writes all or nothing.
          const map: Record<string, unknown> = {};
          for (const f of fields) map[f.name] = 'value' in f.field ? f.field.value : { valueBase64: f.field.valueBase64 };
          const r = await api.request<ImportResult>('POST', `${secretsPath(project)}/${o.scope}:import`, { secrets: map });
          for (const c of r.changes) results.push({ name: c.name, change: c.change, digest: c.digestAfter, version: null });
        }
        if (o.json) return printJson({ project, scope: o.scope, ...(o.pr ? { pr: o.pr } : {}), secrets: results });
        const where = `${project}/${o.scope}${o.pr ? ` (PR ${o.pr})` : ''}`;
        for (const r of results) {
          const what = r.change === 'unchanged' ? 'unchanged (same value)' : r.change === 'added' ? 'added' : 'updated';
          print(`${r.name} ${what} in ${where}${r.digest ? ` (digest ${r.digest}${r.version ? `, version ${r.version}` : ''})` : ''}`);
        }
        if (results.some((r) => r.change !== 'unchanged')) print('Changes apply at the next deployment.');
        const binary = fields.filter((f) => 'valueBase64' in f.field).map((f) => f.name);
        if (binary.length > 0) {
          print(
            `${binary.join(', ')}: binary (not UTF-8 text). \`keyloft deploy fly\` cannot pass ${binary.length === 1 ? 'it' : 'them'} as --build-secret (flyctl takes text) and refuses to start; build with \`keyloft run --build\`, which writes ${binary.length === 1 ? 'it' : 'each'} as a file in $KEYLOFT_SECRETS_DIR.`,
          );
        }
      }),
    );
}
