import { valueDigest } from '../crypto/digest.js';
import { ValidationError } from '../domain/errors.js';

/** The longest failure reason a deployment keeps, in characters. */
export const REASON_MAX_CHARS = 500;
/** Values shorter than this are not searched for (like the pipeline's masking: too many false hits). */
const MIN_MASKED_BYTES = 4;
const MASK = '***';

/** A pinned version as the server knows it: its keyed digest and byte length, never its value. */
export interface PinnedDigest {
  digest: string | null;
  size: number | null;
}

/**
 * Checks a failure reason and masks every pinned value in it before it is stored. The server
 * cannot open values (the api role holds no private key), so it compares by keyed digest: each
 * run of bytes as long as a pinned value whose HMAC equals that value's digest becomes `***`.
 * Control characters (newlines included) become spaces. The pipeline masks first (with the values
 * and their encodings); this is the server's own guarantee for any client.
 */
export function cleanFailureReason(raw: string, digestKey: Uint8Array, pins: readonly PinnedDigest[]): string {
  if ([...raw].length > REASON_MAX_CHARS) throw new ValidationError('reason', `reason must be at most ${REASON_MAX_CHARS} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const text = raw.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  const bytes = Buffer.from(text, 'utf8');
  const bySize = new Map<number, Set<string>>();
  for (const p of pins) {
    if (p.digest === null || p.size === null || p.size < MIN_MASKED_BYTES || p.size > bytes.length) continue;
    (bySize.get(p.size) ?? bySize.set(p.size, new Set()).get(p.size)!).add(p.digest);
  }
  const masked = new Uint8Array(bytes.length);
  for (const [size, digests] of bySize) {
    for (let i = 0; i + size <= bytes.length; i++) {
      if (digests.has(valueDigest(digestKey, bytes.subarray(i, i + size)))) masked.fill(1, i, i + size);
    }
  }
  if (!masked.includes(1)) return text;
  const parts: string[] = [];
  let i = 0;
  while (i < bytes.length) {
    let j = i;
    while (j < bytes.length && masked[j] === masked[i]) j++;
    parts.push(masked[i] ? MASK : bytes.subarray(i, j).toString('utf8'));
    i = j;
  }
  return parts.join('');
}
