import { isUtf8 } from 'node:buffer';

/**
 * The release role's cache of opened values, one entry per running deployment: the JSON body it
 * was handed (`{"runtime":{…},"build":{…}}`), built byte by byte from the opened plaintexts so that
 * no value lives in an immutable JavaScript string, and zeroed when the entry goes.
 *
 * - Lives only in the release service (roles all and release); the api role never constructs one.
 * - Never outlives the deployment it serves: an entry is dropped when the deployment is completed
 *   through this process, when its expiry time passes (checked on every read), and by a sweep
 *   that re-reads the status of cached deployments (completions and deletions made elsewhere).
 * - Bounded in total bytes (least recently used entries go first); `stats()` measures it.
 */
export interface CachedRelease {
  projectId: string;
  expiresAt: number;
  /** Audit detail of a release of this deployment (names and counts, never values). */
  detail: Record<string, unknown>;
  body: Buffer;
}

export class ReleaseCache {
  readonly #entries = new Map<string, CachedRelease>();
  #bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get(deploymentId: string, now: number): CachedRelease | undefined {
    const e = this.#entries.get(deploymentId);
    if (!e) {
      this.misses++;
      return undefined;
    }
    if (e.expiresAt <= now) {
      this.drop(deploymentId);
      this.misses++;
      return undefined;
    }
    // most recently used last
    this.#entries.delete(deploymentId);
    this.#entries.set(deploymentId, e);
    this.hits++;
    return e;
  }

  /** Caches `entry` (taking ownership of its body); false when it is larger than the whole cache. */
  set(deploymentId: string, entry: CachedRelease): boolean {
    this.drop(deploymentId);
    if (entry.body.length > this.maxBytes) return false;
    while (this.#bytes + entry.body.length > this.maxBytes) {
      const oldest = this.#entries.keys().next().value as string;
      this.drop(oldest);
    }
    this.#entries.set(deploymentId, entry);
    this.#bytes += entry.body.length;
    return true;
  }

  /** Forgets a deployment's values and zeroes their bytes. */
  drop(deploymentId: string): void {
    const e = this.#entries.get(deploymentId);
    if (!e) return;
    this.#entries.delete(deploymentId);
    this.#bytes -= e.body.length;
    e.body.fill(0);
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  clear(): void {
    for (const id of this.ids()) this.drop(id);
  }

  stats(): { entries: number; bytes: number; maxBytes: number; hits: number; misses: number } {
    return { entries: this.#entries.size, bytes: this.#bytes, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses };
  }
}

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const HEX = Buffer.from('0123456789abcdef');

/** Length of `bytes` (valid UTF-8) as the inside of a JSON string. */
function jsonStringLength(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x22 || b === 0x5c || b === 0x08 || b === 0x0c || b === 0x0a || b === 0x0d || b === 0x09) n += 2;
    else if (b < 0x20) n += 6;
    else n += 1;
  }
  return n;
}

function writeJsonString(bytes: Uint8Array, out: Buffer, off: number): number {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
      out[off++] = b;
      continue;
    }
    out[off++] = 0x5c;
    switch (b) {
      case 0x22:
        out[off++] = 0x22;
        break;
      case 0x5c:
        out[off++] = 0x5c;
        break;
      case 0x08:
        out[off++] = 0x62; // b
        break;
      case 0x0c:
        out[off++] = 0x66; // f
        break;
      case 0x0a:
        out[off++] = 0x6e; // n
        break;
      case 0x0d:
        out[off++] = 0x72; // r
        break;
      case 0x09:
        out[off++] = 0x74; // t
        break;
      default:
        out[off++] = 0x75; // u00XX
        out[off++] = 0x30;
        out[off++] = 0x30;
        out[off++] = HEX[b >> 4]!;
        out[off++] = HEX[b & 15]!;
    }
  }
  return off;
}

function writeBase64(bytes: Uint8Array, out: Buffer, off: number): number {
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[off++] = B64[n >> 18]!;
    out[off++] = B64[(n >> 12) & 63]!;
    out[off++] = B64[(n >> 6) & 63]!;
    out[off++] = B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[off++] = B64[n >> 18]!;
    out[off++] = B64[(n >> 12) & 63]!;
    out[off++] = rest === 2 ? B64[(n >> 6) & 63]! : 0x3d;
    out[off++] = 0x3d;
  }
  return off;
}

/** Replaces malformed UTF-8 like TextDecoder does (U+FFFD): values are validated on write, so this is a fallback only. */
function wellFormed(bytes: Uint8Array): Uint8Array {
  return isUtf8(bytes) ? bytes : Buffer.from(new TextDecoder('utf-8').decode(bytes), 'utf8');
}

/**
 * The release body `{"runtime":{NAME:value…},"build":{NAME:base64…}}` in pin order, written
 * straight from the opened bytes into one buffer (names are `[A-Za-z_][A-Za-z0-9_]*`: no escaping).
 */
export function encodeReleased(
  pins: ReadonlyArray<{ name: string; kind: string }>,
  opened: readonly Uint8Array[],
  opts: { buildWithheld?: boolean } = {},
): Buffer {
  const tail = opts.buildWithheld ? '},"buildWithheld":true}' : '}}';
  const runtime: number[] = [];
  const build: number[] = [];
  pins.forEach((p, i) => {
    (p.kind === 'build' ? build : runtime).push(i);
  });
  const values = opened.map((o, i) => (pins[i]!.kind === 'build' ? o : wellFormed(o)));
  let size = '{"runtime":{},"build":{'.length + tail.length;
  for (const i of runtime) size += pins[i]!.name.length + 5 + jsonStringLength(values[i]!) + 1;
  for (const i of build) size += pins[i]!.name.length + 5 + Math.ceil(values[i]!.length / 3) * 4 + 1;
  const out = Buffer.allocUnsafeSlow(size);
  let off = out.write('{"runtime":{', 0, 'latin1');
  const section = (idx: number[], base64: boolean) => {
    idx.forEach((i, k) => {
      if (k > 0) out[off++] = 0x2c;
      out[off++] = 0x22;
      off += out.write(pins[i]!.name, off, 'latin1');
      out[off++] = 0x22;
      out[off++] = 0x3a;
      out[off++] = 0x22;
      off = base64 ? writeBase64(values[i]!, out, off) : writeJsonString(values[i]!, out, off);
      out[off++] = 0x22;
    });
  };
  section(runtime, false);
  off += out.write('},"build":{', off, 'latin1');
  section(build, true);
  off += out.write(tail, off, 'latin1');
  values.forEach((v, i) => {
    if (v !== opened[i]) v.fill(0);
  });
  return off === size ? out : out.subarray(0, off);
}
