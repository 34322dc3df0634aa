import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Piece, ScopeListCache } from '../../src/services/scope-list-cache.js';
import type { ScopeStampRow } from '../../src/store/secrets.repository.js';

const row = (id: string, version = 1, more: Partial<ScopeStampRow> = {}): ScopeStampRow => ({
  id,
  current_version: version,
  deleted: 0,
  updated_at: 1000 + version,
  last_deployment: 'dep_1',
  ...more,
});
const piece = (r: ScopeStampRow): Piece => (r.deleted ? null : JSON.stringify({ name: r.id, v: r.current_version, é: 'ü' }));
const whole = (rows: ScopeStampRow[]) => JSON.stringify({ secrets: rows.filter((r) => !r.deleted).map((r) => JSON.parse(piece(r)!)) });

describe('ScopeListCache', () => {
  it('answers again only while every secret of the scope and the last deployment are the same', () => {
    const c = new ScopeListCache(1 << 20);
    const rows = [row('a'), row('b', 3), row('c', 2, { deleted: 1 })];
    assert.equal(c.build('p/production', rows, rows.map(piece)).toString(), whole(rows));
    assert.equal(
      c
        .lookup(
          'p/production',
          rows.map((r) => ({ ...r })),
        )
        ?.toString(),
      whole(rows),
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
    c.build('p/production', [], []);
    assert.equal(c.lookup('p/production', [])?.toString(), '{"secrets":[]}');
    assert.equal(c.lookup('p/production', rows), undefined);
  });

  it('reads again only the secrets whose stamps changed, and joins them in the order of the stamps', () => {
    const c = new ScopeListCache(1 << 20);
    const names = 'abcdefghijklmnopqrst'.split('');
    const rows = names.map((n, i) => row(n, 1, { deleted: i === 3 ? 1 : 0 }));
    c.build('k', rows, rows.map(piece));
    // b overwritten, d (not listed) restored, g deleted, h gone, "ab" new between a and b, "z" new at the end.
    const now = [row('a'), row('ab'), row('b', 2), row('c'), row('d', 2), row('e'), row('f'), row('g', 2, { deleted: 1 }), ...rows.slice(8), row('z')];
    const plan = c.plan('k', now);
    assert.deepEqual(plan, { kind: 'patch', ids: ['ab', 'b', 'd', 'g', 'z'] });
    const fresh = (ids: string[], tweak: Partial<ScopeStampRow> = {}) =>
      new Map(
        now
          .filter((r) => ids.includes(r.id))
          .map((r) => {
            const x = { ...r, ...tweak };
            return [r.id, { row: x, piece: piece(x) }] as const;
          }),
      );
    assert.equal(c.patch('k', now, fresh(['ab', 'b', 'd', 'g', 'z'], { updated_at: 1 })), undefined, 'a write came between the two reads');
    assert.equal(c.patch('k', now, fresh(['ab', 'b', 'd', 'g', 'z'], { last_deployment: 'dep_2' })), undefined, 'a deployment came between');
    assert.equal(c.plan('k', now).kind, 'patch', 'a failed patch leaves the kept answer');
    assert.equal(c.patch('k', now, fresh(['ab', 'b', 'd', 'g'])), undefined, 'a piece missing');
    assert.equal(c.patch('k', now, fresh(['ab', 'b', 'd', 'g', 'z']))?.toString(), whole(now));
    assert.equal(c.lookup('k', now)?.toString(), whole(now), 'the patched answer is kept');
    // Patched again from a patched answer.
    const again = [row('0'), ...now.slice(1)];
    assert.deepEqual(c.plan('k', again), { kind: 'patch', ids: ['0'] });
    assert.equal(c.patch('k', again, new Map([['0', { row: again[0]!, piece: piece(again[0]!) }]]))?.toString(), whole(again));
    // Another last deployment, or too many changed: built whole.
    assert.deepEqual(
      c.plan(
        'k',
        again.map((r) => ({ ...r, last_deployment: 'dep_2' })),
      ),
      { kind: 'full' },
    );
    assert.deepEqual(
      c.plan(
        'k',
        again.map((r, i) => (i < 6 ? { ...r, current_version: 9 } : r)),
      ),
      { kind: 'full' },
      'more than a quarter (and more than 4)',
    );
    assert.deepEqual(c.plan('other', again), { kind: 'full' }, 'nothing kept');
  });

  it('holds at most maxBytes (answers, and 80 bytes per secret of their stamps), the least recently used out first', () => {
    const c = new ScopeListCache(450);
    const rows = [row('a')];
    const put = (key: string, p: string) => c.build(key, rows, [p]);
    put('1', 'x'.repeat(100));
    put('2', 'y'.repeat(100));
    assert.equal(c.bytes, 388);
    assert.ok(c.lookup('1', rows), 'used: now the most recent');
    put('3', 'z'.repeat(100));
    assert.equal(c.lookup('2', rows), undefined, 'the least recently used went out');
    assert.ok(c.lookup('1', rows));
    assert.ok(c.lookup('3', rows));
    assert.equal(c.bytes, 388);
    put('1', 'w'.repeat(150));
    assert.equal(c.bytes, 438, 'a key stored again replaces its answer');
    put('4', 'v'.repeat(357));
    assert.equal(c.lookup('4', rows), undefined, 'an answer larger than the cap is not kept');
    assert.equal(c.bytes, 438);
  });
});
