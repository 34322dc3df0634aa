import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../../src/domain/time.js';

describe('isoTime', () => {
  it('writes what Date#toISOString writes', () => {
    const edges = [
      0,
      1,
      999,
      1000,
      59_999,
      60_000,
      3_599_999,
      86_399_999,
      86_400_000,
      Date.UTC(2026, 10, 29, 10, 0, 0),
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      253_402_300_799_999,
      253_402_300_800_000,
      -1,
      -86_400_001,
      1.5,
      Number.NaN,
    ];
    const random = Array.from({ length: 20_000 }, () => Math.floor(Math.random() * 4_102_444_800_000));
    for (const ms of [...edges, ...random]) {
      let want: string;
      try {
        want = new Date(ms).toISOString();
      } catch (e) {
        assert.throws(() => isoTime(ms), { name: (e as Error).name });
        continue;
      }
      assert.equal(isoTime(ms), want, String(ms));
    }
  });
});
