import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyloftError } from '../../src/domain/errors.js';
import { ERROR_STATUS } from '../../src/http/plugins/errors.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { storageError, storageFault, StorageHealth } from '../../src/store/storage-errors.js';

describe('storage failures are told apart from query errors', () => {
  it('maps full disks to storage_full (507) on both engines', () => {
    assert.equal(storageFault({ code: 'SQLITE_FULL', message: 'database or disk is full' }), 'full');
    assert.equal(storageFault({ code: '53100', message: 'could not extend file: No space left on device' }), 'full');
    const e = storageError('full');
    assert.equal(e.code, 'storage_full');
    assert.equal(ERROR_STATUS[e.code], 507);
  });

  it('maps lost, refused and shut-down connections to storage_unavailable (503)', () => {
    for (const code of [
      '57P01',
      '57P02',
      '57P03',
      '08006',
      '08001',
      '53300',
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'SQLITE_IOERR_WRITE',
      'SQLITE_BUSY',
      'SQLITE_READONLY',
    ]) {
      assert.equal(storageFault({ code, message: 'x' }), 'unavailable', code);
    }
    for (const message of [
      'Connection terminated unexpectedly',
      'Client has encountered a connection error and is not queryable',
      'timeout exceeded when trying to connect',
    ]) {
      assert.equal(storageFault(new Error(message)), 'unavailable', message);
    }
    assert.equal(ERROR_STATUS[storageError('unavailable').code], 503);
  });

  it('leaves query errors alone (constraints, syntax, serialization, domain errors)', () => {
    for (const code of ['23505', '23503', '42601', '40001', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR']) {
      assert.equal(storageFault({ code, message: 'x' }), undefined, code);
    }
    assert.equal(storageFault(new Error('something else')), undefined);
    assert.equal(storageFault(new KeyloftError('conflict', 'x')), undefined);
  });

  it('a unique violation still reaches the caller as itself through the guarded dialect', async () => {
    const database = openDatabase(':memory:');
    try {
      await migrateToLatest(database.db);
      await database.db.insertInto('settings').values({ key: 'k', value: 'v' }).execute();
      await assert.rejects(
        database.db.insertInto('settings').values({ key: 'k', value: 'w' }).execute(),
        (err: { code?: string }) => err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === 'SQLITE_CONSTRAINT_UNIQUE',
      );
    } finally {
      await database.close();
    }
  });

  it('reports an outage once, and its end once', () => {
    const health = new StorageHealth();
    const events: string[] = [];
    health.listen((e) => events.push(e.kind));
    for (let i = 0; i < 50; i++) health.failed('unavailable', { code: '57P01', message: 'terminating connection due to administrator command' });
    for (let i = 0; i < 50; i++) health.ok();
    assert.deepEqual(events, ['down', 'up']);
  });
});
