import { type Kysely, sql } from 'kysely';
import type { DB } from '../store/schema.js';

/** Readiness of this process's services: storage reachable, and the keys the role needs loaded. */
export type Health = { ready: true } | { ready: false; reason: 'database unreachable' | 'keys not loaded' };

export function createHealthService(deps: { db: Kysely<DB>; keysLoaded: () => boolean }) {
  return {
    async check(): Promise<Health> {
      try {
        await sql`select 1`.execute(deps.db);
      } catch {
        return { ready: false, reason: 'database unreachable' };
      }
      if (!deps.keysLoaded()) return { ready: false, reason: 'keys not loaded' };
      return { ready: true };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
