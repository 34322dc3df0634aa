import { closeSync, openSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledQuery } from 'kysely';

/** Size of the reserve file next to the embedded database. */
export const RESERVE_BYTES = 8 * 1024 * 1024;

/**
 * A reserve of disk space next to the embedded SQLite database (`keyloft.reserve`). On the first
 * SQLITE_FULL it is deleted and the database enters "full" mode: changes people make are refused
 * at once (507 storage_full) while the freed space keeps the writes that must go on working —
 * the audit event of a release, sign-in bookkeeping, a deployment's completion. Once the volume
 * has room again, the reserve is re-created and full mode ends.
 */
export class DiskReserve {
  readonly path: string;
  #full = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    private readonly onRecovered: () => void,
    readonly bytes = RESERVE_BYTES,
  ) {
    this.path = join(dir, 'keyloft.reserve');
  }

  get full(): boolean {
    return this.#full;
  }

  /** Creates (or completes) the reserve file; false when the disk has no room for it. */
  create(): boolean {
    try {
      if (statSync(this.path).size >= this.bytes) return true;
    } catch {
      // not there yet
    }
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'w', 0o600);
      const chunk = Buffer.alloc(1024 * 1024);
      for (let written = 0; written < this.bytes; written += chunk.length) writeSync(fd, chunk);
      return true;
    } catch {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      try {
        unlinkSync(this.path);
      } catch {
        // not there
      }
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** The disk is full: free the reserve (once) and refuse people's changes until there is room again. */
  exhausted(): void {
    if (this.#full) return;
    this.#full = true;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone (or never made): full mode still protects what is left
    }
    this.#timer = setInterval(() => this.#check(), 2000);
    this.#timer.unref();
  }

  #check(): void {
    let free: number;
    try {
      const s = statfsSync(this.dir);
      free = s.bavail * s.bsize;
    } catch {
      return;
    }
    if (free < this.bytes + 1024 * 1024 || !this.create()) return;
    clearInterval(this.#timer);
    this.#full = false;
    this.onRecovered();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** Tables the writes that must keep working on a full disk touch (release audit, sign-in, completion, last-used stamps). */
const WRITABLE_WHEN_FULL = new Set(['audit_events', 'sessions', 'login_throttle', 'deployments', 'api_tokens', 'deploy_keys']);

function tableOf(node: unknown): string | undefined {
  const n = node as { kind?: string; table?: { identifier?: { name?: string } }; froms?: unknown[]; node?: unknown } | undefined;
  if (!n) return undefined;
  if (n.kind === 'TableNode') return n.table?.identifier?.name;
  if (n.kind === 'FromNode') return tableOf(n.froms?.[0]);
  if (n.kind === 'AliasNode') return tableOf(n.node);
  return undefined;
}

/** Whether a statement may run while the disk is full: reads, transaction control, and writes to the tables above. */
export function allowedWhenFull(q: CompiledQuery): boolean {
  const node = q.query as { kind: string; into?: unknown; table?: unknown; from?: unknown };
  switch (node.kind) {
    case 'SelectQueryNode':
      return true;
    case 'InsertQueryNode':
      return WRITABLE_WHEN_FULL.has(tableOf(node.into) ?? '');
    case 'UpdateQueryNode':
      return WRITABLE_WHEN_FULL.has(tableOf(node.table) ?? '');
    case 'DeleteQueryNode':
      return WRITABLE_WHEN_FULL.has(tableOf(node.from) ?? '');
    case 'RawNode':
      return /^\s*(begin|commit|rollback|savepoint|release|select|pragma)\b/i.test(q.sql);
    default:
      return false;
  }
}
