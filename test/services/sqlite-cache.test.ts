// The embedded SQLite's page cache is bounded (issue 18, memory): better-sqlite3 builds SQLite with
// a 16 MiB cache per connection, which the W4 load filled; openDatabase sets a smaller one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, SQLITE_CACHE_KIB } from '../../src/store/db.js';

test('openDatabase bounds the SQLite page cache to SQLITE_CACHE_KIB', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyloft-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = openDatabase(`sqlite://${join(dir, 'keyloft.db')}`);
  t.after(() => d.close());
  assert.ok(SQLITE_CACHE_KIB > 0 && SQLITE_CACHE_KIB < 16000, 'below the 16 MiB default of better-sqlite3');
  const r = await sql<{ cache_size: number }>`PRAGMA cache_size`.execute(d.db);
  assert.equal(r.rows[0]?.cache_size, -SQLITE_CACHE_KIB);
});
