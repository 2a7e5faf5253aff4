import type { DataProgress } from '../contract/migration';

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** `1h02m`, `4m05s`, `12s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Done share of the estimate, 0..1, or null when unknown (an estimate can be exceeded: capped at 1). */
export function fractionDone(p: DataProgress): number | null {
  if (p.estimated === null || p.estimated <= 0) return null;
  return Math.min(1, p.rows / p.estimated);
}

/**
 * One line for `godwit status` and `godwit apply --wait`:
 * `fill 12,345 of ~40,000 rows (31%), 2,100 rows/s, ETA 13s; batch 1,800 rows, 48 ms`.
 */
export function describeDataProgress(p: DataProgress): string {
  const what = p.phase === 'restore' ? 'restore' : 'fill';
  const unit = p.phase === 'restore' ? 'keys' : 'rows';
  const share = fractionDone(p);
  const parts = [`${what} ${n(p.rows)}${p.estimated === null ? '' : ` of ~${n(p.estimated)}`} ${unit}${share === null ? '' : ` (${Math.floor(share * 100)}%)`}`];
  if (p.held) parts.push(`held: ${p.held}`);
  else {
    if (p.perSecond !== null) parts.push(`${n(p.perSecond)} ${unit}/s`);
    if (p.etaSeconds !== null) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  }
  const batch = `batch ${n(p.batchSize)} ${unit}, ${p.lastBatchMs} ms${p.slowedBy.length > 0 ? `, slowed by ${p.slowedBy.join(' and ')}` : ''}`;
  return `${parts.join(', ')}; ${batch}`;
}
