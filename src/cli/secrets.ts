/**
 * `keyloft secrets list|set|unset|import|history|restore|copy`. No command prints a value: the API returns none,
 * and local errors name the secret and the argument, never its value.
 */
import type { Command } from 'commander';
import { registerList } from './secrets/list.js';
import { registerSet } from './secrets/set.js';
import { registerUnset } from './secrets/unset.js';
import { registerImport } from './secrets/import.js';
import { registerHistory } from './secrets/history.js';
import { registerRestore } from './secrets/restore.js';
import { registerCopy } from './secrets/copy.js';

export function registerSecrets(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('app and build secrets of a project: list, set, unset, import, history, restore, copy (values are never shown)')
    .addHelpText(
      'after',
      `
Scopes: production and preview hold app secrets (runtime environment variables);
build holds build secrets (flyctl deploy --build-secret). Changes apply at the next deployment.

Examples:
  keyloft secrets list --project shop
  printf %s "$STRIPE_KEY" | keyloft secrets set --project shop --scope production STRIPE_KEY=-
  keyloft secrets import --project shop --scope preview .env.preview
  keyloft secrets restore DATABASE_URL --version 3 --project shop --scope production
  keyloft secrets copy --project shop --from production --to preview --dry-run
`,
    );

  registerList(secrets);
  registerSet(secrets);
  registerUnset(secrets);
  registerImport(secrets);
  registerHistory(secrets);
  registerRestore(secrets);
  registerCopy(secrets);
}
