import { describe, expect, it } from 'vitest';
import { BUSY_COMMITS_PER_SEC, etaSeconds, Pacer, RateMeter, type LoadSignals } from '../../src/throttle/pacer';
import { describeThrottle, resolveThrottle } from '../../src/throttle/settings';
import { throttleSchema } from '../../src/throttle/schema';

const idle: LoadSignals = { otherCommitsPerSec: 0, lagMs: null, walMbPerSec: null };
const busy: LoadSignals = { otherCommitsPerSec: BUSY_COMMITS_PER_SEC * 100, lagMs: null, walMbPerSec: null };

/** Runs batches whose time is `msPerRow` per row plus `overheadMs`, returning the sizes chosen. */
function converge(msPerRow: number, overheadMs: number, batches: number, settings = resolveThrottle()): number[] {
  const p = new Pacer();
  const sizes: number[] = [];
  for (let i = 0; i < batches; i++) {
    sizes.push(p.size);
    p.afterBatch({ rows: p.size, ms: overheadMs + p.size * msPerRow, waiters: 0 }, settings, idle);
  }
  return sizes;
}

describe('batch size', () => {
  it('grows at most twofold per batch towards batch_ms and settles there', () => {
    const sizes = converge(0.01, 1, 30);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeLessThanOrEqual(sizes[i - 1]! * 2);
    const last = sizes.at(-1)!;
    // 50 ms at 0.01 ms a row plus 1 ms: about 4,900 rows.
    expect(last * 0.01 + 1).toBeGreaterThan(40);
    expect(last * 0.01 + 1).toBeLessThan(60);
  });

  it('halves at once after a batch that took more than twice batch_ms', () => {
    const p = new Pacer();
    const s = resolveThrottle();
    for (let i = 0; i < 10; i++) p.afterBatch({ rows: p.size, ms: p.size * 0.01, waiters: 0 }, s, idle);
    const before = p.size;
    p.afterBatch({ rows: before, ms: 500, waiters: 0 }, s, idle);
    expect(p.size).toBeLessThanOrEqual(before / 2);
    expect(p.size).toBeGreaterThanOrEqual(Math.floor(before / 4));
  });

  it('keeps a fixed size (a manifest batch_size) whatever the batches take', () => {
    const p = new Pacer(700);
    p.afterBatch({ rows: 700, ms: 5_000, waiters: 3 }, resolveThrottle(), idle);
    expect(p.size).toBe(700);
  });
});

describe('pauses', () => {
  const s = resolveThrottle();

  it('runs flat out on an idle database and yields batch time times yield to a busy one', () => {
    expect(new Pacer().afterBatch({ rows: 100, ms: 40, waiters: 0 }, s, idle)).toEqual({ pauseMs: 0, why: [] });
    expect(new Pacer().afterBatch({ rows: 100, ms: 40, waiters: 0 }, s, busy)).toEqual({ pauseMs: 40, why: ['yield'] });
    expect(new Pacer().afterBatch({ rows: 100, ms: 40, waiters: 0 }, resolveThrottle({ yield: 0 }), busy)).toEqual({ pauseMs: 0, why: [] });
    expect(new Pacer().afterBatch({ rows: 100, ms: 40, waiters: 0 }, s, null).pauseMs).toBe(0);
  });

  it('gives sessions that waited on the batch its time back, once even when the database is busy too', () => {
    expect(new Pacer().afterBatch({ rows: 100, ms: 50, waiters: 2 }, resolveThrottle({ yield: 0 }), idle)).toEqual({ pauseMs: 50, why: ['lock waits'] });
    expect(new Pacer().afterBatch({ rows: 100, ms: 50, waiters: 2 }, s, busy)).toEqual({ pauseMs: 50, why: ['lock waits', 'yield'] });
    expect(new Pacer().afterBatch({ rows: 100, ms: 50, waiters: 2 }, resolveThrottle({ yield: 2 }), busy).pauseMs).toBe(100);
  });

  it('keeps to the rate limit: rows per second over batch and pause', () => {
    const d = new Pacer().afterBatch({ rows: 1000, ms: 100, waiters: 0 }, resolveThrottle({ rate: 2000 }), idle);
    expect(d).toEqual({ pauseMs: 400, why: ['rate'] });
    expect(1000 / ((100 + d.pauseMs) / 1000)).toBe(2000);
  });

  it('adds the fixed pause', () => {
    expect(new Pacer().afterBatch({ rows: 10, ms: 5, waiters: 0 }, resolveThrottle({ pause_ms: 250 }), idle).pauseMs).toBe(250);
  });
});

