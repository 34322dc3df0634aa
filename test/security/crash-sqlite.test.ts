import { it } from 'node:test';
import { crashSuite, KILLS } from './crash-suite.js';

it(
  `crash safety (sqlite): ${KILLS} SIGKILLs during upserts, imports and deletions lose no acknowledged write and leave nothing half-written`,
  { timeout: 600_000 },
  () => crashSuite('sqlite'),
);
