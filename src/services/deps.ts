import type { Kysely } from 'kysely';
import type { DB } from '../store/schema.js';

/** What every service gets: the database and a clock (injected so tests can pin time). */
export interface BaseDeps {
  db: Kysely<DB>;
  clock: () => number;
}
