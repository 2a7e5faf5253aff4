/**
 * The distribution of a batched step's batch durations (each batch is one transaction, so a
 * batch's duration bounds how long it held its row locks), kept in the step's ledger row
 * next to its resume point: bounded in size however many batches there are, and read by
 * `godwit status` and the benchmarks after the step.
 */

/** Upper bounds of the buckets, ms; the last bucket holds everything above the last bound. */
export const DURATION_BOUNDS_MS: readonly number[] = [5, 10, 25, 50, 75, 100, 150, 250, 500, 1000];

export interface DurationHistogram {
  count: number;
  sumMs: number;
  maxMs: number;
  /** buckets[i]: batches with bounds[i-1] < ms ≤ bounds[i]; the last: above every bound. */
  buckets: number[];
}

export function emptyDurations(): DurationHistogram {
  return { count: 0, sumMs: 0, maxMs: 0, buckets: DURATION_BOUNDS_MS.map(() => 0).concat(0) };
}

/** A copy of `h` with one more batch of `ms`. */
export function addDuration(h: DurationHistogram, ms: number): DurationHistogram {
  const buckets = [...h.buckets];
  const i = DURATION_BOUNDS_MS.findIndex((b) => ms <= b);
  buckets[i === -1 ? DURATION_BOUNDS_MS.length : i]! += 1;
  return { count: h.count + 1, sumMs: h.sumMs + ms, maxMs: Math.max(h.maxMs, ms), buckets };
}

/** Batches that took longer than `boundMs`, which must be one of DURATION_BOUNDS_MS. */
export function countOver(h: DurationHistogram, boundMs: number): number {
  const i = DURATION_BOUNDS_MS.indexOf(boundMs);
  if (i === -1) throw new Error(`${boundMs} ms is not a bucket bound (${DURATION_BOUNDS_MS.join(', ')})`);
  return h.buckets.slice(i + 1).reduce((n, c) => n + c, 0);
}

/** The bound under which at least a fraction `q` of the batches fall (the max for the top bucket). */
export function quantileBound(h: DurationHistogram, q: number): number {
  let seen = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    seen += h.buckets[i]!;
    if (seen >= q * h.count && seen > 0) return i < DURATION_BOUNDS_MS.length ? Math.min(DURATION_BOUNDS_MS[i]!, h.maxMs) : h.maxMs;
  }
  return h.maxMs;
}
