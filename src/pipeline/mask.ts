/**
 * Output masking for `keyloft run` and `keyloft deploy fly`: the child's stdout/stderr pass
 * through with every secret value — and the common encoded forms of it — replaced by `***`.
 *
 * Patterns derived per value (as bytes): the value itself, each line of a multi-line value
 * (and the value with LF/CRLF line endings swapped), the stable core of its base64 and base64url
 * encodings at byte offsets 0, 1 and 2, its URL-encoded forms (upper- and lower-case `%xx`) and its
 * JSON-escaped forms. A second set — the base64/base64url cores and the hex digits (lower and upper
 * case) — is matched whitespace-insensitively, so encoders that wrap or space their output (GNU
 * `base64` at 76 columns, `base64 -w 64`, `od -An -tx1`, `xxd -p`) are caught wherever the breaks
 * fall. All occurrences of all patterns are found, overlapping or adjacent hits are merged, and
 * every merged interval becomes one `***`.
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

/** Values (and derived patterns) shorter than this many bytes are never masked. */
export const MIN_MASK_LENGTH = 4;

/** What a masked interval is replaced with. */
export const MASK = '***';

const MASK_BYTES = Buffer.from(MASK, 'latin1');

function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

/** Splits on LF, dropping a CR that precedes it. */
function lines(v: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = v.indexOf(0x0a, start);
    const end = nl === -1 ? v.length : nl;
    const lineEnd = end > start && v[end - 1] === 0x0d ? end - 1 : end;
    if (lineEnd > start) out.push(v.subarray(start, lineEnd));
    if (nl === -1) break;
    start = nl + 1;
  }
  return out;
}

/** Converts lone LF to CRLF and CRLF to lone LF (both directions, as separate results). */
function lineEndingVariants(v: Buffer): Buffer[] {
  const s = v.toString('latin1'); // byte-preserving
  const lf = s.replace(/\r\n/g, '\n');
  const crlf = lf.replace(/\n/g, '\r\n');
  return [Buffer.from(lf, 'latin1'), Buffer.from(crlf, 'latin1')];
}

/**
 * The characters of base64(prefix + v + suffix) that depend only on v's bytes, for a prefix of
 * `offset` arbitrary bytes: character i covers bits [6i, 6i + 6), so it is pure when those bits
 * all lie inside v.
 */
function base64Core(v: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), v]).toString('base64');
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + v.length)) / 6);
  return end > first ? encoded.slice(first, end) : '';
}

function isUriComponentSafe(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === 0x2d ||
    b === 0x5f ||
    b === 0x2e ||
    b === 0x21 ||
    b === 0x7e ||
    b === 0x2a ||
    b === 0x27 ||
    b === 0x28 ||
    b === 0x29 // - _ . ! ~ * ' ( )
  );
}

function isFormSafe(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f // * - . _
  );
}

const HEX_UPPER = '0123456789ABCDEF';
const HEX_LOWER = '0123456789abcdef';

