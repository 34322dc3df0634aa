import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERROR_CODES } from '../../src/domain/errors.js';
import { ERROR_STATUS } from '../../src/http/plugins/errors.js';
import { REPO_ROOT } from '../helpers/server.js';

it('every error code is documented in docs/CONTRACT.md with its HTTP status', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/CONTRACT.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
  for (const code of ERROR_CODES) {
    const row = rows.find((r) => r.split('|')[1]!.includes(`\`${code}\``));
    assert.ok(row, `${code} has a row in the error codes table`);
    assert.equal(row.split('|')[2]!.trim(), String(ERROR_STATUS[code]), `${code}: documented status`);
  }
});
