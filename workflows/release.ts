import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
  type Workflow,
} from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';
import { migrationWorkflowId, WORKFLOW_TYPE } from '../src/contract/migration';
import type { migrationWorkflow } from './migration';
import type { revertWorkflow } from './revert';
import { GodwitMigrationIdKey, GodwitStateKey, GodwitTargetKey } from '../src/contract/messages';
import { REVERT_WORKFLOW_TYPE, revertWorkflowId } from '../src/contract/revert';
import { readMigrationChild, readRevertChild, type Settled } from '../src/contract/child-outcome';
import { describeRelease } from './release-summary';
import { haltReleaseSignal, releaseStateQuery } from '../src/contract/release-messages';
import { RELEASE_OUTCOME_FAILURE_TYPE, type AwaitParkedResult, type ReleaseCarry, type ReleaseInput, type ReleaseManifest, type ReleaseOutcome, type ReleaseProgress, type ReleaseResult, type ReleaseState, type ReleaseTarget } from '../src/contract/release';

const checkActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 2 },
});
// A child's watcher lives as long as the child: through bake windows and approvals.
const watchActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '365 days',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

const DEFAULT_CHILDREN_PER_RUN = 500;

/**
 * Releases from before it completed whatever the outcome; with it, a release that does not end
 * applied (halted and rolled back, a target left to a person, or failed targets below the
 * threshold) fails with its ReleaseResult as the failure's detail (src/contract/outcome.ts reads it).
 */
const RELEASE_FAILED_OUTCOMES_PATCH = 'godwit-release-failed-outcomes';

/** A child's end, or the state it waits for a person in. */
type ChildEnd<T> = { kind: 'closed'; settled: Settled<T> } | { kind: 'parked'; state: string };

/**
 * One migration (or a directory of them) across a fleet: each target's runs are children
 * (`godwit/<target>/<id>`, so a target's history stays in one place), the canaries first and
 * through their bake window, then the rest, at most max_parallel at once, the next starting as
 * soon as one ends. When the failures reach the threshold (or a canary fails) no new target
 * starts, and every target this release applied is reverted (revert children), newest first.
 * A target whose rollback or revert waits for a person is named and never holds up the others.
 * After `childrenPerRun` children the release continues as new, carrying its state.
 */
