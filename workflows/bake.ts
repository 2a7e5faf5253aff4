/**
 * The bake window with health probes: a durable schedule of samples (one short activity each,
 * on workflow timers), the firing rule, and on_unhealthy (rollback at once, or ask a person).
 * Deterministic: no I/O here, only activities, timers and the pure code of src/health.
 */
import { condition, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';
import type { AuditEntry } from '../src/db/audit';
import type { LifecycleEvent, MigrationState } from '../src/lifecycle/states';
import { durationMs } from '../src/manifest/types';
import { fire, firingReason, hasEnoughSamples, recordSample, resetStreaks, sampleTimeoutMs, shouldFire } from '../src/health/tracker';
import type { HealthPolicy, HealthProgress, SampleResult } from '../src/health/types';
import type { AuditHeadResult, RunScope } from '../src/contract/migration';
import { describeError } from './activity-profiles';

// A sample is one evaluation with its own timeout inside; the activity's timeout only
// catches a lost worker. Never retried: the next sample is the retry.
const sampleActivities = proxyActivities<GodwitActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 1 } });
const recordActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

export interface Dismissal {
  by: string;
  note: string | null;
  signedWith: string | null;
}

/** What the bake needs of the migration workflow around it. */
export interface BakeHooks {
  scope: RunScope;
  token: string;
  health: HealthPolicy;
  progress: HealthProgress;
  /** Workflow time (ms) past which the run rolls back (max_duration, runs from before its timer), or null. */
  deadline: number | null;
  /** True once the max_duration timer fired (runs with the godwit-max-duration-timer patch). */
  maxDurationOver(): boolean;
  maxDurationReason(): string;
  /** The operator's rollback reason once one was asked for, else null. */
  operatorReason(): string | null;
  takeDismissal(): Dismissal | null;
  hasDismissal(): boolean;
  send(event: LifecycleEvent, actor?: string | null): void;
  noteSignature(signedWith: string | null | undefined): void;
  takeAudit(): AuditEntry[];
  keepAuditHead(result: AuditHeadResult): void;
  /** Records a waiting state (the lease is kept). */
  record(state: MigrationState): Promise<void>;
  changed(): void;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Bakes for the policy's bake_seconds (longer when a probe still lacks its min_samples).
 * Returns null when the bake passed, else why the migration must roll back.
 */
export async function bake(h: BakeHooks): Promise<string | null> {
  const { health, progress } = h;
  // The bake's own clock: read once, then moved only by the timers it waited out. Every
  // decision (which probe is due, whether the bake or max_duration is over) is taken on it, so
  // a replay takes the same ones whatever Date.now() says in a task that once timed out (a
  // worker killed while the task was on its sticky queue). Samples' own time is not counted:
  // a bake lasts bake_seconds plus the time its samples took.
  let clock = Date.now();
  const start = clock;
  const bakeEnd = start + health.bake_seconds * 1000;
  progress.bakeEndsAt = iso(bakeEnd);
  const nextDue = health.probes.map(() => start);
  const taken = health.probes.map(() => 0);
  h.changed();
  for (;;) {
    const asked = h.operatorReason();
    if (asked) return asked;
    const now = clock;
    if (h.maxDurationOver() || (h.deadline !== null && now >= h.deadline)) return h.maxDurationReason();
    if (now >= bakeEnd && progress.probes.every(hasEnoughSamples)) return null;
    const due = health.probes.flatMap((_, i) => (nextDue[i]! <= now ? [i] : []));
    if (due.length === 0) {
      const wake = Math.min(...nextDue, bakeEnd > now ? bakeEnd : Infinity, h.deadline ?? Infinity);
      if (!(await condition(() => h.operatorReason() !== null || h.maxDurationOver(), Math.max(1, wake - now)))) clock = Math.max(clock, wake);
      continue;
    }
    const results = await Promise.all(
      due.map(async (i) => {
        const probe = health.probes[i]!;
        const n = ++taken[i]!;
        nextDue[i] = now + durationMs(probe.interval)!;
        try {
          const r = await sampleActivities.sampleProbe.executeWithOptions(
            { summary: `probe ${probe.name} #${n}`, startToCloseTimeout: sampleTimeoutMs(probe) + 10_000, retry: { maximumAttempts: 1 } },
            [{ ...h.scope, probe, n }],
          );
          return { i, n, r, counted: true };
        } catch (err) {
          if (isCancellation(err)) throw err;
          // The activity itself failed (its worker was lost): no word on the target's health.
          const r: SampleResult = { at: iso(Date.now()), ok: false, value: null, detail: `not sampled: ${describeError(err)}`, ms: 0 };
          return { i, n, r, counted: false };
        }
      }),
    );
    for (const { i, n, r, counted } of results) recordSample(progress.probes[i]!, n, r, counted);
    h.changed();
    // An operator's rollback that came in meanwhile is theirs, not a probe's.
    if (h.operatorReason()) continue;
    const firing = progress.probes.find(shouldFire);
    if (!firing) continue;

    const evidence = fire(firing, iso(Date.now()), health.on_unhealthy);
    const reason = firingReason(evidence);
    h.keepAuditHead(
      await recordActivities.recordProbeFiring.executeWithOptions({ summary: `audit: probe ${firing.name} fired` }, [{ ...h.scope, token: h.token, audit: h.takeAudit(), evidence }]),
    );
    if (health.on_unhealthy === 'rollback') return reason;

    // ask: the run waits for a person; the probes rest meanwhile.
    const askEnd = clock + durationMs(health.ask_timeout)!;
    const until = Math.min(askEnd, h.deadline ?? Infinity);
    h.send({ type: 'UNHEALTHY', reason });
    progress.asking = { probe: firing.name, since: iso(Date.now()), until: iso(until) };
    h.changed();
    await h.record('unhealthy');
    const answered = await condition(() => h.operatorReason() !== null || h.hasDismissal() || h.maxDurationOver(), Math.max(1, until - clock));
    if (!answered) clock = Math.max(clock, until);
    progress.asking = null;
    const confirmed = h.operatorReason();
    if (confirmed) return `${confirmed} (confirming: ${reason})`;
    if (!answered) {
      if (until < askEnd) return `${h.maxDurationReason()} while waiting for a person (${reason})`;
      return `nobody confirmed or dismissed within ask_timeout ${health.ask_timeout}, so it rolls back: ${reason}`;
    }
    // Woken by the max_duration timer rather than by a person.
    if (!h.hasDismissal()) return `${h.maxDurationReason()} while waiting for a person (${reason})`;
    const d = h.takeDismissal()!;
    h.send({ type: 'DISMISS', by: d.by, ...(d.note ? { note: d.note } : {}) }, d.by);
    h.noteSignature(d.signedWith);
    progress.dismissals.push({ by: d.by, note: d.note, at: iso(Date.now()) });
    resetStreaks(progress.probes);
    await h.record('validated');
    for (let i = 0; i < nextDue.length; i++) nextDue[i] = clock;
    h.changed();
  }
}
