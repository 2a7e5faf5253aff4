/**
 * Records Godwit's metrics around the activities that carry a migration's story, by what each
 * one's input and result say: no activity needs to know about metrics. Registered on every
 * worker (worker/index.ts); an attempt that fails is recorded as failed, and a retried one again.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { FinishInput, PrepareInput, PrepareResult, StepInput, VerifyInput, VerifyRollbackResult } from '../contract/migration';
import type { TargetPools } from '../db/pool';
import { clearBatchRate, metrics } from './registry';

/** Outcomes a run ends with (finishMigration's state). */
const ENDINGS = new Set(['applied', 'rolled_back', 'rejected', 'resolved_manually']);

function failureType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * How long the rollback that just ended took: from the audit log's entry of the failure that
 * started it (or of the operator's retry) to now, both by the database's clock, so whichever
 * worker ran which part of it the answer is the same. Null when the log cannot tell.
 */
async function rollbackSeconds(pools: TargetPools, input: FinishInput): Promise<number | null> {
  const client = await pools.connect(input.target);
  try {
    const { rows } = await client.query<{ seconds: number }>(
      `select extract(epoch from clock_timestamp() - at)::float8 as seconds from godwit.audit_log
        where run_id = $1 and event in ('FAIL', 'RETRY_ROLLBACK') order by seq desc limit 1`,
      [input.runId],
    );
    return rows[0]?.seconds ?? null;
  } finally {
    client.release();
  }
}

async function recordFinish(pools: TargetPools, input: FinishInput): Promise<void> {
  const { target, state } = input;
  if (ENDINGS.has(state)) metrics.ended.inc({ target, outcome: state });
  if (state === 'rolled_back' || state === 'rollback_failed') {
    metrics.rollbacks.inc({ target, result: state });
    const seconds = await rollbackSeconds(pools, input).catch(() => null);
    if (seconds !== null) metrics.rollbackSeconds.observe({ target, result: state }, seconds);
  }
}

/**
 * Every series of a target at zero, from its first migration on: a counter that appears at 1 has
 * no increase Prometheus can see, so a rate or a ratio (the rollback success rate) needs the zero
 * first (the Prometheus docs' advice for label values known in advance).
 */
function startSeries(target: string): void {
  for (const outcome of ENDINGS) metrics.ended.inc({ target, outcome }, 0);
  for (const result of ['rolled_back', 'rollback_failed']) metrics.rollbacks.inc({ target, result }, 0);
  for (const result of ['passed', 'failed']) metrics.proofs.inc({ target, result }, 0);
  for (const phase of ['fill', 'restore']) metrics.backfillRows.inc({ target, phase }, 0);
  metrics.leaseWaits.inc({ target }, 0);
}

export function metricsInterceptor(pools: TargetPools): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const type = ctx.info.activityType;
        const arg = input.args[0];
        const started = performance.now();
        const seconds = () => (performance.now() - started) / 1000;
        let result: unknown;
        try {
          result = await next(input);
        } catch (err) {
          if (type === 'prepareMigration' && failureType(err) === 'LeaseHeldError') metrics.leaseWaits.inc({ target: (arg as PrepareInput).target });
          if (type === 'runStep' || type === 'compensateStep') {
            const s = arg as StepInput;
            (type === 'runStep' ? metrics.stepSeconds : metrics.compensationSeconds).observe({ target: s.target, kind: s.step.kind, result: 'failed' }, seconds());
            clearBatchRate(s.target, s.migrationId);
          }
          throw err;
        }
        switch (type) {
          case 'prepareMigration':
            if (!(result as PrepareResult).alreadyApplied) {
              const { target } = arg as PrepareInput;
              startSeries(target);
              metrics.started.inc({ target });
            }
            break;
          case 'runStep':
          case 'compensateStep': {
            const s = arg as StepInput;
            (type === 'runStep' ? metrics.stepSeconds : metrics.compensationSeconds).observe({ target: s.target, kind: s.step.kind, result: 'done' }, seconds());
            clearBatchRate(s.target, s.migrationId);
            break;
          }
          case 'verifyRollback':
            metrics.proofs.inc({ target: (arg as VerifyInput).target, result: (result as VerifyRollbackResult).equal ? 'passed' : 'failed' });
            break;
          case 'finishMigration':
            // Its metrics must never fail the activity that recorded the run's end.
            await recordFinish(pools, arg as FinishInput).catch(() => undefined);
            break;
        }
        return result;
      },
    },
  });
}
