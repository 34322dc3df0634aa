import type { ScopeStampRow } from '../store/secrets.repository.js';

/**
 * An answer and what it was built from: the last succeeded deployment, and each secret of the
 * scope in list order with its stamp and where its JSON object lies in `body` (start === end: not
 * listed, a deleted secret no deployment still has).
 */
interface Entry {
  lastDeployment: string | null;
  ids: string[];
  versions: number[];
  times: number[];
  deleted: number[];
  starts: number[];
  ends: number[];
  body: Buffer;
  /** What it holds: the answer, and about 80 bytes per secret for its stamp and its piece's place. */
  bytes: number;
}

/** Heap bytes counted per secret of a kept answer (its id string, three stamp numbers and two offsets). */
const STAMP_BYTES = 80;

/** The answer's text before the first secret and after the last: `JSON.stringify({ secrets })`. */
const HEAD = Buffer.from('{"secrets":[');
const TAIL = Buffer.from(']}');

/**
 * At most this many changed secrets, and at most this share of the scope (but always up to
 * MIN_PATCHED), are read again one by one; more: the whole answer is built again.
 */
export const MAX_PATCHED = 64;
export const MAX_PATCHED_SHARE = 0.25;
export const MIN_PATCHED = 4;

/**
 * One secret's piece of an answer: its JSON object (`JSON.stringify` of its SecretMeta), or null
 * when the secret is not listed.
 */
export type Piece = string | null;

/** What `plan` finds: the kept answer is still the answer, or which secrets need their piece again. */
export type Plan = { kind: 'same'; body: Buffer } | { kind: 'patch'; ids: string[] } | { kind: 'full' };

/**
 * Where each secret of `e` is, by id: its index, found first where the previous one found was
 * followed (so an answer with a few secrets changed, come or gone needs no index of them all), else
 * in an index built the first time it is needed.
 */
function finder(e: Entry): (id: string) => number | undefined {
  let next = 0;
  let index: Map<string, number> | undefined;
  return (id) => {
    let i: number | undefined = next;
    if (e.ids[i] !== id) {
      if (!index) {
        index = new Map();
        for (let j = 0; j < e.ids.length; j++) index.set(e.ids[j]!, j);
      }
      i = index.get(id);
    }
    if (i !== undefined) next = i + 1;
    return i;
  };
}

/**
 * The last answer of each production or build list (`GET …/secrets?scope=`), checked against the
 * database on every request: it is served again only when the scope's secrets, read again
 * (listScopeStamps), are the same ones in the same order with the same current version, update
 * time and tombstone flag, and the last succeeded deployment is the same one. A secret's listed
 * metadata changes only with its current version (every write moves it; a version's digest, size
 * and kind never change), and its status only with that version and the pins of the last
 * succeeded deployment (written with it, never changed), so an equal stamp means an equal piece,
 * whichever instance wrote meanwhile. Authorization is not cached: callers check it first.
 *
 * When only a few secrets' stamps differ (or secrets came or went) and the last succeeded
 * deployment is the same, only those secrets are read again (`plan` names them) and `patch` joins
 * their new pieces with the kept ones in the order of the stamps just read, which is the list's
 * own order (listScopeStamps orders as listScopeMeta does, by the database's comparison of names).
 * Bounded by the bytes it holds (answers and stamps), least recently used out first.
 */
