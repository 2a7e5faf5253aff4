/**
 * A probe's samples and when it fires. Pure and deterministic: the workflow keeps this state
 * and replays it from the samples recorded in its history.
 */
import { durationMs } from '../manifest/types';
import { describeCondition, parseCondition } from './condition';
import { DEFAULT_TIMEOUT, SAMPLES_KEPT, type HealthPolicy, type HealthProgress, type Probe, type ProbeEvidence, type ProbeProgress, type ProbeSample, type ProbeSource, type SampleResult } from './types';

/** How long one sample of the probe may take: its timeout, else 5s or its interval when shorter. */
export function sampleTimeoutMs(probe: Pick<Probe, 'timeout' | 'interval'>): number {
  return probe.timeout !== undefined ? durationMs(probe.timeout)! : Math.min(durationMs(DEFAULT_TIMEOUT)!, durationMs(probe.interval)!);
}

/** `fails when > 0.02`, `fails unless status 200 or 204 within 500ms, or when $.status != "ok"`. */
export function conditionText(probe: Probe): string {
  if (probe.kind !== 'http') return `fails when ${describeCondition(parseCondition(probe.fail_when))}${probe.kind === 'prometheus' && probe.on_empty === 'pass' ? ' (an empty result passes)' : ''}`;
  const parts = [`fails unless status ${probe.expect_status ? probe.expect_status.join(' or ') : '2xx'}${probe.max_latency ? ` within ${probe.max_latency}` : ''}`];
  if (probe.field !== undefined && probe.fail_when !== undefined) parts.push(`or when ${probe.field} ${describeCondition(parseCondition(probe.fail_when))}`);
  return parts.join(', ');
}

export function startProbe(probe: Probe & { source: ProbeSource }): ProbeProgress {
  return {
    name: probe.name,
    kind: probe.kind,
    source: probe.source,
    condition: conditionText(probe),
    interval: probe.interval,
    consecutive: probe.consecutive,
    min_samples: probe.min_samples ?? probe.consecutive,
    samples: [],
    taken: 0,
    failedInARow: 0,
    firedAt: null,
    firings: 0,
  };
}

/** Keeps the sample (the last SAMPLES_KEPT of them) and counts it, unless it was never taken. */
export function recordSample(p: ProbeProgress, n: number, result: SampleResult, counted: boolean): ProbeSample {
  const sample: ProbeSample = { ...result, n, counted };
  p.samples.push(sample);
  if (p.samples.length > SAMPLES_KEPT) p.samples.splice(0, p.samples.length - SAMPLES_KEPT);
  if (counted) {
    p.taken++;
    p.failedInARow = result.ok ? 0 : p.failedInARow + 1;
  }
  return sample;
}

/** A probe fires once it has its min_samples and its last `consecutive` counted samples all failed. */
export function shouldFire(p: ProbeProgress): boolean {
  return p.taken >= p.min_samples && p.failedInARow >= p.consecutive;
}

/** Whether the probe has taken enough samples for the bake to end. */
export function hasEnoughSamples(p: ProbeProgress): boolean {
  return p.taken >= p.min_samples;
}

export function fire(p: ProbeProgress, at: string, onUnhealthy: HealthPolicy['on_unhealthy']): ProbeEvidence {
  p.firedAt = at;
  p.firings++;
  return {
    probe: p.name,
    kind: p.kind,
    source: p.source,
    condition: p.condition,
    consecutive: p.consecutive,
    min_samples: p.min_samples,
    firedAt: at,
    firing: p.firings,
    onUnhealthy,
    samples: p.samples.filter((s) => s.counted).slice(-Math.max(p.consecutive, 5)),
  };
}

function showValue(s: ProbeSample): string {
  return s.value === null ? s.detail : typeof s.value === 'string' ? JSON.stringify(s.value) : String(s.value);
}

/** The rollback reason: the probe, its condition, and the failed samples that made it fire. */
export function firingReason(e: ProbeEvidence): string {
  const failed = e.samples.slice(-e.consecutive).map((s) => `#${s.n} ${showValue(s)}`);
  return `health probe '${e.probe}' (${e.kind}, ${e.condition}) fired at ${e.firedAt} after ${e.consecutive} failed sample(s) in a row: ${failed.join('; ')}`;
}

/** A dismissed alarm starts over: every probe needs `consecutive` new failures to fire again. */
export function resetStreaks(probes: ProbeProgress[]): void {
  for (const p of probes) p.failedInARow = 0;
}

/** Lines for the Temporal UI's current details and `godwit status`. */
export function describeProbe(p: ProbeProgress): string {
  const last = p.samples.slice(-5).map((s) => (s.counted ? (s.ok ? '✓' : '✗') : '·') + (s.value === null ? '' : ` ${typeof s.value === 'number' ? Number(s.value.toPrecision(6)) : String(s.value)}`));
  const state = p.firedAt ? `FIRED at ${p.firedAt}` : `${p.failedInARow}/${p.consecutive} failed in a row`;
  const lastDetail = p.samples.at(-1);
  return `probe ${p.name} (${p.kind}, ${p.condition}): ${p.taken} sample(s), ${state}; last: ${last.join(', ') || 'none yet'}${lastDetail && !lastDetail.ok ? ` — ${lastDetail.detail}` : ''}`;
}

/** The health part of the run's details: the window, the deadline, each probe, a pending question. */
export function describeHealth(h: HealthProgress): string[] {
  const lines: string[] = [];
  const head = [`on_unhealthy: ${h.onUnhealthy}`];
  if (h.bakeEndsAt) head.push(`bake ends ${h.bakeEndsAt}`);
  if (h.deadline) head.push(`max_duration ends ${h.deadline}`);
  lines.push(`health: ${head.join('; ')}`);
  for (const n of h.notes) lines.push(`  policy: ${n}`);
  for (const p of h.probes) lines.push(`  ${describeProbe(p)}`);
  if (h.asking) lines.push(`  WAITING for a person since ${h.asking.since} (probe ${h.asking.probe}): \`godwit rollback\` confirms, \`godwit approve\` dismisses; rolls back at ${h.asking.until} without an answer`);
  for (const d of h.dismissals) lines.push(`  dismissed by ${d.by} at ${d.at}${d.note ? `: ${d.note}` : ''}`);
  return lines;
}
