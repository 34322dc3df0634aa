/**
 * How far a stored issue time may lie ahead of this process's clock: the disagreement tolerated
 * between instances (and a small backwards step of NTP). Beyond it the clock moved back, or
 * instances disagree badly: a deploy token or session issued "in the future" is refused rather
 * than allowed to outlive its lifetime by the size of the jump.
 */
export const CLOCK_SKEW_MS = 60_000;

/** True when `issuedAt` is later than `now` by more than CLOCK_SKEW_MS. */
export function issuedInFuture(issuedAt: number, now: number): boolean {
  return issuedAt - now > CLOCK_SKEW_MS;
}

/**
 * The clock services use in a running process: wall time that never moves back. It advances with
 * the monotonic clock from the last value it gave, and follows the wall clock forward (an NTP
 * step forward only shortens lifetimes); a step back of the wall clock is not followed, so a
 * deploy token or session issued by this process expires after its lifetime in real time.
 * `wall` and `monotonic` are injectable for tests.
 */
export function nonDecreasingClock(wall: () => number = Date.now, monotonic: () => number = () => performance.now()): () => number {
  let last = wall();
  let lastMono = monotonic();
  return () => {
    const mono = monotonic();
    last = Math.max(wall(), last + (mono - lastMono));
    lastMono = mono;
    // Whole milliseconds (timestamps are stored as integers); the fraction is kept for the next call.
    return Math.floor(last);
  };
}
