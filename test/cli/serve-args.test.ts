// The fast path of `keyloft serve` takes only the plain forms, with commander's result; the rest goes to commander.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plainServeArgs } from '../../src/cli/serve-args.js';

test('plain serve command lines are read as commander reads them', () => {
  assert.deepEqual(plainServeArgs(['serve']), {});
  assert.deepEqual(plainServeArgs(['serve', '--role', 'api', '--port', '9000']), { role: 'api', port: '9000' });
  assert.deepEqual(plainServeArgs(['serve', '--host=0.0.0.0', '--role=release']), { host: '0.0.0.0', role: 'release' });
  // Repeated: the last one wins, as with commander.
  assert.deepEqual(plainServeArgs(['serve', '--port', '1', '--port', '2']), { port: '2' });
});

test('anything else goes through commander (help, errors, other commands)', () => {
  for (const argv of [
    [],
    ['--version'],
    ['secrets', 'list'],
    ['serve', '--help'],
    ['serve', '-h'],
    ['serve', '--port'],
    ['serve', '--port', '--role', 'api'],
    ['serve', '--port='],
    ['serve', '--bogus', 'x'],
    ['serve', 'extra'],
    ['serve', '--Port', '1'],
    ['-V', 'serve'],
  ]) {
    assert.equal(plainServeArgs(argv), undefined, JSON.stringify(argv));
  }
});
