import type pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { parseScratchAlias } from '../src/rehearse/scratch-target';
import { checkFence } from '../src/db/lease';
import { quoteIdent } from '../src/db/ident';
import { bindSnapshots, countChangedSince, proveRestored, takeSnapshots, type SnapshotScope } from '../src/db/snapshots';
import { CAPTURE_SETTING, changeLogsOf, checkChanges, createChangeLogs, installCapture, removeCapture, type ChangeLog } from '../src/db/changes';
import { restoreFromLogs, toRecords } from './restore';
import { proveUnretired, recordRetired } from '../src/db/retired';
import { recordRestore } from '../src/db/restores';
import type { CatalogProbe, SqlAction } from '../src/operations/types';
import type { StepInput, StepResult } from '../src/contract/migration';
import { type ActivityDeps, inTransaction, resetTimeouts, setTimeouts, withTarget } from './context';
import { InjectedFault, IrreversibleStepError } from './errors';
import { executeBatched } from './backfill';
import { keepTransitions, markCompensated, markForwardDone, readLedger, recordTransitions } from './ledger';

/** work_mem for the transaction of a compensation that restores from snapshots. */
const RESTORE_WORK_MEM = process.env.GODWIT_RESTORE_WORK_MEM ?? '256MB';

function isTransactional(actions: readonly SqlAction[]): boolean {
  return actions.every((a) => a.transactional);
}

async function probeSatisfied(client: pg.ClientBase, probe: CatalogProbe): Promise<{ satisfied: boolean; invalid: boolean }> {
  const { rows } = await client.query<{ valid: boolean }>(
    `select i.indisvalid as valid from pg_index i
       join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2`,
    [probe.schema, probe.name],
  );
  const exists = rows.length > 0;
  const valid = rows[0]?.valid === true;
  if (probe.kind === 'index_exists') return { satisfied: exists && valid, invalid: exists && !valid };
  return { satisfied: !exists, invalid: false };
}

async function runActions(client: pg.ClientBase, actions: readonly SqlAction[], scope?: SnapshotScope): Promise<void> {
  for (const action of actions) await client.query(scope ? bindSnapshots(action.sql, scope) : action.sql);
}

async function maybeInjectFault(client: pg.ClientBase, input: StepInput, phase: 'forward' | 'inverse'): Promise<void> {
  const f = input.faults;
  if (!f) return;
  const index = input.step.index;
  if (phase === 'forward' && f.sleepAtStep?.step === index) {
    await client.query('select pg_sleep($1)', [f.sleepAtStep.ms / 1000]);
  }
  if (phase === 'forward' && f.failAtStep === index) throw new InjectedFault(`injected failure at step ${index}`);
  if (phase === 'inverse' && f.failCompensationOfStep === index) throw new InjectedFault(`injected failure compensating step ${index}`);
}

/**
 * The forward side of a step whose change logs are kept by capture triggers (an sql step
 * without a down): the triggers go in before it, in a short transaction of their own under
 * the policy's lock_timeout, and come out after it, whether it committed or not. They record
 * only the step's own transaction, which sets `godwit.capture` to the step's tag.
 */
async function withCapture<T>(client: pg.ClientBase, input: StepInput, logs: readonly ChangeLog[], fn: (tag: string) => Promise<T>): Promise<T> {
  const scope: SnapshotScope = { migrationId: input.migrationId, runId: input.runId, stepId: input.step.id };
  const tag = `${input.runId}/${input.step.id}`;
  await inTransaction(client, input.policy, async () => {
    await checkFence(client, input.target, input.token);
    await createChangeLogs(client, scope, logs, input.policy.retention);
    await installCapture(client, tag, logs);
  });
  try {
    return await fn(tag);
  } finally {
    await inTransaction(client, input.policy, () => removeCapture(client, logs));
  }
}

/**
 * Runs one side (forward or inverse) of a planned step exactly once per run.
 * Transactional actions commit together with their ledger row, so a retry after a
 * crash sees either both or neither. Non-transactional actions (CONCURRENTLY) are
 * made idempotent by a catalog probe, and an INVALID index left by an interrupted
 * attempt is dropped before the retry.
 */
