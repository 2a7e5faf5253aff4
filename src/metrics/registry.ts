/**
 * Godwit's Prometheus metrics (prom-client), recorded on the worker: the activities are where a
 * run's work happens and workflows may do no I/O. src/metrics/interceptor.ts records most of them
 * around each activity; batched data steps report their rows from activities/pacing.ts. The
 * metrics are recorded whether or not they are served (`godwit worker --metrics`: server.ts).
 *
 * Counters are per worker process, as Prometheus expects: sum them over the fleet with sum().
 * The runs waiting for a person are a count of Temporal's visibility store, the same on every
 * worker: take max() of it, not sum().
 */
import { Context } from '@temporalio/activity';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'godwit_' });

/** Set by the metrics server (server.ts): counts the waiting runs when Prometheus scrapes. */
let countWaiting: (() => Promise<void>) | null = null;
export function countWaitingWith(fn: (() => Promise<void>) | null): void {
  countWaiting = fn;
}

/** Seconds, from a sub-second DDL statement to a backfill of hours. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400];

export const metrics = {
  started: new Counter({ name: 'godwit_migrations_started_total', help: 'Migrations that took their target and began (already-applied ones not counted)', labelNames: ['target'], registers: [registry] }),
  ended: new Counter({
    name: 'godwit_migrations_ended_total',
    help: 'Migrations that ended, by outcome: applied, rolled_back, rejected, resolved_manually',
    labelNames: ['target', 'outcome'],
    registers: [registry],
  }),
  rollbacks: new Counter({
    name: 'godwit_rollbacks_total',
    help: 'Rollbacks that finished, by result: rolled_back (proven) or rollback_failed (a person is needed); a retried rollback counts again',
    labelNames: ['target', 'result'],
    registers: [registry],
  }),
  proofs: new Counter({ name: 'godwit_rollback_proofs_total', help: 'Rollback proofs, by result: passed or failed', labelNames: ['target', 'result'], registers: [registry] }),
  stepSeconds: new Histogram({
    name: 'godwit_step_duration_seconds',
    help: 'Forward steps, from the start of the activity attempt to its end, by operation kind and result (done, failed)',
    labelNames: ['target', 'kind', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  }),
  compensationSeconds: new Histogram({
    name: 'godwit_compensation_duration_seconds',
    help: 'Compensations (a step undone), by operation kind and result (done, failed)',
    labelNames: ['target', 'kind', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  }),
  rollbackSeconds: new Histogram({
    name: 'godwit_rollback_duration_seconds',
    help: "Rollbacks, from the audit log's FAIL (or RETRY_ROLLBACK) entry to the recorded end, by result",
    labelNames: ['target', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  }),
  backfillRows: new Counter({ name: 'godwit_backfill_rows_total', help: 'Rows written by batched data steps, by phase: fill (backfill, online type change) or restore', labelNames: ['target', 'phase'], registers: [registry] }),
  backfillRate: new Gauge({
    name: 'godwit_backfill_rows_per_second',
    help: 'Rows per second of the batched data step running now, per migration (gone when the step ends)',
    labelNames: ['target', 'migration', 'phase'],
    registers: [registry],
  }),
  leaseWaits: new Counter({
    name: 'godwit_lease_waits_total',
    help: "Attempts to take a target's lease that found another migration holding it",
    labelNames: ['target'],
    registers: [registry],
  }),
  waiting: new Gauge({
    name: 'godwit_runs_waiting_for_person',
    help: "Open migration runs waiting for a person, by state (awaiting_approval, rollback_failed), counted in Temporal's visibility store at scrape time",
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      await countWaiting?.();
    },
  }),
};

/** The target and migration of the running activity's workflow (`godwit/<target>/<migration id>`), or null outside one. */
export function currentRun(): { target: string; migration: string } | null {
  let workflowId: string;
  try {
    const id = Context.current().info.workflowExecution?.workflowId;
    if (id === undefined) return null;
    workflowId = id;
  } catch {
    return null; // library use outside an activity
  }
  const m = /^godwit\/([^/]+)\/(.+)$/.exec(workflowId);
  return m ? { target: m[1]!, migration: m[2]! } : null;
}

/** A committed batch of a data step: its rows, and the step's rate over the last seconds. */
export function recordBatch(phase: 'fill' | 'restore', rows: number, perSecond: number | null): void {
  const run = currentRun();
  if (!run) return;
  metrics.backfillRows.inc({ target: run.target, phase }, rows);
  if (perSecond !== null) metrics.backfillRate.set({ target: run.target, migration: run.migration, phase }, perSecond);
}

/** The data step's activity ended: its rate is no longer a current one. */
export function clearBatchRate(target: string, migration: string): void {
  for (const phase of ['fill', 'restore']) metrics.backfillRate.remove({ target, migration, phase });
}
