import { describe, expect, it } from 'vitest';
import { DataProgressView } from '../../src/cli/progress';
import { describeDataProgress, formatDuration } from '../../src/throttle/progress';
import type { DataProgress } from '../../src/contract/migration';

const fill: DataProgress = {
  phase: 'fill',
  rows: 12_345,
  estimated: 40_000,
  perSecond: 2_100,
  etaSeconds: 13,
  batchSize: 1_800,
  lastBatchMs: 48,
  slowedBy: ['yield'],
  held: null,
  throttle: 'batch 50ms, rate unlimited, pause 0ms, yield 1',
};

describe('data progress, as people read it', () => {
  it('says rows of the estimate, share, rate, ETA, batch and why it slowed', () => {
    expect(describeDataProgress(fill)).toBe('fill 12,345 of ~40,000 rows (30%), 2,100 rows/s, ETA 13s; batch 1,800 rows, 48 ms, slowed by yield');
  });

  it('says why it is held instead of a rate, and keys for a restore', () => {
    expect(describeDataProgress({ ...fill, phase: 'restore', held: 'paused', estimated: null, slowedBy: [] })).toBe('restore 12,345 keys, held: paused; batch 1,800 keys, 48 ms');
  });

  it('writes durations the short way', () => {
    expect([formatDuration(12), formatDuration(245), formatDuration(3_725)]).toEqual(['12s', '4m05s', '1h02m']);
  });

  it('prints a plain line at most every interval when not on a terminal', () => {
    const lines: string[] = [];
    const view = new DataProgressView((l) => lines.push(l), null, 10_000);
    view.update('2. backfill items.v', fill, 100_000);
    view.update('2. backfill items.v', { ...fill, rows: 20_000 }, 105_000);
    view.update('2. backfill items.v', { ...fill, rows: 30_000 }, 110_000);
    expect(lines).toEqual([
      '  step 2. backfill items.v: fill 12,345 of ~40,000 rows (30%), 2,100 rows/s, ETA 13s; batch 1,800 rows, 48 ms, slowed by yield',
      '  step 2. backfill items.v: fill 30,000 of ~40,000 rows (75%), 2,100 rows/s, ETA 13s; batch 1,800 rows, 48 ms, slowed by yield',
    ]);
  });
});
