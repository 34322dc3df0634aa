import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ScopeListCache } from '../../src/services/scope-list-cache.js';
import type { ScopeStampRow } from '../../src/store/secrets.repository.js';

const row = (id: string, version = 1, more: Partial<ScopeStampRow> = {}): ScopeStampRow => ({
  id,
  current_version: version,
  deleted: 0,
  updated_at: 1000 + version,
  last_deployment: 'dep_1',
  ...more,
});
const body = (s: string) => Buffer.from(s);

describe('ScopeListCache', () => {
  it('answers again only while every secret of the scope and the last deployment are the same', () => {
    const c = new ScopeListCache(1 << 20);
    const rows = [row('a'), row('b', 3), row('c', 2, { deleted: 1 })];
    c.store('p/production', rows, body('A'));
    assert.equal(
      c
        .lookup(
          'p/production',
          rows.map((r) => ({ ...r })),
        )
        ?.toString(),
      'A',
    );
    assert.equal(c.lookup('p/build', rows), undefined, 'another key');
    const changed: Array<[string, ScopeStampRow[]]> = [
      ['a new version', [row('a'), row('b', 4), rows[2]!]],
      ['another update time', [row('a'), { ...rows[1]!, updated_at: 1 }, rows[2]!]],
      ['a tombstone flag', [row('a'), row('b', 3), { ...rows[2]!, deleted: 0 }]],
      ['another secret', [row('a'), row('x', 3), rows[2]!]],
      ['another order', [row('b', 3), row('a'), rows[2]!]],
      ['one secret more', [...rows, row('d')]],
      ['one secret less', rows.slice(0, 2)],
      ['another last deployment', rows.map((r) => ({ ...r, last_deployment: 'dep_2' }))],
      ['no last deployment', rows.map((r) => ({ ...r, last_deployment: null }))],
      ['no secret', []],
    ];
    for (const [what, other] of changed) assert.equal(c.lookup('p/production', other), undefined, what);
    c.store('p/production', [], body('{"secrets":[]}'));
    assert.equal(c.lookup('p/production', [])?.toString(), '{"secrets":[]}');
    assert.equal(c.lookup('p/production', rows), undefined);
  });

  it('holds at most maxBytes (answers, and 64 bytes per secret of their stamps), the least recently used out first', () => {
    const c = new ScopeListCache(400);
    const rows = [row('a')];
    c.store('1', rows, body('x'.repeat(100)));
    c.store('2', rows, body('y'.repeat(100)));
    assert.equal(c.bytes, 328);
    assert.ok(c.lookup('1', rows), 'used: now the most recent');
    c.store('3', rows, body('z'.repeat(100)));
    assert.equal(c.lookup('2', rows), undefined, 'the least recently used went out');
    assert.ok(c.lookup('1', rows));
    assert.ok(c.lookup('3', rows));
    assert.equal(c.bytes, 328);
    c.store('1', rows, body('w'.repeat(150)));
    assert.equal(c.bytes, 378, 'a key stored again replaces its answer');
    c.store('4', rows, body('v'.repeat(337)));
    assert.equal(c.lookup('4', rows), undefined, 'an answer larger than the cap is not kept');
    assert.equal(c.bytes, 378);
  });
});
