/**
 * Paces a batched data step: picks each batch's size so that it takes about `batch_ms` (the
 * row locks it holds are held that long), and decides how long to wait after it. No I/O:
 * the caller measures the batch and reads the database's signals (src/db/throttle.ts).
 *
 * The size adapts the way dynamic chunking does elsewhere: from the last batch's time per
 * row, at most doubling and at most quartering per batch, so one slow batch (a cold page, a
 * checkpoint) does not swing it wildly, and a batch over twice the target is cut at once.
 */
import type { ThrottleSettings } from './settings';

/** What the database said after a batch (src/db/throttle.ts readLoad). */
export interface LoadSignals {
  /** Transactions other than this step's committed per second in the database since the last batch. */
  otherCommitsPerSec: number;
  /** The largest replay lag of a standby, ms; null when there is none (or it cannot be seen). */
  lagMs: number | null;
  /** WAL written per second since the last batch, MB; null before there are two readings. */
  walMbPerSec: number | null;
}

export interface BatchOutcome {
  rows: number;
  ms: number;
  /** Sessions that were waiting for a lock this batch held, seen just before it committed. */
  waiters: number;
}

export interface PaceDecision {
  pauseMs: number;
  /** Why it pauses longer than `pause_ms`, for the progress details: `yield`, `rate`, `lock waits`. */
  why: string[];
}

/** Applications commit all the time; Godwit's own bookkeeping does not come near this. */
export const BUSY_COMMITS_PER_SEC = 5;

export const MIN_BATCH = 1;
export const MAX_BATCH = 50_000;
const FIRST_BATCH = 200;

export class Pacer {
  private current: number;

  /** `fixed`: the manifest's batch_size, kept as given; otherwise the size adapts to `batch_ms`. */
  constructor(private readonly fixed: number | null = null) {
    this.current = fixed ?? FIRST_BATCH;
  }

  /** Rows (or keys) for the next batch. */
  get size(): number {
    return this.current;
  }

  /**
   * Why no batch may start now, or null: paused by an operator, a standby too far behind, or
   * WAL written too fast. The caller waits and asks again.
   */
  hold(s: ThrottleSettings, load: LoadSignals | null): string | null {
    if (s.paused) return 'paused';
    if (load && s.max_lag_ms !== null && load.lagMs !== null && load.lagMs > s.max_lag_ms) return `replication lag ${Math.round(load.lagMs)}ms > ${s.max_lag_ms}ms`;
    if (load && s.max_wal_mb_s !== null && load.walMbPerSec !== null && load.walMbPerSec > s.max_wal_mb_s) {
      return `WAL ${load.walMbPerSec.toFixed(1)} MB/s > ${s.max_wal_mb_s} MB/s`;
    }
    return null;
  }

  /**
   * Whether the step's lanes may run batches side by side: only while nothing asks it to go
   * slower. Otherwise they take turns, one batch (and its pause) at a time, so that a busy
   * database sees the same pacing from many lanes as from one.
   */
  sideBySide(s: ThrottleSettings, load: LoadSignals | null, waiters: number): boolean {
    if (s.lanes <= 1 || s.paused || s.rate !== null || s.pause_ms > 0 || waiters > 0) return false;
    if (this.hold(s, load) !== null) return false;
    return !(s.yield > 0 && load !== null && load.otherCommitsPerSec >= BUSY_COMMITS_PER_SEC);
  }

  /**
   * The longest a batch may hold its row locks before it is cancelled and retried smaller, ms:
   * 1.4 × `batch_ms`, so that a batch slowed down by something else (a
   * checkpoint, a busy CPU) gives its locks back before 100 ms by default: the cap is on the
   * batch's statement, and its ledger row, the lease fence and the commit come after it (with
   * two lanes, one may wait there for the other's commit; 1.6 × left a batch at 103 ms). Null (no cap)
   * for a fixed size, which cannot shrink, and at the smallest size, where a batch that is
   * still slow is waiting for a row lock (the policy's lock_timeout is then what ends it).
   */
  lockCapMs(s: ThrottleSettings): number | null {
    if (this.fixed !== null || this.current <= MIN_BATCH) return null;
    return Math.round(1.4 * s.batch_ms);
  }

  /** After a batch was cancelled at lockCapMs: half the rows next time. */
  cut(): void {
    if (this.fixed === null) this.current = Math.max(MIN_BATCH, Math.floor(this.current / 2));
  }

  /** Learns from a finished batch; returns the pause before the next one. */
  afterBatch(b: BatchOutcome, s: ThrottleSettings, load: LoadSignals | null): PaceDecision {
    const why: string[] = [];
    let pauseMs = s.pause_ms;
    if (this.fixed === null && b.rows > 0) {
      const wanted = (s.batch_ms * b.rows) / Math.max(b.ms, 0.5);
      const next = b.ms > 2 * s.batch_ms ? Math.min(wanted, this.current / 2) : wanted;
      this.current = clamp(Math.round(next), Math.max(MIN_BATCH, Math.floor(this.current / 4)), this.current * 2);
    }
    // Sessions that queued behind this batch's row locks waited at most its time (batch_ms
    // bounds it): they get that time back before the next batch. A busy database gets yield
    // times the batch's time. The larger of the two, not both: they answer the same load.
    const busy = s.yield > 0 && load !== null && load.otherCommitsPerSec >= BUSY_COMMITS_PER_SEC;
    const back = Math.max(b.waiters > 0 ? b.ms : 0, busy ? b.ms * s.yield : 0);
    if (back > 0) {
      pauseMs += back;
      if (b.waiters > 0) why.push('lock waits');
      if (busy) why.push('yield');
    }
    if (s.rate !== null && s.rate > 0) {
      const due = (b.rows * 1000) / s.rate - b.ms;
      if (due > pauseMs) {
        pauseMs = due;
        why.push('rate');
      }
    }
    return { pauseMs: Math.round(pauseMs), why };
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(MAX_BATCH, Math.max(lo, Math.min(hi, n)));
}

/** Rows per second over a sliding window of batches, for the rate and ETA people see. */
export class RateMeter {
  private readonly samples: { at: number; rows: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(at: number, rows: number): void {
    this.samples.push({ at, rows });
    while (this.samples.length > 2 && at - this.samples[0]!.at > this.windowMs) this.samples.shift();
  }

  /** Rows per second between the oldest and newest sample in the window; null until there are two. */
  perSecond(): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const rows = this.samples.slice(1).reduce((n, s) => n + s.rows, 0);
    return last.at > first.at ? (rows * 1000) / (last.at - first.at) : null;
  }
}

/** Seconds left at `perSecond`, or null when it cannot be said. */
export function etaSeconds(done: number, estimated: number | null, perSecond: number | null): number | null {
  if (estimated === null || perSecond === null || perSecond <= 0) return null;
  return Math.max(0, Math.round((estimated - done) / perSecond));
}
