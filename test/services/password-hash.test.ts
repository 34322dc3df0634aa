// The fixed hash verified for unknown accounts costs what a real one does: same Argon2id parameters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ARGON2_OPTIONS, argon2, DUMMY_HASH } from '../../src/services/password-hash.js';

test('the dummy hash has the parameters of ARGON2_OPTIONS and verifies like any hash', async () => {
  const m = /^\$argon2id\$v=19\$(.*?)\$/.exec(DUMMY_HASH);
  assert.ok(m, 'an Argon2id hash');
  const params = Object.fromEntries(m[1]!.split(',').map((kv) => kv.split('=') as [string, string]));
  assert.equal(ARGON2_OPTIONS.type, argon2.argon2id);
  assert.deepEqual(
    { m: Number(params.m), t: Number(params.t), p: Number(params.p) },
    { m: ARGON2_OPTIONS.memoryCost, t: ARGON2_OPTIONS.timeCost, p: ARGON2_OPTIONS.parallelism },
  );
  assert.equal(await argon2.verify(DUMMY_HASH, 'keyloft-dummy-password'), true);
  assert.equal(await argon2.verify(DUMMY_HASH, 'anything else'), false);
  // A new hash has the same shape (the lazily loaded module is argon2 itself).
  const h = await argon2.hash('a password', ARGON2_OPTIONS);
  assert.equal(h.split('$').slice(0, 4).join('$'), DUMMY_HASH.split('$').slice(0, 4).join('$'));
});
