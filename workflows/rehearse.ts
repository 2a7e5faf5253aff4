import { ActivityFailure, CancellationScope, ChildWorkflowFailure, defineQuery, proxyActivities, setCurrentDetails, setHandler, startChild } from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';
import { MigrationState } from '../src/lifecycle/states';
import { describeRestore, type MigrationInput, type MigrationProgress, type MigrationResult } from '../src/contract/migration';
import { GodwitMigrationIdKey, GodwitStateKey, GodwitTargetKey } from '../src/contract/messages';
import { migrationWorkflow } from './migration';
import { migrationResult } from '../src/contract/outcome';
import { REHEARSAL_QUERY, rehearsalWorkflowId, type RehearsalInput, type RehearsalManifest, type RehearsalReport, type RehearsalRow } from '../src/contract/rehearse';
import { isFinding, rehearsalDetails } from '../src/rehearse/table';

export const rehearsalQuery = defineQuery<RehearsalReport>(REHEARSAL_QUERY);

// Copying a big target takes a while and heartbeats; a copy that failed is started over.
const copyActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});
const planActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumAttempts: 3 },
});
// Watching a child lasts as long as the child; the heartbeat shows a dead worker.
const watchActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});
const cleanupActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** The check added to the last rehearsal run of a migration: a failure after its last step, so that step's inverse runs too. */
const FAIL_AFTER_LAST_STEP = { name: 'rehearsal: fail after the last step', sql: 'select false' };

function describeError(err: unknown): string {
  let e: unknown = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}

/** Milliseconds between the first transition of one kind and the first of another after it, from the run's own records. */
function between(progress: MigrationProgress, from: string, to: readonly string[]): number | null {
  const start = progress.transitions.find((t) => t.event === from);
  const end = progress.transitions.find((t) => to.includes(t.event) && (start === undefined || Date.parse(t.at) >= Date.parse(start.at)));
  if (!start || !end) return null;
  return Date.parse(end.at) - Date.parse(start.at);
}

/** What the rollback proof found different, one line each. */
function proofDifferences(progress: MigrationProgress): string[] {
  const proof = progress.rollback;
  if (!proof) return progress.reason ? [progress.reason] : [];
  const out = [...proof.differences];
  for (const r of proof.restores ?? []) if (!r.equal) out.push(`restore of ${r.source}: ${describeRestore(r)}`);
  for (const d of proof.data ?? []) if (!d.equal && !out.some((l) => l.includes(d.table))) out.push(`data of ${d.table} differs (${d.before.rows} rows before, ${d.after ? d.after.rows : 'table missing'} after)`);
  if (out.length === 0 && !proof.equal) out.push(progress.reason ?? 'the proof did not hold');
  return out;
}

/**
 * `godwit rehearse`: proves every rollback of the pending migrations on a scratch copy of the
 * target before they reach it. One child migrationWorkflow per (migration, step): a failure
 * injected after step k, expecting a proven rollback; then the migration in full, so the next
 * one starts from the state it expects. The scratch database is dropped at the end, whatever
 * happened, unless the rehearsal keeps it. The target is only read (by the copy).
 */
