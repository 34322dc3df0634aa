import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import type PgModule from 'pg';
import { loadConfig } from '../../src/config.js';
import { KeyloftError } from '../../src/domain/errors.js';
import { type Database, openDatabase } from '../../src/store/db.js';
import { preparedName, preparedOnPostgres } from '../../src/store/pg-prepared.js';
import type { DB } from '../../src/store/schema.js';
import { call, inProcess, setupOwner } from '../helpers/inproc.js';
import { createPgDatabase, dialects } from '../helpers/server.js';

/**
 * On PostgreSQL the hot precompiled queries and a set's one-statement write run as named prepared
 * statements (store/pg-prepared.ts): parsed and planned once per connection instead of on every
 * request. A statement whose result columns come from a `*` is never named (a newer release's
 * migration adding a column would make its cached plan fail), and
 * KEYLOFT_DATABASE_PREPARED_STATEMENTS=false names nothing (PgBouncer in transaction pooling
 * without prepared-statement support).
 */
const pg = createRequire(import.meta.url)('pg') as typeof PgModule;

/** Every query a pg client sends while `on`: its SQL text and its statement name (undefined: unnamed). */
const sent: Array<{ text: string; name: string | undefined }> = [];
const original = pg.Client.prototype.query;
// For the whole file (its own process): every connection the tests open goes through it.
pg.Client.prototype.query = function (this: PgModule.Client, config: unknown, ...rest: unknown[]) {
  const c = config as string | { text: string; name?: string };
  sent.push(typeof c === 'string' ? { text: c, name: undefined } : { text: c.text, name: c.name });
  return (original as (...a: unknown[]) => unknown).call(this, config, ...rest);
} as typeof original;

const isContext = (t: string) => t.startsWith('select "projects"."id", "projects"."slug", "projects"."digest_key"');
const isWrite = (t: string) => t.startsWith('with ok as');
const isTokenLookup = (t: string) => t.startsWith('select "api_tokens"."id", "api_tokens"."user_id"');

describe('preparedOnPostgres', () => {
  it('names a fixed text once, and never a text with a * (its result columns would change with the table)', () => {
    const text = 'select "x"."a" from "x" where "x"."b" = $1';
    preparedOnPostgres(text);
    const name = preparedName(text);
    assert.match(name ?? '', /^kl_[0-9a-f]{20}$/);
    preparedOnPostgres(text);
    assert.equal(preparedName(text), name);
    const star = 'select "x".* from "x" where "x"."b" = $1';
    preparedOnPostgres(star);
    assert.equal(preparedName(star), undefined);
  });
});

describe('KEYLOFT_DATABASE_PREPARED_STATEMENTS', () => {
  it('is true unless set to false, and refuses anything else', () => {
    assert.equal(loadConfig({ KEYLOFT_DATA_DIR: '/tmp/x' }).databasePreparedStatements, true);
    assert.equal(loadConfig({ KEYLOFT_DATA_DIR: '/tmp/x', KEYLOFT_DATABASE_PREPARED_STATEMENTS: 'false' }).databasePreparedStatements, false);
    assert.throws(
      () => loadConfig({ KEYLOFT_DATA_DIR: '/tmp/x', KEYLOFT_DATABASE_PREPARED_STATEMENTS: 'no' }),
      /KEYLOFT_DATABASE_PREPARED_STATEMENTS must be true or false/,
    );
  });
});