export class ScopeListCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** The answer stored for `key` when `rows` (in list order) still describe it. */
  lookup(key: string, rows: readonly ScopeStampRow[]): Buffer | undefined {
    const p = this.plan(key, rows);
    return p.kind === 'same' ? p.body : undefined;
  }

  /**
   * Whether the kept answer for `key` is still the answer for `rows` (the scope's stamps now, in
   * list order), or which secrets (ids) must be read again to patch it, or whether it must be
   * built again whole (none kept, another last succeeded deployment, or too many changed).
   */
  plan(key: string, rows: readonly ScopeStampRow[]): Plan {
    const e = this.#entries.get(key);
    if (!e) return { kind: 'full' };
    const last = rows.length > 0 ? rows[0]!.last_deployment : e.lastDeployment;
    if (last !== e.lastDeployment) return { kind: 'full' };
    const limit = Math.min(MAX_PATCHED, Math.max(MIN_PATCHED, Math.floor(rows.length * MAX_PATCHED_SHARE)));
    if (rows.length === e.ids.length) {
      let i = 0;
      for (; i < rows.length; i++) {
        const r = rows[i]!;
        if (e.ids[i] !== r.id || e.versions[i] !== r.current_version || e.times[i] !== r.updated_at || e.deleted[i] !== r.deleted) break;
      }
      if (i === rows.length) {
        this.#entries.delete(key);
        this.#entries.set(key, e);
        return { kind: 'same', body: e.body };
      }
    }
    const ids: string[] = [];
    const find = finder(e);
    for (const r of rows) {
      const i = find(r.id);
      if (i === undefined || e.versions[i] !== r.current_version || e.times[i] !== r.updated_at || e.deleted[i] !== r.deleted) {
        if (ids.length >= limit) return { kind: 'full' };
        ids.push(r.id);
      }
    }
    return { kind: 'patch', ids };
  }

  /**
   * The answer for `rows` (the scope's stamps, in list order) from the kept one and `fresh`: the
   * new piece of each secret that `plan` named, read with its stamp. Stores and returns it;
   * undefined when the kept answer is gone, or a fresh piece's stamp is not the one in `rows`
   * (a write came between the two reads): the caller then builds it whole.
   */
  patch(key: string, rows: readonly ScopeStampRow[], fresh: ReadonlyMap<string, { row: ScopeStampRow; piece: Piece }>): Buffer | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    const last = rows.length > 0 ? rows[0]!.last_deployment : e.lastDeployment;
    if (last !== e.lastDeployment) return undefined;
    // The new answer as runs of bytes: a run of the kept answer (consecutive pieces, with the
    // commas between them), or one fresh piece; a comma between runs.
    const runs: Array<{ buf: Buffer; start: number; end: number }> = [];
    const starts: number[] = [];
    const ends: number[] = [];
    const find = finder(e);
    let length = HEAD.length;
    let first = true;
    for (const r of rows) {
      const f = fresh.get(r.id);
      let buf: Buffer | undefined;
      let start = 0;
      let end = 0;
      if (f) {
        const s = f.row;
        if (s.current_version !== r.current_version || s.updated_at !== r.updated_at || s.deleted !== r.deleted || s.last_deployment !== last) return undefined;
        if (f.piece !== null) {
          buf = Buffer.from(f.piece);
          end = buf.length;
        }
      } else {
        const i = find(r.id);
        if (i === undefined || e.versions[i] !== r.current_version || e.times[i] !== r.updated_at || e.deleted[i] !== r.deleted) return undefined;
        if (e.starts[i]! !== e.ends[i]!) {
          buf = e.body;
          start = e.starts[i]!;
          end = e.ends[i]!;
        }
      }
      if (!buf) {
        starts.push(length);
        ends.push(length);
        continue;
      }
      if (!first) length += 1;
      starts.push(length);
      length += end - start;
      ends.push(length);
      const prev = runs.at(-1);
      if (!first && prev && buf === e.body && prev.buf === e.body && prev.end + 1 === start) prev.end = end;
      else runs.push({ buf, start, end });
      first = false;
    }
    length += TAIL.length;
    const body = Buffer.allocUnsafe(length);
    let at = HEAD.copy(body, 0);
    for (let k = 0; k < runs.length; k++) {
      if (k > 0) body[at++] = 0x2c; // ','
      const run = runs[k]!;
      at += run.buf.copy(body, at, run.start, run.end);
    }
    TAIL.copy(body, at);
    this.#put(key, rows, last, body, starts, ends);
    return body;
  }

  /** Stores the answer built from `rows` (every secret of the scope, in list order) and `pieces` (each row's piece), and returns it. */
  build(key: string, rows: readonly ScopeStampRow[], pieces: readonly Piece[]): Buffer {
    let text = '{"secrets":[';
    const starts: number[] = [];
    const ends: number[] = [];
    let length = HEAD.length;
    let first = true;
    for (const p of pieces) {
      if (p === null) {
        starts.push(length);
        ends.push(length);
        continue;
      }
      if (!first) {
        text += ',';
        length += 1;
      }
      first = false;
      text += p;
      starts.push(length);
      length += Buffer.byteLength(p);
      ends.push(length);
    }
    const body = Buffer.from(`${text}]}`);
    this.#put(key, rows, rows[0]?.last_deployment ?? null, body, starts, ends);
    return body;
  }

  #put(key: string, rows: readonly ScopeStampRow[], last: string | null, body: Buffer, starts: number[], ends: number[]): void {
    this.#drop(key);
    const bytes = body.length + STAMP_BYTES * rows.length;
    if (bytes > this.maxBytes) return;
    const e: Entry = { lastDeployment: last, ids: [], versions: [], times: [], deleted: [], starts, ends, body, bytes };
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