export async function rehearsalWorkflow(input: RehearsalInput): Promise<RehearsalReport> {
  const report: RehearsalReport = {
    target: input.target,
    rehearsalId: input.rehearsalId,
    scratchTarget: null,
    database: null,
    data: input.data,
    status: 'preparing',
    tables: [],
    applied: [],
    changed: [],
    notes: [],
    rows: [],
    notRun: [],
    kept: input.keep,
    copyMs: null,
  };
  setHandler(rehearsalQuery, () => report);
  const show = () => setCurrentDetails(rehearsalDetails(report));
  show();

  // The scratch database is dropped whatever happened (a copy that failed half-way, a
  // cancellation), unless kept; a failed cleanup never hides the error that came first.
  const cleanup = async () => {
    show();
    if (input.keep) return;
    await CancellationScope.nonCancellable(() =>
      cleanupActivities.dropScratch.executeWithOptions({ summary: `drop the scratch database of ${input.rehearsalId}` }, [{ target: input.target, rehearsalId: input.rehearsalId }]),
    );
  };
  try {
    await rehearseAll(input, report, show);
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
  await cleanup();
  return report;
}

async function rehearseAll(input: RehearsalInput, report: RehearsalReport, show: () => void): Promise<void> {
  const prepared = await copyActivities.prepareRehearsal.executeWithOptions({ summary: `copy ${input.target} into a scratch database (${input.data.kind})` }, [
    { target: input.target, rehearsalId: input.rehearsalId, manifests: input.manifests.map((m) => ({ id: m.id, checksum: m.checksum })), data: input.data },
  ]);
  Object.assign(report, { scratchTarget: prepared.scratchTarget, database: prepared.database, tables: prepared.tables, applied: prepared.applied, changed: prepared.changed, notes: prepared.notes, copyMs: prepared.ms });
  if (prepared.changed.length > 0) {
    report.status = 'drift';
    return;
  }
  report.status = 'running';
  show();
  const pending = input.manifests.filter((m) => !prepared.applied.includes(m.id));
  for (const [i, m] of pending.entries()) {
    const ok = await rehearseOne(input, report, prepared.scratchTarget, m, show);
    if (!ok) {
      report.notRun = pending.slice(i + 1).map((p) => p.id);
      break;
    }
  }
  report.status = report.rows.some(isFinding) ? 'problems' : 'proven';
}

/** All runs of one migration; false when the copy is left in a state the next migration cannot start from. */
async function rehearseOne(input: RehearsalInput, report: RehearsalReport, scratch: string, m: RehearsalManifest, show: () => void): Promise<boolean> {
  const plan = await planActivities.planOnTarget.executeWithOptions({ summary: `plan ${m.id} on the scratch copy` }, [
    { target: scratch, manifests: [{ id: m.id, checksum: m.rehearsal.checksum, manifest: m.rehearsal.manifest }] },
  ]);
  const outcome = plan.migrations[0];
  const base = (afterStep: number | null, summary: string, workflowId: string): RehearsalRow => ({ migrationId: m.id, afterStep, summary, workflowId, outcome: 'failed', forwardMs: null, rollbackMs: null, differences: [] });
  if (!outcome || outcome.status !== 'planned') {
    const why = outcome?.status === 'error' ? `${outcome.error.path}: ${outcome.error.message}` : `plan ended ${outcome?.status ?? 'empty'}`;
    report.rows.push({ ...base(null, 'plan', ''), differences: [`does not plan on the copy: ${why}`] });
    show();
    return false;
  }
  const steps = outcome.steps;
  for (let k = 1; k <= steps.length; k++) {
    const row = await runChild(input, scratch, m, k, steps.length, steps[k - 1]!.summary);
    report.rows.push(row);
    show();
    if (row.outcome !== 'proven') return false;
  }
  const full = await runChild(input, scratch, m, null, steps.length, `all ${steps.length} step(s)`);
  report.rows.push(full);
  show();
  return full.outcome === 'applied';
}

/**
 * One child run on the scratch target. A rollback that cannot be proven leaves the child open
 * in rollback_failed, waiting for a human: a watcher activity sees that state, the row records
 * it, and the child is cancelled (the scratch copy is dropped anyway).
 */
async function runChild(input: RehearsalInput, scratch: string, m: RehearsalManifest, afterStep: number | null, steps: number, summary: string): Promise<RehearsalRow> {
  const workflowId = `${rehearsalWorkflowId(input.target, input.rehearsalId)}/${m.id}/${afterStep === null ? 'apply' : `fail-after-${afterStep}`}`;
  const r = m.rehearsal;
  const childInput: MigrationInput = {
    target: scratch,
    migrationId: m.id,
    description: r.description,
    manifest: r.manifest,
    checksum: r.checksum,
    requestedBy: input.requestedBy,
    checks: afterStep !== null && afterStep === steps ? [...r.checks, FAIL_AFTER_LAST_STEP] : r.checks,
    policy: { ...r.policy, approval: 'never', bake_seconds: 0 },
    ...(afterStep !== null && afterStep < steps ? { faults: { failAtStep: afterStep + 1 } } : {}),
  };
  const row: RehearsalRow = { migrationId: m.id, afterStep, summary, workflowId, outcome: 'failed', forwardMs: null, rollbackMs: null, differences: [] };
  const scope = new CancellationScope();
  let progress: MigrationProgress;
  try {
    const child = await scope.run(() =>
      startChild(migrationWorkflow, {
        workflowId,
        args: [childInput],
        typedSearchAttributes: [
          { key: GodwitTargetKey, value: scratch },
          { key: GodwitMigrationIdKey, value: m.id },
          { key: GodwitStateKey, value: MigrationState.planned },
        ],
        staticSummary: `rehearsal of ${m.id}: ${afterStep === null ? 'apply in full' : `fail after step ${afterStep} of ${steps}`}`,
      }),
    );
    const seen = await watchActivities.awaitRehearsalChild.executeWithOptions({ summary: `watch ${workflowId}` }, [{ workflowId }]);
    if (seen?.state === 'rollback_failed') {
      progress = seen;
      scope.cancel();
      await child.result().catch(() => undefined);
    } else {
      // a child that rolled back fails with its result (godwit-failed-outcomes): read either end
      const result: MigrationResult = await migrationResult(child.result());
      progress = result;
    }
  } catch (err) {
    row.differences = [describeError(err)];
    return row;
  }
  row.differences = proofDifferences(progress);
  if (afterStep === null) {
    row.forwardMs = between(progress, 'START', ['BAKE_PASSED', 'FAIL']);
    if (progress.state === 'applied') {
      row.outcome = 'applied';
      row.differences = [];
    } else {
      row.outcome = 'not_applied';
      row.rollbackMs = between(progress, 'FAIL', ['ROLLBACK_VERIFIED', 'ROLLBACK_FAILED']);
      row.differences = [`does not apply to the copy: ${progress.reason ?? progress.state}`, ...(progress.state === 'rolled_back' ? [] : proofDifferences(progress))];
    }
    return row;
  }
  row.forwardMs = between(progress, 'START', ['FAIL', 'BAKE_PASSED']);
  row.rollbackMs = between(progress, 'FAIL', ['ROLLBACK_VERIFIED', 'ROLLBACK_FAILED']);
  if (progress.state === 'rolled_back') {
    row.outcome = 'proven';
    row.differences = [];
  } else if (progress.state === 'applied') {
    row.outcome = 'fault_missed';
    row.differences = ['the injected failure did not happen: the migration was applied'];
  } else {
    row.outcome = 'not_proven';
  }
  return row;
}