/** Percent-encodes bytes (so it works for values that are not valid UTF-8, too). */
function percentEncode(v: Buffer, safe: (b: number) => boolean, spaceAsPlus: boolean, hex = HEX_UPPER): string {
  let out = '';
  for (const b of v) {
    if (safe(b)) out += String.fromCharCode(b);
    else if (b === 0x20 && spaceAsPlus) out += '+';
    else out += '%' + hex[b >> 4] + hex[b & 15];
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonForms(value: string | Uint8Array, bytes: Buffer): string[] {
  let s: string;
  if (typeof value === 'string') s = value;
  else {
    try {
      s = utf8.decode(bytes);
    } catch {
      return [];
    }
  }
  const json = JSON.stringify(s).slice(1, -1);
  // Encoders that escape non-ASCII (Python's json.dumps default) and those that escape "/" (PHP).
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return [json, ascii, json.replace(/\//g, '\\/'), ascii.replace(/\//g, '\\/')];
}

/**
 * Builds the list of byte patterns to mask for the given secret values (Buffers or strings).
 * Values shorter than MIN_MASK_LENGTH bytes are skipped (masking "a" would destroy output), and so
 * are derived patterns shorter than that. The result holds no duplicates, longest first.
 */
export function maskPatterns(values: Array<string | Uint8Array>): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const add = (p: Buffer | string): void => {
    const b = typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
    if (b.length < MIN_MASK_LENGTH) return;
    const key = b.toString('latin1');
    if (seen.has(key)) return;
    seen.add(key);
    out.push(Buffer.from(b));
  };

  for (const value of values) {
    const v = toBytes(value);
    if (v.length < MIN_MASK_LENGTH) continue;
    add(v);

    if (v.includes(0x0a)) {
      for (const line of lines(v)) add(line);
      for (const variant of lineEndingVariants(v)) add(variant);
    }

    for (const offset of [0, 1, 2]) {
      const core = base64Core(v, offset);
      add(core);
      add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }

    for (const hex of [HEX_UPPER, HEX_LOWER]) {
      add(percentEncode(v, isUriComponentSafe, false, hex)); // encodeURIComponent
      add(percentEncode(v, isUriComponentSafe, true, hex)); // encodeURIComponent with spaces as +
      add(percentEncode(v, isFormSafe, true, hex)); // application/x-www-form-urlencoded (URLSearchParams)
    }

    for (const form of jsonForms(value, v)) add(Buffer.from(form, 'utf8'));
  }
  out.sort((a, b) => b.length - a.length);
  return out;
}

/**
 * The patterns matched with whitespace (space, tab, CR, LF) ignored in the output: the base64 and
 * base64url cores at byte offsets 0, 1 and 2 and the hex digits in lower and upper case. Encoders
 * wrap (GNU `base64` every 76 characters, `-w 64`, `xxd -p` every 60) or space (`od -An -tx1`)
 * their output at places that depend on where the value sits in their input; ignoring the
 * whitespace finds the value wherever the breaks fall. None of these patterns holds whitespace.
 */
export function spacedMaskPatterns(values: Array<string | Uint8Array>): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const add = (p: string): void => {
    if (p.length < MIN_MASK_LENGTH || seen.has(p)) return;
    seen.add(p);
    out.push(Buffer.from(p, 'latin1'));
  };
  for (const value of values) {
    const v = toBytes(value);
    if (v.length < MIN_MASK_LENGTH) continue;
    for (const offset of [0, 1, 2]) {
      const core = base64Core(v, offset);
      add(core);
      add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
    const hex = v.toString('hex');
    add(hex);
    add(hex.toUpperCase());
  }
  out.sort((a, b) => b.length - a.length);
  return out;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** `buf` without whitespace, and for each byte kept its index in `buf`. */
function stripSpaces(buf: Uint8Array): { bytes: Buffer; index: Uint32Array } {
  const bytes = Buffer.allocUnsafe(buf.length);
  const index = new Uint32Array(buf.length);
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (isSpace(b)) continue;
    bytes[n] = b;
    index[n++] = i;
  }
  return { bytes: bytes.subarray(0, n), index: index.subarray(0, n) };
}

/** Merges two sorted flat interval lists ([s0, e0, s1, e1, ...]), joining overlapping or touching ones. */
function mergeIntervals(a: number[], b: number[]): number[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const all: Array<[number, number]> = [];
  for (let k = 0; k < a.length; k += 2) all.push([a[k]!, a[k + 1]!]);
  for (let k = 0; k < b.length; k += 2) all.push([b[k]!, b[k + 1]!]);
  all.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  for (const [st, en] of all) {
    const last = out.length - 1;
    if (last > 0 && st <= out[last]!) {
      if (en > out[last]!) out[last] = en;
    } else out.push(st, en);
  }
  return out;
}

const FILTER_BITS = 18;

function slot(key: number): number {
  return Math.imul(key, 0x9e3779b1) >>> (32 - FILTER_BITS);
}

/** The first four bytes of `b` at `i` as a little-endian int32. */
function key4(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/** A set of byte patterns and every occurrence of them in a buffer. */
class PatternSet {
  /** The patterns, longest first. */
  readonly patterns: readonly Buffer[];
  /** Length of the longest pattern (0 when there is none). */
  readonly maxLength: number;
  /** A bitmap over a hash of each pattern's first four bytes: a cheap pre-check per position. */
  readonly #filter: Uint8Array;
  /** Patterns grouped by their first four bytes, longest first within a group. */
  readonly #buckets = new Map<number, Buffer[]>();

  constructor(patterns: Buffer[]) {
    this.patterns = patterns;
    this.maxLength = patterns.length > 0 ? patterns[0]!.length : 0;
    this.#filter = new Uint8Array(patterns.length > 0 ? 1 << FILTER_BITS : 0);
    for (const p of patterns) {
      const key = key4(p, 0);
      this.#filter[slot(key)] = 1;
      const bucket = this.#buckets.get(key);
      if (bucket)
        bucket.push(p); // patterns arrive longest first, so buckets stay sorted
      else this.#buckets.set(key, [p]);
    }
  }

  /** All occurrences in `buf`, merged where they overlap or touch: [s0, e0, s1, e1, ...]. */
  find(buf: Uint8Array): number[] {
    const out: number[] = [];
    const n = buf.length;
    if (this.patterns.length === 0 || n < MIN_MASK_LENGTH) return out;
    const filter = this.#filter;
    const buckets = this.#buckets;
    let curStart = -1;
    let curEnd = -1;
    let key = (buf[0]! << 8) | (buf[1]! << 16) | (buf[2]! << 24);
    for (let i = 0; i + MIN_MASK_LENGTH <= n; i++) {
      key = (key >>> 8) | (buf[i + 3]! << 24);
      if (filter[slot(key)] === 0) continue;
      const bucket = buckets.get(key);
      if (bucket === undefined) continue;
      // Nothing starting here can reach past the current interval: skip the comparisons.
      if (i + bucket[0]!.length <= curEnd) continue;
      for (const p of bucket) {
        const len = p.length;
        if (i + len > n) continue;
        let j = MIN_MASK_LENGTH;
        while (j < len && buf[i + j] === p[j]) j++;
        if (j < len) continue;
        const end = i + len;
        if (curEnd >= 0 && i <= curEnd) {
          if (end > curEnd) curEnd = end;
        } else {
          if (curEnd >= 0) out.push(curStart, curEnd);
          curStart = i;
          curEnd = end;
        }
        break; // longest first: a shorter match here cannot extend the interval further
      }
    }
    if (curEnd >= 0) out.push(curStart, curEnd);
    return out;
  }
}

/** Masks complete buffers; `createMaskStream` uses it across chunk boundaries. */
export class Masker {
  /** The patterns matched byte for byte, longest first. */
  readonly patterns: readonly Buffer[];
  /** Length of the longest of them (0 when there is nothing to mask). */
  readonly maxPatternLength: number;
  /** The patterns matched with whitespace ignored (`spacedMaskPatterns`), longest first. */
  readonly spacedPatterns: readonly Buffer[];
  /** Length of the longest of them, in non-whitespace bytes. */
  readonly maxSpacedLength: number;
  readonly #exact: PatternSet;
  readonly #spaced: PatternSet;

  constructor(values: Array<string | Uint8Array>) {
    this.#exact = new PatternSet(maskPatterns(values));
    this.#spaced = new PatternSet(spacedMaskPatterns(values));
    this.patterns = this.#exact.patterns;
    this.maxPatternLength = this.#exact.maxLength;
    this.spacedPatterns = this.#spaced.patterns;
    this.maxSpacedLength = this.#spaced.maxLength;
  }

  /**
   * All occurrences of all patterns in `buf`, merged where they overlap or touch, as a flat
   * sorted list of [start, end) pairs: [s0, e0, s1, e1, ...]. A whitespace-insensitive match
   * covers the bytes from its first to its last non-whitespace byte.
   */
  findIntervals(buf: Uint8Array): number[] {
    const exact = this.#exact.find(buf);
    if (this.#spaced.patterns.length === 0) return exact;
    const { bytes, index } = stripSpaces(buf);
    const found = this.#spaced.find(bytes);
    if (found.length === 0) return exact;
    const mapped: number[] = [];
    for (let k = 0; k < found.length; k += 2) mapped.push(index[found[k]!]!, index[found[k + 1]! - 1]! + 1);
    return mergeIntervals(exact, mapped);
  }

  /**
   * The first index of `buf` at which a whitespace-insensitive match could start and still need
   * more input: `holdBack` non-whitespace bytes before the end (the whole tail when shorter).
   */
  spacedSafeEnd(buf: Uint8Array, isPrefix?: (strippedTail: Buffer) => boolean): number {
    if (this.#spaced.patterns.length === 0) return buf.length;
    const { bytes, index } = stripSpaces(buf);
    const hold = this.maxSpacedLength - 1;
    for (let p = Math.max(0, bytes.length - hold); p < bytes.length; p++) {
      if (!isPrefix || isPrefix(bytes.subarray(p))) return index[p]!;
    }
    return buf.length;
  }

  /** Masks a complete buffer. Returns `buf` itself when nothing matched. */
  maskAll(buf: Buffer): Buffer {
    const intervals = this.findIntervals(buf);
    if (intervals.length === 0) return buf;
    const parts: Buffer[] = [];
    let pos = 0;
    for (let k = 0; k < intervals.length; k += 2) {
      const start = intervals[k]!;
      if (start > pos) parts.push(buf.subarray(pos, start));
      parts.push(MASK_BYTES);
      pos = intervals[k + 1]!;
    }
    if (pos < buf.length) parts.push(buf.subarray(pos));
    return Buffer.concat(parts);
  }
}

/**
 * The masking Transform shared by both streams: `safeEnd(data)` says up to where the bytes seen
 * so far can be written out (every match starting before it lies wholly inside `data`); the rest
 * is held back until more input arrives or the stream ends.
 */
function maskingTransform(masker: Masker, safeEnd: (data: Buffer) => number, idle?: { ms: number; safeEnd: (data: Buffer) => number }): Transform {
  // `context` starts at the first byte any future match could start at. Its first `emitted` bytes
  // have already been written out (they ended inside a mask; `inMask` says the output ends with
  // one that a touching match must extend rather than repeat).
  let context: Buffer = Buffer.alloc(0);
  let emitted = 0;
  let inMask = false;

  let timer: NodeJS.Timeout | undefined;

  const step = (chunk: Buffer, final: boolean, end = safeEnd): Buffer => {
    const data = context.length === 0 ? Buffer.from(chunk) : Buffer.concat([context, chunk]);
    const intervals = masker.findIntervals(data);
    const safe = final ? data.length : end(data);
    const parts: Buffer[] = [];
    let pos = emitted;
    for (let k = 0; k < intervals.length; k += 2) {
      const start = intervals[k]!;
      const end = intervals[k + 1]!;
      if (end <= pos) continue;
      if (start > pos) {
        if (start >= safe) break;
        parts.push(data.subarray(pos, start));
        inMask = false;
      }
      if (!inMask) parts.push(MASK_BYTES);
      inMask = true;
      pos = end;
    }
    if (pos < safe) {
      parts.push(data.subarray(pos, safe));
      inMask = false;
      pos = safe;
    }
    context = data.subarray(safe);
    emitted = pos - safe;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  };

  const stream: Transform = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const out = step(chunk, false);
      if (out.length > 0) this.push(out);
      if (idle && context.length > 0) {
        // After `idle.ms` without input, write out what only the relaxed rule still holds back.
        timer = setTimeout(() => {
          timer = undefined;
          const late = step(Buffer.alloc(0), false, idle.safeEnd);
          if (late.length > 0) stream.push(late);
        }, idle.ms);
      }
      callback();
    },
    flush(callback: TransformCallback): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const out = step(Buffer.alloc(0), true);
      if (out.length > 0) this.push(out);
      context = Buffer.alloc(0);
      callback();
    },
    destroy(err, callback): void {
      if (timer) clearTimeout(timer);
      callback(err);
    },
  });
  return stream;
}

/**
 * A Transform stream that masks across chunk boundaries: it holds back at most
 * (longest pattern - 1) bytes at the end of each chunk until more data arrives or the stream ends,
 * and flushes everything on end. Its output equals `maskAll` of the whole input, however the input
 * was split into writes.
 */
export function createMaskStream(values: Array<string | Uint8Array>): Transform {
  const masker = new Masker(values);
  const holdBack = Math.max(0, masker.maxPatternLength - 1);
  return maskingTransform(masker, (data) => Math.min(Math.max(0, data.length - holdBack), masker.spacedSafeEnd(data)));
}

/**
 * Like createMaskStream (same output for the same input, however it is split into
 * writes), but it holds back only a tail that could still become a secret: the bytes from the
 * first position whose remainder is a proper prefix of some mask pattern. So a long-running
 * child's "listening on …" line shows at once instead of waiting for more output, while a value
 * split across two writes is still masked. A tail held back only because it could begin a
 * whitespace-insensitive form (wrapped base64, hex dumps) is written out after SPACED_HOLD_MS
 * without input.
 */
export function createLiveMaskStream(values: Array<string | Uint8Array>): Transform {
  const masker = new Masker(values);
  const exact = prefixChecker(masker.patterns);
  const spaced = prefixChecker(masker.spacedPatterns);
  const maxLen = masker.maxPatternLength;

  /** The first position from which `data` could continue into a match in later input. */
  const safeEnd = (data: Buffer): number => {
    for (let p = Math.max(0, data.length - maxLen + 1); p < data.length; p++) {
      if (exact(data.subarray(p))) return p;
    }
    return data.length;
  };

  const exactEnd = (data: Buffer) => (maxLen === 0 ? data.length : safeEnd(data));
  return maskingTransform(masker, (data) => Math.min(exactEnd(data), masker.spacedSafeEnd(data, spaced)), { ms: SPACED_HOLD_MS, safeEnd: exactEnd });
}

/**
 * How long the live stream holds back a tail that could only begin a whitespace-insensitive form
 * (wrapped base64, hex dump) before writing it out: encoders write their output in one go, while
 * almost any last character of a log line could begin such a form — a "listening on …" line must
 * not wait for the next line.
 */
export const SPACED_HOLD_MS = 250;

/** A test of whether a buffer is a proper prefix of one of `patterns` (each at least 4 bytes). */
function prefixChecker(patterns: readonly Buffer[]): (tail: Buffer) => boolean {
  const sorted = [...patterns].sort(Buffer.compare);
  // Every pattern is at least MIN_MASK_LENGTH (4) bytes: a tail of 4 or more bytes can only be a
  // prefix of one if its first 4 bytes begin a pattern, a cheap check before the binary search.
  const firstFour = new Set<number>(patterns.map((p) => p.readInt32LE(0)));
  /**
   * The patterns that extend `tail` sort right after it, so look at the first pattern strictly
   * greater than `tail`.
   */
  return (tail: Buffer): boolean => {
    if (tail.length >= 4 && !firstFour.has(tail.readInt32LE(0))) return false;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(sorted[mid]!, tail) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const p = sorted[lo];
    return p !== undefined && p.length > tail.length && p.subarray(0, tail.length).equals(tail);
  };
}
