// KEYLOFT_RELEASE_CACHE_BYTES bounds the cache of opened values (32 MiB by default; 0 turns it off).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { testServices } from '../helpers/services.js';

test('KEYLOFT_RELEASE_CACHE_BYTES reaches the release cache; the default is 32 MiB', async (t) => {
  const dflt = await testServices(t);
  assert.equal(dflt.services.release!.cacheStats().maxBytes, 32 * 1024 * 1024);
  const set = await testServices(t, { env: { KEYLOFT_RELEASE_CACHE_BYTES: '8388608' } });
  assert.equal(set.services.release!.cacheStats().maxBytes, 8 * 1024 * 1024);
  const off = await testServices(t, { env: { KEYLOFT_RELEASE_CACHE_BYTES: '0' } });
  assert.equal(off.services.release!.cacheStats().maxBytes, 0);
});

test('KEYLOFT_RELEASE_CACHE_BYTES refuses what is not a byte count', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  assert.throws(() => loadConfig({ KEYLOFT_MASTER_KEY: key, KEYLOFT_RELEASE_CACHE_BYTES: '-1' }), ConfigError);
  assert.throws(() => loadConfig({ KEYLOFT_MASTER_KEY: key, KEYLOFT_RELEASE_CACHE_BYTES: '32MB' }), ConfigError);
});
