import { performance } from 'node:perf_hooks';

/** The q-quantile (0..1) of samples, nearest-rank on a sorted copy. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

export const median = (s: readonly number[]) => quantile(s, 0.5);

/** Latencies in milliseconds of one run of a workload, and its wall time. */
export interface Run {
  samples: number[];
  wallMs: number;
}

/** Times `n` sequential calls of `fn(i)`; each sample in ms. */
export async function timeSeq(n: number, fn: (i: number) => Promise<unknown>): Promise<Run> {
  const samples: number[] = new Array(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    await fn(i);
    samples[i] = performance.now() - a;
  }
  return { samples, wallMs: performance.now() - t0 };
}

/** Summary of several runs: the median over runs of each run's median / p95 / p99, and throughput. */
export interface Summary {
  median: number;
  p95: number;
  p99: number;
  /** operations per second (count / wall time), median over runs */
  perSec: number;
  n: number;
  runs: number;
}

export function summarize(runs: readonly Run[]): Summary {
  const med = (f: (r: Run) => number) => median(runs.map(f));
  return {
    median: med((r) => median(r.samples)),
    p95: med((r) => quantile(r.samples, 0.95)),
    p99: med((r) => quantile(r.samples, 0.99)),
    perSec: med((r) => (r.samples.length * 1000) / r.wallMs),
    n: runs.reduce((a, r) => a + r.samples.length, 0),
    runs: runs.length,
  };
}