export async function releaseWorkflow(input: ReleaseInput, carry?: ReleaseCarry): Promise<ReleaseResult> {
  const ids = input.manifests.map((m) => m.input.migrationId);
  const progress: ReleaseProgress = carry?.progress ?? {
    fleet: input.fleet,
    migrationIds: ids,
    state: 'checking',
    reason: null,
    failureThreshold: input.failureThreshold,
    maxParallel: input.maxParallel,
    targets: input.targets.map((target) => ({
      target,
      canary: input.canaries.includes(target),
      status: 'pending',
      applied: [],
      failed: false,
      workflowId: null,
      appliedSeq: null,
      reason: null,
      proofs: [],
    })),
    run: 0,
  };
  progress.run++;
  let seq = carry?.seq ?? 0;
  let childrenThisRun = 0;
  let inFlight = 0;
  const childrenPerRun = input.childrenPerRun ?? DEFAULT_CHILDREN_PER_RUN;
  const parkPollMs = input.parkPollMs ?? 1_000;
  const halted = () => progress.state === 'halted' || progress.state === 'rolling_back';

  setHandler(releaseStateQuery, () => progress);
  setHandler(haltReleaseSignal, ({ by, reason }) => halt(`halted by ${by}${reason ? `: ${reason}` : ''}`));

  const show = () => setCurrentDetails(describeRelease(progress));
  function setState(state: ReleaseState): void {
    if (progress.state === state) return;
    log.info('release', { from: progress.state, to: state });
    progress.state = state;
    upsertSearchAttributes([{ key: GodwitStateKey, value: state }]);
    show();
  }
  function halt(reason: string): void {
    if (halted() || !['checking', 'canary', 'rolling_out'].includes(progress.state)) return;
    progress.reason = reason;
    setState('halted');
  }
  function noteFailure(entry: ReleaseTarget): void {
    entry.failed = true;
    const failures = progress.targets.filter((t) => t.failed).length;
    if (entry.canary) halt(`canary ${entry.target} failed: ${entry.reason}`);
    else if (failures >= input.failureThreshold) halt(`${failures} target(s) failed, the threshold is ${input.failureThreshold} (last: ${entry.target}: ${entry.reason})`);
  }

  /** Waits for a child to close, or to park in one of `parkStates` (a person's turn): the watcher activity tells. */
  async function awaitChild<T>(handle: Pick<ChildWorkflowHandle<Workflow>, 'workflowId' | 'firstExecutionRunId'> & { result(): Promise<T> }, parkStates: string[]): Promise<ChildEnd<T>> {
    const result: Promise<Settled<T>> = handle.result().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const scope = new CancellationScope();
    let parked: AwaitParkedResult | null = null;
    const watch = scope
      .run(() => watchActivities.awaitParked.executeWithOptions({ summary: `watch ${handle.workflowId}` }, [{ workflowId: handle.workflowId, runId: handle.firstExecutionRunId, states: parkStates, pollMs: parkPollMs }]))
      .then(
        (r) => {
          parked = r;
        },
        () => undefined, // cancelled once the child closed, or gave up: the result still settles it
      );
    const first = await Promise.race([result.then(() => 'closed' as const), watch.then(() => 'watched' as const)]);
    if (first === 'closed') {
      scope.cancel();
      return { kind: 'closed', settled: await result };
    }
    const p = parked as AwaitParkedResult | null;
    if (p && !p.closed && p.state !== null) return { kind: 'parked', state: p.state };
    return { kind: 'closed', settled: await result };
  }

  async function applyOn(entry: ReleaseTarget, m: ReleaseManifest): Promise<ReturnType<typeof readMigrationChild> | { kind: 'parked'; reason: string }> {
    const id = m.input.migrationId;
    const workflowId = migrationWorkflowId(entry.target, id);
    entry.workflowId = workflowId;
    childrenThisRun++;
    const faults = input.faults?.find((f) => f.target === entry.target)?.faults;
    let handle;
    try {
      handle = await startChild<typeof migrationWorkflow>(WORKFLOW_TYPE, {
        workflowId,
        args: [{ ...m.input, target: entry.target, ...(faults ? { faults } : {}) }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        typedSearchAttributes: [
          { key: GodwitTargetKey, value: entry.target },
          { key: GodwitMigrationIdKey, value: id },
          { key: GodwitStateKey, value: 'planned' },
        ],
        staticSummary: `${id} → ${entry.target}${progress.fleet ? ` (fleet ${progress.fleet})` : ''}: ${m.input.description || `${m.planLines.length} steps`}`,
        staticDetails: [`**${id}** on \`${entry.target}\`, requested by ${input.requestedBy}, part of release ${workflowInfo().workflowId}`, m.input.description, `checksum \`${m.input.checksum}\``, '', ...m.planLines].join('\n'),
      });
    } catch (err) {
      return { kind: 'failed', reason: `could not start ${workflowId}: ${(err as Error).message}`, type: (err as Error).name };
    }
    const end = await awaitChild(handle, ['rollback_failed']);
    if (end.kind === 'parked') {
      return { kind: 'parked', reason: `${id} waits in ${end.state}: \`godwit retry-rollback ${id} --target ${entry.target}\` or \`godwit resolve ${id} --target ${entry.target} --note "..."\`` };
    }
    return readMigrationChild(end.settled);
  }

  /** Reverts what this release applied on the target, newest first (one revert run with --to). */
  async function revertOn(entry: ReleaseTarget): Promise<void> {
    const newest = entry.applied.at(-1)!;
    const oldest = entry.applied[0]!;
    entry.status = 'rolling_back';
    const workflowId = revertWorkflowId(entry.target, newest);
    entry.workflowId = workflowId;
    show();
    childrenThisRun++;
    const needsPerson = (reason: string) => {
      entry.status = 'needs_person';
      entry.reason = reason;
    };
    let handle;
    try {
      handle = await startChild<typeof revertWorkflow>(REVERT_WORKFLOW_TYPE, {
        workflowId,
        args: [{ target: entry.target, migrationId: newest, ...(oldest !== newest ? { to: oldest } : {}), requestedBy: input.requestedBy }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        typedSearchAttributes: [
          { key: GodwitTargetKey, value: entry.target },
          { key: GodwitMigrationIdKey, value: newest },
          { key: GodwitStateKey, value: 'revert_planned' },
        ],
        staticSummary: `revert ${newest}${oldest !== newest ? ` back to ${oldest}` : ''} on ${entry.target} (release rollback)`,
        staticDetails: `**revert** of ${entry.applied.join(', ')} on \`${entry.target}\`: release ${workflowInfo().workflowId} rolls back`,
      });
    } catch (err) {
      needsPerson(`could not start the revert ${workflowId}: ${(err as Error).message}; revert it with \`godwit revert ${newest} --target ${entry.target}${oldest !== newest ? ` --to ${oldest}` : ''}\``);
      return;
    }
    const end = await awaitChild(handle, ['revert_failed']);
    if (end.kind === 'parked') {
      needsPerson(`the revert of ${newest} waits in ${end.state}: \`godwit retry-rollback ${newest} --target ${entry.target} --revert\` or \`godwit resolve ${newest} --target ${entry.target} --revert --note "..."\``);
      return;
    }
    const reading = readRevertChild(end.settled);
    for (const p of reading.result?.proofs ?? []) {
      entry.proofs.push({ migrationId: p.migrationId, kind: 'revert', equal: p.equal, fingerprintBefore: p.fingerprintBefore, fingerprintAfter: p.fingerprintAfter, differences: p.differences.slice(0, 10) });
    }
    if (reading.kind === 'reverted') {
      entry.status = 'rolled_back';
      entry.applied = [];
    } else {
      needsPerson(`the revert of ${newest} ended ${reading.state}: ${reading.reason}`);
    }
  }

  /** A target's manifests in order; all or nothing: a failure reverts what the release applied here before it. */
  async function runTarget(entry: ReleaseTarget): Promise<void> {
    entry.status = 'running';
    show();
    for (const m of input.manifests) {
      const id = m.input.migrationId;
      // Halted meanwhile: the rest of this target's manifests do not start; what it has is reverted with the others.
      if (halted() && entry.applied.length > 0) break;
      const reading = await applyOn(entry, m);
      if (reading.kind === 'applied') {
        if (!reading.alreadyApplied) entry.applied.push(id);
        continue;
      }
      if (reading.kind === 'parked') {
        entry.status = 'needs_person';
        entry.reason = reading.reason + (entry.applied.length ? `; ${entry.applied.join(', ')} stay applied until then` : '');
        noteFailure(entry);
        return;
      }
      entry.reason = `${id}: ${reading.reason}`;
      if (reading.kind === 'not_applied' && reading.proof) {
        const p = reading.proof;
        entry.proofs.push({ migrationId: id, kind: 'rollback', equal: p.equal, fingerprintBefore: p.fingerprintBefore, fingerprintAfter: p.fingerprintAfter, differences: p.differences.slice(0, 10) });
      }
      if (reading.kind === 'needs_person') {
        entry.status = 'needs_person';
        noteFailure(entry);
        return;
      }
      noteFailure(entry); // halts first, so that no new target starts while this one reverts
      if (entry.applied.length > 0) {
        const reason = entry.reason;
        await revertOn(entry);
        if ((entry.status as ReleaseTarget['status']) === 'rolled_back') entry.reason = reason;
      } else {
        entry.status = reading.kind === 'failed' ? 'failed' : 'rolled_back';
      }
      return;
    }
    entry.status = 'applied';
    entry.appliedSeq = ++seq;
  }

  /** Carries the release into a new run once enough children started here (and none runs now). */
  async function maybeContinueAsNew(): Promise<void> {
    if (childrenThisRun < childrenPerRun && !workflowInfo().continueAsNewSuggested) return;
    await condition(() => inFlight === 0);
    show();
    await continueAsNew<typeof releaseWorkflow>(input, { progress, seq });
  }

  /** Runs `work` for each entry, at most max_parallel at once, the next as soon as one ends; stops starting when `stop()` says so. */
  async function slidingWindow(entries: ReleaseTarget[], work: (e: ReleaseTarget) => Promise<void>, stop: () => boolean): Promise<void> {
    let laneError: unknown = null;
    for (const entry of entries) {
      await condition(() => inFlight < input.maxParallel || stop() || laneError !== null);
      if (stop() || laneError !== null) break;
      await maybeContinueAsNew();
      inFlight++;
      void work(entry)
        .catch((err: unknown) => {
          laneError ??= err;
        })
        .finally(() => {
          inFlight--;
          show();
        });
    }
    await condition(() => inFlight === 0);
    if (laneError !== null) throw laneError;
  }

  show();
  if (progress.state === 'checking') {
    const { unreachable } = await checkActivities.checkTargets.executeWithOptions({ summary: `reach all ${input.targets.length} targets` }, [{ targets: input.targets }]);
    if (unreachable.length > 0) {
      const list = unreachable.map((u) => `${u.target} (${u.reason})`).join('; ');
      throw ApplicationFailure.create({
        type: 'TargetsUnreachable',
        nonRetryable: true,
        message: `the release touched no target: ${unreachable.length} of ${input.targets.length} cannot be reached: ${list}. Fix them${input.fleet ? ` or take them out of fleet ${input.fleet} in godwit.yaml` : ''}, then apply again`,
        details: [unreachable],
      });
    }
    setState(progress.targets.some((t) => t.canary) ? 'canary' : 'rolling_out');
  }
  if (progress.state === 'canary') {
    await slidingWindow(progress.targets.filter((t) => t.canary && t.status === 'pending'), runTarget, halted);
    if (!halted()) setState('rolling_out');
  }
  if (progress.state === 'rolling_out') {
    await slidingWindow(progress.targets.filter((t) => t.status === 'pending'), runTarget, halted);
  }
  if (halted()) {
    for (const t of progress.targets) if (t.status === 'pending') t.status = 'not_started';
    setState('rolling_back');
    const applied = progress.targets.filter((t) => t.status === 'applied' && t.applied.length > 0).sort((a, b) => (b.appliedSeq ?? 0) - (a.appliedSeq ?? 0));
    await slidingWindow(applied, revertOn, () => false);
  }
  const needsPerson = progress.targets.some((t) => t.status === 'needs_person');
  const outcome: ReleaseOutcome = needsPerson ? 'rollback_failed' : halted() ? 'rolled_back' : progress.targets.some((t) => t.failed) ? 'partially_applied' : 'applied';
  if (outcome === 'rollback_failed' && !progress.reason) progress.reason = `a person is needed on ${progress.targets.filter((t) => t.status === 'needs_person').map((t) => t.target).join(', ')}`;
  setState(outcome);
  const result: ReleaseResult = { ...progress, outcome };
  if (outcome === 'applied' || !patched(RELEASE_FAILED_OUTCOMES_PATCH)) return result;
  const failed = progress.targets.filter((t) => t.failed).map((t) => `${t.target}: ${t.reason ?? t.status}`);
  throw ApplicationFailure.create({ message: `${outcome}: ${progress.reason ?? failed.join('; ')}`, type: RELEASE_OUTCOME_FAILURE_TYPE[outcome], nonRetryable: true, details: [result] });
}
