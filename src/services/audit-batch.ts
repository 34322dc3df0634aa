import type { Kysely } from 'kysely';
import { type AuditInput, insertAuditEvents } from '../store/audit.repository.js';
import type { DB } from '../store/schema.js';

/**
 * Group commit for audit events written outside another transaction (the release path): events
 * that arrive in the same turn of the event loop are inserted in one statement, so concurrent
 * releases share one commit (one fsync) instead of one each. Every caller still waits until its
 * event is committed — nothing is released before its audit event is durable.
 */
export function createAuditBatcher(db: Kysely<DB>, maxBatch = 200) {
  let queue: Array<{ event: AuditInput; resolve: () => void; reject: (e: unknown) => void }> = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await insertAuditEvents(
          db,
          batch.map((b) => b.event),
        );
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    scheduled = false;
  }

  return {
    write(event: AuditInput): Promise<void> {
      return new Promise((resolve, reject) => {
        queue.push({ event, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // after the I/O callbacks of this loop turn: requests that arrived together commit together
          setImmediate(() => void flush());
        }
      });
    },
  };
}