describe('holds', () => {
  const p = new Pacer();
  it('holds while paused, while a standby lags or WAL runs too fast, and says why', () => {
    expect(p.hold(resolveThrottle({ paused: true }), null)).toBe('paused');
    expect(p.hold(resolveThrottle(), { ...idle, lagMs: 12_000 })).toBe('replication lag 12000ms > 10000ms');
    expect(p.hold(resolveThrottle({ max_lag_ms: null }), { ...idle, lagMs: 12_000 })).toBeNull();
    expect(p.hold(resolveThrottle({ max_wal_mb_s: 8 }), { ...idle, walMbPerSec: 20 })).toBe('WAL 20.0 MB/s > 8 MB/s');
    expect(p.hold(resolveThrottle({ max_wal_mb_s: 8 }), { ...idle, walMbPerSec: 2 })).toBeNull();
  });
});

describe('lock cap', () => {
  it('caps a batch at 1.4 × batch_ms, halves after a cut, and leaves fixed and smallest sizes uncapped', () => {
    const s = resolveThrottle({ batch_ms: 50 });
    const p = new Pacer();
    expect(p.lockCapMs(s)).toBe(70);
    const before = p.size;
    p.cut();
    expect(p.size).toBe(Math.floor(before / 2));
    while (p.size > 1) p.cut();
    expect(p.lockCapMs(s)).toBeNull();
    expect(new Pacer(500).lockCapMs(s)).toBeNull();
  });
});

describe('lanes', () => {
  it('runs lanes side by side only while nothing asks the step to go slower', () => {
    const p = new Pacer();
    const s = resolveThrottle();
    expect(p.sideBySide(s, idle, 0)).toBe(true);
    expect(p.sideBySide(s, busy, 0)).toBe(false);
    expect(p.sideBySide(s, idle, 1)).toBe(false);
    expect(p.sideBySide(resolveThrottle({ rate: 1000 }), idle, 0)).toBe(false);
    expect(p.sideBySide(resolveThrottle({ pause_ms: 10 }), idle, 0)).toBe(false);
    expect(p.sideBySide(resolveThrottle({ paused: true }), idle, 0)).toBe(false);
    expect(p.sideBySide(resolveThrottle({ lanes: 1 }), idle, 0)).toBe(false);
    expect(p.sideBySide(resolveThrottle({ yield: 0 }), busy, 0)).toBe(true);
  });
});

describe('settings', () => {
  it('layers defaults, the manifest and later changes, a null lifting a limit', () => {
    const s = resolveThrottle({ rate: 500, batch_ms: 20 }, { rate: null, paused: true });
    expect(s).toMatchObject({ rate: null, batch_ms: 20, paused: true, yield: 1 });
    expect(describeThrottle(s)).toBe('PAUSED; batch 20ms, rate unlimited, pause 0ms, yield 1, replication lag ≤ 10s, lanes 2');
  });

  it('refuses a bad throttle with what each field means', () => {
    const r = throttleSchema.safeParse({ batch_ms: 0, rate: 'fast', speed: 1 });
    expect(r.success).toBe(false);
    const text = JSON.stringify(r.error?.issues);
    expect(text).toMatch(/batch_ms|at least 1/);
    expect(text).toMatch(/rows per second/);
    expect(text).toMatch(/speed/);
  });
});

describe('rate and ETA', () => {
  it('measures rows per second over the window and the time left', () => {
    const m = new RateMeter(10_000);
    expect(m.perSecond()).toBeNull();
    m.add(0, 100);
    m.add(1_000, 500);
    m.add(2_000, 500);
    expect(m.perSecond()).toBe(500);
    expect(etaSeconds(1_100, 6_100, 500)).toBe(10);
    expect(etaSeconds(1_100, null, 500)).toBeNull();
  });
});
