const DAY = 86_400_000;
/** 9999-12-31T23:59:59.999Z: above it (and below 0) Date#toISOString writes a six-digit year. */
const LAST = 253_402_300_799_999;
let cachedDay = Number.NaN;
let cachedPrefix = '';
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, about four times faster: the date part is formatted once per day
 * (lists of a thousand secrets mostly share a few days) and the time of day by hand.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > LAST) return new Date(ms).toISOString();
  const rest = ms % DAY;
  const day = ms - rest;
  if (day !== cachedDay) {
    cachedPrefix = new Date(day).toISOString().slice(0, 11);
    cachedDay = day;
  }
  const milli = rest % 1000;
  const secs = (rest - milli) / 1000;
  const s = secs % 60;
  const mins = (secs - s) / 60;
  const m = mins % 60;
  const h = (mins - m) / 60;
  return `${cachedPrefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${pad3(milli)}Z`;
}
