import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { valueDigest } from '../../src/crypto/digest.js';
import { Api, bootstrap } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { dbQuery, deployAndRelease, stopOrKill, writeFigures } from './support.js';

/**
 * Many clients upsert the same key and different keys of one project at once, through two server
 * processes on one PostgreSQL database: no lost update, versions strictly increasing without gaps
 * or duplicates, exactly one audit event per acknowledged write.
 */
const CLIENTS = Number(process.env.KEYLOFT_CONCURRENCY_CLIENTS ?? 16);
const WRITES_PER_CLIENT = Number(process.env.KEYLOFT_CONCURRENCY_WRITES ?? 12);
const SLUG = 'conc';

const pg = (await dialects()).find((d) => d.name === 'postgres');

describe('concurrent writers through two server processes (postgres)', { skip: pg ? pg.skip : 'KEYLOFT_TEST_DIALECTS excludes postgres' }, () => {
  let store: TestStore;
  const servers: TestServer[] = [];
  let token: string;

  before(async () => {
    store = await createStore('postgres');
    servers.push(await startServer(store));
    const api = await bootstrap(servers[0]!);
    token = api.token!;
    servers.push(await startServer(store));
    assert.equal((await api.post('/api/v1/projects', { slug: SLUG, name: 'conc' })).status, 201);
  });
  after(async () => {
    for (const s of servers) await stopOrKill(s);
    await store?.cleanup();
  });

  it('no lost update: same key and different keys from many clients on two servers; versions 1..n without gaps or duplicates; one audit event per acknowledged write', {
    timeout: 240_000,
  }, async () => {
    type Ack = { name: string; value: string; version: number };
    const acks: Ack[] = [];
    let conflicts = 0;
    let other = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const api = new Api(servers[c % servers.length]!.url, token);
        for (let i = 0; i < WRITES_PER_CLIENT; i++) {
          // half the clients fight over one key, the others write their own
          const name = c % 2 === 0 ? 'HOT' : `OWN_${c}`;
          const value = `c${c}-w${i}-${name}`;
          const r = await api.put(`/api/v1/projects/${SLUG}/secrets/production/${name}`, { value });
          if (r.status === 200 || r.status === 201) acks.push({ name, value, version: r.body.secret.version });
          else if (r.status === 409) conflicts++;
          else other++;
        }
      }),
    );
    assert.equal(other, 0, 'no request failed other than by an explicit 409 conflict');
    const project = (await dbQuery<{ id: string; digest_key: Buffer }>(store, 'select id, digest_key from projects where slug = $1', [SLUG]))[0]!;
    const dk = new Uint8Array(project.digest_key);
    const rows = await dbQuery<{ name: string; version: number; digest: string; current_version: number }>(
      store,
      'select s.name, v.version, v.digest, s.current_version from secret_versions v join secrets s on s.id = v.secret_id where s.project_id = $1 order by s.name, v.version',
      [project.id],
    );
    let lost = 0;
    for (const name of new Set(acks.map((a) => a.name))) {
      const mine = acks.filter((a) => a.name === name);
      const stored = rows.filter((r) => r.name === name);
      const versions = mine.map((a) => a.version).sort((a, b) => a - b);
      assert.equal(new Set(versions).size, versions.length, `${name}: no two acknowledged writes got the same version`);
      assert.deepEqual(
        stored.map((r) => Number(r.version)),
        Array.from({ length: stored.length }, (_, i) => i + 1),
        `${name}: versions 1..n without a gap`,
      );
      assert.equal(stored.length, mine.length, `${name}: one version per acknowledged write, none from a refused one`);
      for (const a of mine) if (!stored.some((r) => Number(r.version) === a.version && r.digest === valueDigest(dk, Buffer.from(a.value)))) lost++;
    }
    assert.equal(lost, 0, 'no acknowledged write was lost or overwritten');
    const audit = await dbQuery<{ name: string; version: number; n: number }>(
      store,
      `select name, version, count(*) as n from audit_events where project_id = $1 and action in ('secret.created', 'secret.updated') group by name, version`,
      [project.id],
    );
    assert.equal(audit.length, acks.length, 'one audit event per acknowledged write');
    assert.ok(
      audit.every((a) => Number(a.n) === 1),
      'never two events for one version',
    );
    // the last acknowledged value of the hot key is the released one
    const hot = acks.filter((a) => a.name === 'HOT').sort((a, b) => b.version - a.version)[0]!;
    const { release } = await deployAndRelease(new Api(servers[1]!.url, token), SLUG);
    assert.equal(release.body.runtime.HOT, hot.value);
    writeFigures('concurrency-postgres', {
      clients: CLIENTS,
      servers: servers.length,
      attempted: CLIENTS * WRITES_PER_CLIENT,
      acknowledgedWrites: acks.length,
      conflicts409: conflicts,
      lostUpdates: lost,
      hotKeyVersions: acks.filter((a) => a.name === 'HOT').length,
    });
  });
});