for (const d of await dialects()) {
  if (d.name !== 'postgres') continue;
  describe('named prepared statements (postgres)', { skip: d.skip }, () => {
    /** A person's create and overwrite of one secret; returns the queries they sent. */
    async function twoSets(env: Record<string, string> = {}) {
      const ip = await inProcess('postgres', env);
      try {
        const auth = await setupOwner(ip);
        assert.equal((await call(ip.app, 'POST', '/api/v1/projects', { slug: 'p', name: 'P' }, auth)).status, 201);
        sent.length = 0;
        assert.equal((await call(ip.app, 'PUT', '/api/v1/projects/p/secrets/production/A', { value: 'a-1' }, auth)).status, 201);
        assert.equal((await call(ip.app, 'PUT', '/api/v1/projects/p/secrets/production/A', { value: 'a-2' }, auth)).status, 200);
        return sent.splice(0);
      } finally {
        await ip.close();
      }
    }

    it("a person's set sends its token lookup, its context query and its write statement by name", async () => {
      const q = await twoSets();
      const context = q.filter((x) => isContext(x.text));
      const writes = q.filter((x) => isWrite(x.text));
      const tokens = q.filter((x) => isTokenLookup(x.text));
      assert.equal(context.length, 2);
      assert.equal(writes.length, 2);
      assert.equal(tokens.length, 2);
      for (const x of [...tokens, ...context, ...writes]) assert.match(x.name ?? '', /^kl_[0-9a-f]{20}$/, x.text.slice(0, 60));
      // One name per SQL text: the create and the overwrite are two statements, the two context queries one.
      assert.equal(context[0]!.name, context[1]!.name);
      assert.notEqual(writes[0]!.name, writes[1]!.name);
      // Three round trips, each by name: the token lookup, the context query, the write statement.
      assert.equal(q.filter((x) => x.name !== undefined).length, 6);
    });

    it('KEYLOFT_DATABASE_PREPARED_STATEMENTS=false sends every query unnamed', async () => {
      const q = await twoSets({ KEYLOFT_DATABASE_PREPARED_STATEMENTS: 'false' });
      assert.ok(q.some((x) => isContext(x.text)) && q.some((x) => isWrite(x.text)));
      assert.deepEqual(
        q.filter((x) => x.name !== undefined).map((x) => x.text.slice(0, 60)),
        [],
      );
    });

    it('columns added to the tables while the server runs (a newer release migrating) break no statement', async () => {
      const ip = await inProcess('postgres');
      try {
        const auth = await setupOwner(ip);
        assert.equal((await call(ip.app, 'POST', '/api/v1/projects', { slug: 'p', name: 'P' }, auth)).status, 201);
        // Several sets: every connection the requests use has its statements prepared.
        for (let i = 0; i < 8; i++)
          assert.equal((await call(ip.app, 'PUT', `/api/v1/projects/p/secrets/production/A`, { value: `a-${i}` }, auth)).status, i === 0 ? 201 : 200);
        for (const t of [
          'api_tokens',
          'users',
          'projects',
          'memberships',
          'project_keys',
          'secrets',
          'secret_versions',
          'audit_events',
          'deployments',
          'deployment_pins',
        ])
          await sql`alter table ${sql.table(t)} add column added_later integer`.execute(ip.db);
        for (let i = 0; i < 8; i++) {
          const r = await call(ip.app, 'PUT', `/api/v1/projects/p/secrets/production/A`, { value: `b-${i}` }, auth);
          assert.equal(r.status, 200, r.text);
        }
        const c = await call(ip.app, 'PUT', `/api/v1/projects/p/secrets/production/B`, { value: 'b' }, auth);
        assert.equal(c.status, 201, c.text);
        const v = await call(ip.app, 'GET', `/api/v1/projects/p/secrets/production/A/versions`, undefined, auth);
        assert.equal(v.status, 200, v.text);
      } finally {
        await ip.close();
      }
    });

    describe('a pooler that loses prepared statements (transaction pooling without their support)', () => {
      const TEXT = 'select $1::int + 1 as "n"';
      preparedOnPostgres(TEXT);
      const NAME = preparedName(TEXT)!;
      const run = (ex: Kysely<DB>) => ex.executeQuery<{ n: number }>(CompiledQuery.raw(TEXT, [41]));

      /** One pooled connection (what a transaction pooler gives differs from one statement to the next; here the server's own statements are removed or added behind pg's back). */
      async function onePool(fn: (database: Database, turnedOff: string[]) => Promise<void>) {
        const pgdb = await createPgDatabase();
        const database = openDatabase(pgdb.url, { poolSize: 1 });
        const turnedOff: string[] = [];
        database.naming!.listen((err) => turnedOff.push(String((err as { code?: unknown }).code)));
        try {
          await fn(database, turnedOff);
        } finally {
          await database.close();
          await pgdb.drop();
        }
      }

      it('a statement missing on the server connection (26000): run again unnamed at once, naming off for the pool, reported once', async () => {
        await onePool(async (database, turnedOff) => {
          sent.length = 0;
          assert.equal((await run(database.db)).rows[0]!.n, 42);
          assert.equal(sent.at(-1)!.name, NAME);
          await sql`deallocate all`.execute(database.db); // pg still believes the statement is parsed
          assert.equal((await run(database.db)).rows[0]!.n, 42);
          assert.deepEqual(turnedOff, ['26000']);
          assert.equal(database.naming!.on, false);
          sent.length = 0;
          assert.equal((await run(database.db)).rows[0]!.n, 42);
          assert.deepEqual(
            sent.map((x) => x.name),
            [undefined],
          );
          assert.deepEqual(turnedOff, ['26000']);
        });
      });

      it('a statement already on the server connection (42P05): the same', async () => {
        await onePool(async (database, turnedOff) => {
          await sql.raw(`prepare ${NAME} as select 1`).execute(database.db); // as another client of the pooler left it
          assert.equal((await run(database.db)).rows[0]!.n, 42);
          assert.deepEqual(turnedOff, ['42P05']);
        });
      });

      it('inside a transaction the transaction fails with 503 storage_unavailable (it is aborted); the next one runs unnamed', async () => {
        await onePool(async (database, turnedOff) => {
          assert.equal((await run(database.db)).rows[0]!.n, 42);
          await sql`deallocate all`.execute(database.db);
          await assert.rejects(
            database.db.transaction().execute(async (trx) => run(trx)),
            (err: unknown) => err instanceof KeyloftError && err.code === 'storage_unavailable',
          );
          assert.deepEqual(turnedOff, ['26000']);
          assert.equal((await database.db.transaction().execute(async (trx) => run(trx))).rows[0]!.n, 42);
        });
      });

      it('a rollback to a savepoint leaves the transaction open: a statement lost after it is still a 503, not a retry in the aborted transaction', async () => {
        await onePool(async (database) => {
          assert.equal((await run(database.db)).rows[0]!.n, 42);
          await sql`deallocate all`.execute(database.db);
          await assert.rejects(
            database.db.transaction().execute(async (trx) => {
              await sql.raw('savepoint s1').execute(trx);
              await sql.raw('rollback to s1').execute(trx);
              return run(trx);
            }),
            (err: unknown) => err instanceof KeyloftError && err.code === 'storage_unavailable',
          );
        });
      });
    });
  });
}
