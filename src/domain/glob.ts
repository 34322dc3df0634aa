/**
 * Trust-policy patterns: an exact string, or a glob where `*` stands for any run of characters
 * (possibly empty, `:` and `/` included). Nothing else is special: no `?`, no classes, no escapes.
 * The match is anchored at both ends and case-sensitive. No regular expression is built from the
 * pattern, so a pattern cannot inject regex syntax or cause catastrophic backtracking.
 */

/**
 * Whether `value` matches `pattern`. Greedy two-pointer wildcard match that remembers only the
 * last `*`: worst case O(pattern × value), linear in practice; never recursive.
 */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1; // index in pattern of the last `*` seen
  let mark = 0; // index in value where that `*` started matching
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star !== -1) {
      // Let the last `*` swallow one more character and retry from there.
      p = star + 1;
      v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The literal text before the first `*` (the whole pattern when it has none). */
export function literalPrefix(pattern: string): string {
  const i = pattern.indexOf('*');
  return i === -1 ? pattern : pattern.slice(0, i);
}