async function execute(client: pg.ClientBase, input: StepInput, phase: 'forward' | 'inverse', connect?: () => Promise<pg.PoolClient>): Promise<StepResult> {
  const started = Date.now();
  const { step, policy } = input;
  const actions = phase === 'forward' ? step.forward : step.inverse;
  if (actions === null) {
    throw new IrreversibleStepError(`step ${step.index} (${step.summary}) cannot be rolled back: ${step.inverseNote ?? 'it has no inverse'}`);
  }
  const alreadyDone = (row: { forward_done: boolean; compensated: boolean }) => (phase === 'forward' ? row.forward_done : row.compensated || !row.forward_done);
  const mark = phase === 'forward' ? () => markForwardDone(client, input, step.id, step.summary) : () => markCompensated(client, input, step.id);

  if (phase === 'forward' && step.batch?.update) {
    return executeBatched(client, input, connect);
  }
  const snapshotScope: SnapshotScope = { migrationId: input.migrationId, runId: input.runId, stepId: step.id };
  const snapshots = step.snapshots ?? [];
  const logs = changeLogsOf(snapshotScope, snapshots);
  const retire = step.retire ?? [];
  if (isTransactional(actions)) {
    if (alreadyDone(await readLedger(client, input.runId, step.id))) {
      // A retry of a step that committed: only the capture triggers may still need to go.
      if (phase === 'forward' && logs.some((l) => l.spec.capture === 'triggers')) await inTransaction(client, policy, () => removeCapture(client, logs));
      return { skipped: true, ms: Date.now() - started };
    }
    const restoring = logs.filter((l) => l.spec.proveOnly !== true);
    const proving = logs.filter((l) => l.spec.proveOnly === true);
    if (phase === 'inverse' && proving.length > 0) await inTransaction(client, policy, () => removeCapture(client, proving));
    const restoredFromLogs = phase === 'inverse' && restoring.length > 0 ? await restoreFromLogs(client, input, restoring) : [];
    const body = (tag: string | null) =>
      inTransaction(client, policy, async (): Promise<StepResult> => {
        await checkFence(client, input.target, input.token);
        const auditHead = await recordTransitions(client, input, input.audit);
        if (alreadyDone(await readLedger(client, input.runId, step.id))) return { skipped: true, ms: Date.now() - started, auditHead };
        if (tag !== null) await client.query(`select set_config('${CAPTURE_SETTING}', $1, true)`, [tag]);
        if (phase === 'forward' && snapshots.length > 0) await takeSnapshots(client, snapshotScope, snapshots, input.policy.retention);
        // A restore joins the table with its snapshot row by row: with the default 4MB the
        // hash join spills to disk (a 1M-row restore ran 20% faster with 256MB).
        if (phase === 'inverse' && snapshots.length > 0) await client.query(`select set_config('work_mem', $1, true)`, [RESTORE_WORK_MEM]);
        const changedSince = phase === 'inverse' ? await countChangedSince(client, snapshotScope, snapshots) : new Map<number, number>();
        await runActions(client, actions, snapshotScope);
        if (phase === 'forward' && retire.length > 0) await recordRetired(client, snapshotScope, retire, input.policy.retention);
        if (phase === 'inverse') {
          const proofs = [
            ...restoredFromLogs,
            ...(proving.length > 0 ? toRecords(input, proving, await checkChanges(client, proving)) : []),
            ...(snapshots.length > 0 ? await proveRestored(client, snapshotScope, snapshots, changedSince) : []),
          ];
          if (retire.length > 0) proofs.push(...(await proveUnretired(client, snapshotScope, retire)));
          for (const p of proofs) await recordRestore(client, input, p);
        }
        await maybeInjectFault(client, input, phase);
        await mark();
        return { skipped: false, ms: Date.now() - started, auditHead };
      });
    const watched = logs.filter((l) => l.spec.capture === 'triggers');
    try {
      if (phase === 'forward' && watched.length > 0) return await withCapture(client, input, watched, (tag) => body(tag));
      return await body(null);
    } catch (err) {
      await keepTransitions(client, input, err);
      throw err;
    }
  }
  // Non-transactional: fence and ledger first, then the statement on its own, then the ledger.
  const auditHead = await inTransaction(client, null, async () => {
    await checkFence(client, input.target, input.token);
    return recordTransitions(client, input, input.audit);
  });
  if (alreadyDone(await readLedger(client, input.runId, step.id))) return { skipped: true, ms: Date.now() - started, auditHead };
  const probe = phase === 'forward' ? step.probe : step.inverseProbe;
  let skipped = false;
  if (probe) {
    const state = await probeSatisfied(client, probe);
    if (state.invalid) await client.query(`drop index concurrently if exists ${quoteProbe(probe)}`);
    skipped = state.satisfied;
  }
  if (!skipped) {
    await setTimeouts(client, policy, false);
    try {
      await runActions(client, actions);
      await maybeInjectFault(client, input, phase);
    } catch (err) {
      // Leave nothing half-done behind: an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index.
      if (phase === 'forward' && step.inverse && !isTransactional(step.inverse)) {
        await runActions(client, step.inverse).catch(() => undefined);
      }
      throw err;
    } finally {
      await resetTimeouts(client).catch(() => undefined);
    }
  }
  await inTransaction(client, null, async () => {
    await checkFence(client, input.target, input.token);
    await mark();
  });
  return { skipped, ms: Date.now() - started, auditHead };
}

/** The inverse side of a step, under the ledger of `input.runId`: a rollback's compensation, or a revert of an applied run (activities/revert.ts). */
export function compensate(client: pg.ClientBase, input: StepInput): Promise<StepResult> {
  return execute(client, input, 'inverse');
}

function quoteProbe(p: CatalogProbe): string {
  return `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`;
}

/**
 * `faults` in a run's input are test hooks (a step made to fail, to sleep, an inverse made to
 * fail). A worker runs them only when it was started for tests (GODWIT_ALLOW_FAULTS=1: the test
 * suite, the benches), or on a rehearsal's scratch database, whose children fail on purpose;
 * anywhere else a run that carries them is refused before its step touches the database.
 */
export function refuseFaults(input: StepInput): void {
  const f = input.faults;
  if (!f || Object.keys(f).length === 0) return;
  if (process.env.GODWIT_ALLOW_FAULTS === '1' || parseScratchAlias(input.target) !== null) return;
  throw ApplicationFailure.nonRetryable(
    `step ${input.step.index}: the run's input carries fault injection (${Object.keys(f).join(', ')}), a test hook this worker does not run on '${input.target}'; ` +
      'start runs without `faults`, or start a test worker with GODWIT_ALLOW_FAULTS=1',
    'FaultsRefused',
  );
}

export function makeSteps(deps: ActivityDeps) {
  return {
    async runStep(input: StepInput): Promise<StepResult> {
      refuseFaults(input);
      return withTarget(deps, input.target, `step ${input.step.index} (${input.step.summary}) failed`, (client) => execute(client, input, 'forward', () => deps.pools.connect(input.target)));
    },
    async compensateStep(input: StepInput): Promise<StepResult> {
      refuseFaults(input);
      return withTarget(deps, input.target, `compensation of step ${input.step.index} (${input.step.summary}) failed`, (client) => execute(client, input, 'inverse'));
    },
  };
}
