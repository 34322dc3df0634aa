import type { ScopeStampRow } from '../store/secrets.repository.js';

/** An answer and what it was built from: the last succeeded deployment, and each secret of the scope in list order. */
interface Entry {
  lastDeployment: string | null;
  ids: string[];
  versions: number[];
  times: number[];
  deleted: number[];
  body: Buffer;
  /** What it holds: the answer, and about 64 bytes per secret for its stamp. */
  bytes: number;
}

/** Heap bytes counted per secret of a kept answer's stamp (its id string and three numbers). */
const STAMP_BYTES = 64;

/**
 * The last answer of each production or build list (`GET …/secrets?scope=`), checked against the
 * database on every request: it is served again only when the scope's secrets, read again
 * (listScopeStamps), are the same ones in the same order with the same current version, update
 * time and tombstone flag, and the last succeeded deployment is the same one. A secret's listed
 * metadata changes only with its current version (every write moves it; a version's digest, size
 * and kind never change), and its status only with that version and the pins of the last
 * succeeded deployment (written with it, never changed), so an equal stamp means an equal answer,
 * whichever instance wrote meanwhile. Authorization is not cached: callers check it first.
 * Bounded by the bytes it holds (answers and stamps), least recently used out first.
 */
export class ScopeListCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** The answer stored for `key` when `rows` (in list order) still describe it. */
  lookup(key: string, rows: readonly ScopeStampRow[]): Buffer | undefined {
    const e = this.#entries.get(key);
    if (!e || rows.length !== e.ids.length) return undefined;
    if (rows.length > 0 && rows[0]!.last_deployment !== e.lastDeployment) return undefined;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (e.ids[i] !== r.id || e.versions[i] !== r.current_version || e.times[i] !== r.updated_at || e.deleted[i] !== r.deleted) return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.body;
  }

  /** Stores `body`, the answer built from `rows` (every secret of the scope, in list order). */
  store(key: string, rows: readonly ScopeStampRow[], body: Buffer): void {
    this.#drop(key);
    const bytes = body.length + STAMP_BYTES * rows.length;
    if (bytes > this.maxBytes) return;
    const e: Entry = { lastDeployment: rows[0]?.last_deployment ?? null, ids: [], versions: [], times: [], deleted: [], body, bytes };
    for (const r of rows) {
      e.ids.push(r.id);
      e.versions.push(r.current_version);
      e.times.push(r.updated_at);
      e.deleted.push(r.deleted);
    }
    this.#entries.set(key, e);
    this.#bytes += bytes;
    for (const [k, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= old.bytes;
    }
  }

  #drop(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }

  /** Bytes held, answers and stamps (for tests). */
  get bytes(): number {
    return this.#bytes;
  }
}
