import { it } from 'node:test';
import { dialects } from '../helpers/server.js';
import { crashSuite, KILLS } from './crash-suite.js';

const pg = (await dialects()).find((d) => d.name === 'postgres');
it(
  `crash safety (postgres): ${KILLS} SIGKILLs during upserts, imports and deletions lose no acknowledged write and leave nothing half-written`,
  { skip: pg ? pg.skip : 'KEYLOFT_TEST_DIALECTS excludes postgres', timeout: 600_000 },
  () => crashSuite('postgres'),
);
