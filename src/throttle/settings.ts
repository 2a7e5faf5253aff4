/**
 * How fast a batched data step (a backfill, an online type change's fill, a restore from a
 * change log) may go. The manifest's `policy.throttle` sets the start; `godwit tune`,
 * `godwit pause` and `godwit resume` change it while the step runs (see src/db/throttle.ts).
 */

export interface ThrottleSettings {
  /** The batch duration the batch size is chosen for, ms: row locks are held about this long. */
  batch_ms: number;
  /** At most this many rows per second; null: no limit. */
  rate: number | null;
  /** A pause after every batch, ms. */
  pause_ms: number;
  /**
   * While the application is writing (other transactions commit in the database), a pause
   * after every batch of `yield` times the batch's duration: 1 leaves the database to the
   * application half of the time, 0 never yields. An idle database gets full speed.
   */
  yield: number;
  /** Wait while a standby replays more than this far behind (pg_stat_replication.replay_lag), ms; null: ignore. */
  max_lag_ms: number | null;
  /** Wait while the server writes WAL faster than this, MB/s; null: no limit. */
  max_wal_mb_s: number | null;
  /** Paused by an operator: no batch starts until resumed. */
  paused: boolean;
  /**
   * Key ranges filled side by side, each on its own connection, while nothing slows the step
   * down (no rate, no pause, no yield to the application, nobody waiting on its locks); one
   * batch at a time otherwise. 1: one range. The ranges are fixed at a step's first batch; a
   * later change to 1 makes them take turns.
   */
  lanes: number;
}

export const DEFAULT_THROTTLE: Readonly<ThrottleSettings> = {
  batch_ms: 50,
  rate: null,
  pause_ms: 0,
  yield: 1,
  max_lag_ms: 10_000,
  max_wal_mb_s: null,
  paused: false,
  lanes: 2,
};

/** A change to the settings, as the manifest, `godwit tune` or pause/resume gives it. */
export type ThrottleChange = Partial<ThrottleSettings>;

/** The settings in force: the defaults, then the manifest's, then each later change in order. */
export function resolveThrottle(...changes: readonly (ThrottleChange | null | undefined)[]): ThrottleSettings {
  const s: ThrottleSettings = { ...DEFAULT_THROTTLE };
  for (const c of changes) {
    if (!c) continue;
    for (const [k, v] of Object.entries(c) as [keyof ThrottleSettings, unknown][]) {
      if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
    }
  }
  return s;
}

/** A change as the text an operator signs: its fields in name order, as JSON. */
export function changeText(change: ThrottleChange): string {
  return JSON.stringify(Object.fromEntries(Object.entries(change).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** One line for status, the UI and the audit log: `batch 50ms, rate 5000/s, pause 0ms, yield 1, replication lag ≤ 10s, lanes 2`. */
export function describeThrottle(s: ThrottleSettings): string {
  const parts = [`batch ${s.batch_ms}ms`, `rate ${s.rate === null ? 'unlimited' : `${s.rate}/s`}`, `pause ${s.pause_ms}ms`, `yield ${s.yield}`];
  if (s.max_lag_ms !== null) parts.push(`replication lag ≤ ${s.max_lag_ms / 1000}s`);
  if (s.max_wal_mb_s !== null) parts.push(`WAL ≤ ${s.max_wal_mb_s} MB/s`);
  parts.push(`lanes ${s.lanes}`);
  return `${s.paused ? 'PAUSED; ' : ''}${parts.join(', ')}`;
}
