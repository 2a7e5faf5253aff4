import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { type LifecycleEvent, type MigrationState } from '../src/lifecycle/states';
import { startLifecycle, stateOf, step as stepMachine, type LifecycleSnapshot } from '../src/lifecycle/machine';
import { DEFAULT_APPROVAL_TIMEOUT } from '../src/lifecycle/approval';
import { durationMs } from '../src/manifest/types';
import type { AuditEntry } from '../src/db/audit';
import type { PlannedStep } from '../src/operations/types';
import { AUDIT_HEAD_MEMO, describeRestore, OUTCOME_FAILURE_TYPE, type AuditHeadResult, type MigrationInput, type MigrationOutcome, type MigrationProgress, type MigrationResult, type OperatorActionName, type OperatorRequest, type RunScope, type StepProgress } from '../src/contract/migration';
import { actionSubjectQuery, approveUpdate, rejectUpdate, resolveUpdate, retryRollbackSignal, rollbackSignal, rollbackUpdate, stateQuery, tuneUpdate, GodwitStateKey } from '../src/contract/messages';
import { changeText } from '../src/throttle/settings';
import { bake, type Dismissal } from './bake';
import { describeHealth, startProbe } from '../src/health/tracker';
import { authorizeActivities, describeError, prepareActivities, recordActivities, stepActivities } from './activity-profiles';

/** Runs from before signed operator actions replay their messages without authorizeAction. */
const SIGNED_ACTIONS_PATCH = 'godwit-signed-operator-actions';

/** Runs from before the audit head was kept in the memo replay without it. */
const AUDIT_HEAD_PATCH = 'godwit-audit-head-memo';

/** Runs from before health probes and max_duration bake as they did (only runs with a health policy take the marker). */
const HEALTH_PATCH = 'godwit-health-probes';

/**
 * Runs from before it completed whatever the outcome; with it, every outcome but applied fails
 * the run with its MigrationResult as the failure's detail, so the UI's list tells them apart.
 */
const FAILED_OUTCOMES_PATCH = 'godwit-failed-outcomes';

/**
 * Runs from before it decided max_duration on Date.now() at step boundaries and on the bake's
 * clock; with it, a timer started at the first step decides, so a replay can never take another
 * branch than the run took (see bake.ts). Only runs with a max_duration take the marker.
 */
const MAX_DURATION_TIMER_PATCH = 'godwit-max-duration-timer';

/** Thrown inside the workflow when the migration must roll back. */
class RollbackRequested extends Error {}

/**
 * One migration on one target: lease, plan, forward steps with a compensation
 * registered after each success, post checks, bake, applied. Any failure rolls
 * back last-in-first-out and proves it by comparing schema fingerprints; a
 * rollback that cannot be proven stays open in rollback_failed for a human.
 */
export async function migrationWorkflow(input: MigrationInput): Promise<MigrationResult> {
  const info = workflowInfo();
  const scope: RunScope = { target: input.target, migrationId: input.migrationId, workflowId: info.workflowId, runId: info.runId };

  let machine: LifecycleSnapshot = startLifecycle(input.migrationId);
  let pendingAudit: AuditEntry[] = [];
  const progress: MigrationProgress = {
    target: input.target,
    migrationId: input.migrationId,
    state: 'planned',
    currentStep: null,
    steps: [],
    transitions: [],
    reason: null,
    fingerprintBefore: null,
    fingerprintAfter: null,
    rollback: null,
    events: [],
  };
  // Messages from operators, read through functions so TypeScript does not narrow them across awaits.
  const inbox = {
    rollback: null as { by: string; reason?: string; signedWith?: string | null } | null,
    retry: false,
    resolution: null as { by: string; note: string; signedWith?: string | null } | null,
    approval: null as { by: string; signedWith?: string | null } | null,
    rejection: null as { by: string; reason?: string; signedWith?: string | null } | null,
    /** godwit approve while a firing probe asks (on_unhealthy: ask): the alarm is dismissed. */
    dismissal: null as Dismissal | null,
  };
  const rollbackRequested = () => inbox.rollback;
  const rollbackReason = () => {
    const r = inbox.rollback;
    return r ? `rollback requested by ${r.by}${r.reason ? `: ${r.reason}` : ''}` : null;
  };

  setHandler(stateQuery, () => progress);
  setHandler(actionSubjectQuery, () => ({ target: input.target, migrationId: input.migrationId, runId: info.runId, checksum: input.checksum, requestedBy: input.requestedBy }));

  /**
   * Has the worker check an operator's action: the four-eyes rule always; with godwit.yaml's
   * authorization section, the signature over this run and plan and the principal lists.
   * The activity audits a refusal; here it fails the update with its reason. Runs from
   * before signed actions (no patch marker) took the message as it came.
   */
  async function authorize(action: OperatorActionName, req: OperatorRequest, text: string | null): Promise<string | null> {
    if (!patched(SIGNED_ACTIONS_PATCH)) return null;
    const r = await authorizeActivities.authorizeAction.executeWithOptions({ summary: `verify ${action} by ${req.by}` }, [
      { ...scope, action, principal: req.by, requestedBy: input.requestedBy, checksum: input.checksum, text, state: progress.state, ...(req.signature !== undefined ? { signature: req.signature } : {}) },
    ]);
    keepAuditHead(r);
    if (!r.ok) throw ApplicationFailure.nonRetryable(`cannot ${action}: ${r.reason}`, 'ActionRefused');
    return r.signedWith;
  }
  function requireState(action: OperatorActionName, ...states: MigrationState[]): void {
    if (!states.includes(progress.state)) throw ApplicationFailure.nonRetryable(`cannot ${action}: migration is ${progress.state}, not ${states.join(' or ')}`, 'ActionRefused');
  }
  const ROLLBACK_STATES: MigrationState[] = ['planned', 'awaiting_approval', 'in_progress', 'validated', 'unhealthy'];

  setHandler(rollbackSignal, async (req) => {
    let signedWith: string | null;
    try {
      signedWith = await authorize('rollback', req, req.reason ?? null);
    } catch (err) {
      log.warn('rollback signal refused', { by: req.by, error: describeError(err) });
      return;
    }
    inbox.rollback ??= { by: req.by, ...(req.reason !== undefined ? { reason: req.reason } : {}), signedWith };
  });
  setHandler(
    rollbackUpdate,
    async (req) => {
      const signedWith = await authorize('rollback', req, req.reason ?? null);
      requireState('rollback', ...ROLLBACK_STATES);
      inbox.rollback ??= { by: req.by, ...(req.reason !== undefined ? { reason: req.reason } : {}), signedWith };
      return progress.state;
    },
    { validator: (_req) => requireState('rollback', ...ROLLBACK_STATES) },
  );
  setHandler(retryRollbackSignal, () => {
    inbox.retry = true;
  });
  setHandler(
    approveUpdate,
    async (req) => {
      const signedWith = await authorize('approve', req, req.note ?? null);
      requireState('approve', 'awaiting_approval', 'unhealthy');
      if (progress.state === 'unhealthy') inbox.dismissal ??= { by: req.by, note: req.note ?? null, signedWith };
      else inbox.approval = { by: req.by, signedWith };
      return progress.state;
    },
    {
      // the four-eyes rule is the worker's (authorize), so that a self approval is audited
      validator: (_req) => requireState('approve', 'awaiting_approval', 'unhealthy'),
    },
  );
  setHandler(
    rejectUpdate,
    async (req) => {
      const signedWith = await authorize('reject', req, req.reason ?? null);
      requireState('reject', 'awaiting_approval');
      inbox.rejection = { by: req.by, ...(req.reason !== undefined ? { reason: req.reason } : {}), signedWith };
      return progress.state;
    },
    { validator: (_req) => requireState('reject', 'awaiting_approval') },
  );
  setHandler(
    resolveUpdate,
    async (req) => {
      const signedWith = await authorize('resolve', req, req.note);
      requireState('resolve', 'rollback_failed');
      inbox.resolution = { by: req.by, note: req.note, signedWith };
      return progress.state;
    },
    {
      validator: (req) => {
        requireState('resolve', 'rollback_failed');
        if (!req.note?.trim()) throw new Error('cannot resolve: say what was done in the note');
      },
    },
  );

  // Pacing changes are for runs that may still move data: forward, or rolling back, or
  // waiting to (a change made before a step starts is read when it starts).
  const TUNE_STATES: MigrationState[] = ['planned', 'awaiting_approval', 'in_progress', 'validated', 'rolling_back', 'rollback_failed'];
  setHandler(
    tuneUpdate,
    async (req) => {
      const signedWith = await authorize('tune', req, changeText(req.change));
      requireState('tune', ...TUNE_STATES);
      const r = await recordActivities.tuneThrottle.executeWithOptions({ summary: `${req.change.paused === true ? 'pause' : req.change.paused === false ? 'resume' : 'tune'} by ${req.by}` }, [
        { ...scope, change: req.change, by: req.by, signedWith, policy: input.policy.throttle, state: progress.state },
      ]);
      keepAuditHead(r);
      progress.throttle = r.settings;
      setCurrentDetails(describeProgress());
      return r.settings;
    },
    {
      validator: (req) => {
        requireState('tune', ...TUNE_STATES);
        if (Object.keys(req.change ?? {}).length === 0) throw new Error('cannot tune: nothing to change; give --rate, --batch-ms, --pause-ms, --yield, --max-lag-ms or --max-wal-mb-s');
      },
    },
  );

  function send(event: LifecycleEvent, actor: string | null = null): void {
    const from = stateOf(machine);
    machine = stepMachine(machine, event);
    const to = stateOf(machine);
    const reason = 'reason' in event ? event.reason : undefined;
    progress.state = to;
    progress.reason = machine.context.reason;
    // What the machine decided and recorded (why it asks a person, a run already applied) is read from its context.
    const { approvalReason, alreadyApplied, alreadyAppliedFingerprint } = machine.context;
    if (approvalReason !== null) progress.approvalReason = approvalReason;
    if (alreadyApplied) progress.fingerprintAfter = alreadyAppliedFingerprint;
    progress.transitions.push({ event: event.type, from, to, at: new Date().toISOString(), ...(reason ? { reason } : {}) });
    progress.events.push({ kind: 'transition', event: event.type, from, to, ...(reason ? { reason } : {}) });
    const approval = event.type === 'START' ? approvalReason : null;
    pendingAudit.push({ event: event.type, from, to, actor, detail: reason ? { reason } : approval ? { approval } : null });
    upsertSearchAttributes([{ key: GodwitStateKey, value: to }]);
    setCurrentDetails(describeProgress());
    log.info('transition', { migration: input.migrationId, from, to, event: event.type });
  }

  /**
   * Keeps the last audit row this run wrote in its memo: Temporal, not the target's
   * database, holds it, so `godwit audit verify` sees rows cut off the log's end.
   * The head comes from the activity's result, so replay sets the same memo.
   */
  let auditHeadSeq = 0;
  function keepAuditHead(result: AuditHeadResult): void {
    const head = result.auditHead;
    if (!head || head.seq <= auditHeadSeq || !patched(AUDIT_HEAD_PATCH)) return;
    auditHeadSeq = head.seq;
    upsertMemo({ [AUDIT_HEAD_MEMO]: head });
  }

  /** The key that signed the operator's action goes into the audit entry of the transition it caused. */
  function noteSignature(signedWith: string | null | undefined): void {
    const entry = pendingAudit.at(-1);
    if (signedWith && entry) entry.detail = { ...entry.detail, signed_with: signedWith };
  }

  function takeAudit(): AuditEntry[] {
    const entries = pendingAudit;
    pendingAudit = [];
    return entries;
  }

  function describeProgress(): string {
    if (machine.context.alreadyApplied) return `**applied** — ${input.migrationId} was already applied with this checksum; nothing to do`;
    const lines = [`**${progress.state}** — ${input.migrationId} on \`${input.target}\``];
    if (progress.reason) lines.push(`reason: ${progress.reason}`);
    if (progress.state === 'awaiting_approval' && progress.approvalReason) lines.push(progress.approvalReason);
    if (progress.throttle) lines.push(`pacing: ${progress.throttle}`);
    if (progress.health) lines.push(...describeHealth(progress.health));
    for (const s of progress.steps) lines.push(`- [${s.status}] ${s.index}. ${s.summary}${s.error ? ` — ${s.error}` : ''}`);
    if (progress.rollback) {
      lines.push(`fingerprint before: \`${progress.rollback.fingerprintBefore}\``, `fingerprint after:  \`${progress.rollback.fingerprintAfter}\``);
      for (const r of progress.rollback.restores ?? []) lines.push(`restore of ${r.source}: ${describeRestore(r)}`);
      for (const d of progress.rollback.data ?? []) lines.push(`data of ${d.table}: ${d.equal ? 'equal' : 'DIFFERENT'} (${d.before.rows} rows before)`);
      for (const d of progress.rollback.differences.slice(0, 20)) lines.push(`  - ${d}`);
    }
    return lines.join('\n');
  }

  function setStep(s: StepProgress, status: StepProgress['status'], error?: string): void {
    s.status = status;
    if (error) s.error = error;
    else delete s.error;
    progress.currentStep = status === 'running' || status === 'compensating' ? `${s.index}. ${s.summary}` : null;
    progress.events.push({ kind: 'step', index: s.index, total: progress.steps.length, summary: s.summary, status, ...(error ? { error } : {}) });
    setCurrentDetails(describeProgress());
  }

  async function finish(state: MigrationState, opts: { recordFingerprint?: boolean; releaseLease: boolean }, token: string): Promise<void> {
    const result = await recordActivities.finishMigration.executeWithOptions({ summary: `record ${state}` }, [
      { ...scope, token, state, audit: takeAudit(), reason: progress.reason, recordFingerprint: opts.recordFingerprint ?? false, releaseLease: opts.releaseLease, policy: input.policy },
    ]);
    keepAuditHead(result);
    if (result.fingerprintAfter) progress.fingerprintAfter = result.fingerprintAfter;
  }

  function result(outcome: MigrationOutcome): MigrationResult {
    const r: MigrationResult = { ...progress, outcome, alreadyApplied: machine.context.alreadyApplied };
    if (outcome === 'applied' || !patched(FAILED_OUTCOMES_PATCH)) return r;
    throw ApplicationFailure.create({ message: `${outcome}: ${progress.reason ?? outcome}`, type: OUTCOME_FAILURE_TYPE[outcome], nonRetryable: true, details: [r] });
  }

  // 1. lease, plan, fingerprint.
  let prepared;
  try {
    prepared = await prepareActivities.prepareMigration.executeWithOptions({ summary: `lease ${input.target}, plan and fingerprint` }, [
      { ...scope, description: input.description, manifest: input.manifest, checksum: input.checksum, requestedBy: input.requestedBy, ...(input.requestSignature === undefined ? {} : { requestSignature: input.requestSignature }) },
    ]);
  } catch (err) {
    // Nothing was applied: fail the run with the activity's own message.
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    throw ApplicationFailure.nonRetryable(describeError(err), cause instanceof ApplicationFailure ? (cause.type ?? 'PrepareFailed') : 'PrepareFailed');
  }
  if (prepared.alreadyApplied) {
    send({ type: 'ALREADY_APPLIED', fingerprint: prepared.fingerprint });
    return result('applied');
  }
  const token = prepared.token;
  progress.fingerprintBefore = prepared.fingerprintBefore;
  progress.steps = prepared.steps.map((s) => ({ id: s.id, index: s.index, summary: s.summary, status: 'pending' }));
  // Health probes, on_unhealthy and max_duration (the manifest's with the worker's godwit.yaml, from prepare's result).
  const health = prepared.health && patched(HEALTH_PATCH) ? prepared.health : null;
  if (health) {
    progress.health = { onUnhealthy: health.on_unhealthy, bakeEndsAt: null, deadline: null, probes: health.probes.map(startProbe), asking: null, dismissals: [], notes: health.notes };
  }

  // 2. approval gate: the machine decides from the plan's facts (required always asks; auto
  // when the plan is risky enough: runs started before that rule keep their history, the patch
  // marks the new ones) and records why in its context.
  const weighRisk = patched('approval-auto-risk');
  send({ type: 'START', approval: input.policy.approval, steps: prepared.steps, approvalRisk: input.policy.approval_risk, weighRisk });
  if (health && health.notes.length > 0) pendingAudit.at(-1)!.detail = { ...pendingAudit.at(-1)!.detail, health: health.notes };
  if (progress.state === 'awaiting_approval') {
    await finish('awaiting_approval', { releaseLease: false }, token);
    const answered = () => inbox.approval !== null || inbox.rejection !== null;
    if (patched('approval-timeout')) {
      const timeout = input.policy.approval_timeout ?? DEFAULT_APPROVAL_TIMEOUT;
      if (!(await condition(answered, durationMs(timeout) ?? durationMs(DEFAULT_APPROVAL_TIMEOUT)!))) {
        send({ type: 'APPROVAL_TIMEOUT' });
        await finish('rejected', { releaseLease: true }, token);
        return result('rejected');
      }
    } else {
      await condition(answered);
    }
    const rejected = inbox.rejection as { by: string; reason?: string } | null;
    if (rejected) {
      send({ type: 'REJECT', by: rejected.by, reason: rejected.reason }, rejected.by);
      noteSignature(inbox.rejection?.signedWith);
      await finish('rejected', { releaseLease: true }, token);
      return result('rejected');
    }
    const approver = (inbox.approval as { by: string } | null)?.by ?? 'unknown';
    send({ type: 'APPROVE', by: approver }, approver);
    noteSignature(inbox.approval?.signedWith);
  }

  // 3-5. forward steps, checks, bake.
  const compensations: { step: PlannedStep; progress: StepProgress }[] = [];
  // max_duration counts from the first step (the approval gate has its own timeout). A step
  // that is running when it runs out finishes (its own transaction, or its batches), and the
  // rollback is taken at the next step boundary, the post checks or the bake.
  const started = Date.now();
  const maxDurationMs = health?.max_duration ? durationMs(health.max_duration)! : null;
  if (maxDurationMs !== null) progress.health!.deadline = new Date(started + maxDurationMs).toISOString();
  // A timer says when it ran out: the decision comes from history, never from the clock.
  const timer = maxDurationMs !== null && patched(MAX_DURATION_TIMER_PATCH) ? maxDurationTimer(maxDurationMs) : null;
  // Older runs compare the clock with a deadline, as they did.
  const deadline = maxDurationMs !== null && timer === null ? started + maxDurationMs : null;
  const maxDurationOver = () => timer?.fired() ?? false;
  const maxDurationReason = () => `max_duration ${health?.max_duration} exceeded: the migration has run ${((Date.now() - started) / 1000).toFixed(1)}s since its first step`;
  const overdue = () => {
    if (maxDurationOver() || (deadline !== null && Date.now() >= deadline)) throw new RollbackRequested(maxDurationReason());
  };
  try {
    for (const [i, planned] of prepared.steps.entries()) {
      const requested = rollbackReason();
      if (requested) throw new RollbackRequested(requested);
      overdue();
      const sp = progress.steps[i]!;
      setStep(sp, 'running');
      try {
        const r = await stepActivities.runStep.executeWithOptions({ summary: planned.summary }, [
          { ...scope, token, step: planned, policy: input.policy, audit: takeAudit(), faults: input.faults },
        ]);
        keepAuditHead(r);
        setStep(sp, r.skipped ? 'skipped' : 'done');
      } catch (err) {
        setStep(sp, 'failed', describeError(err));
        throw new RollbackRequested(describeError(err));
      }
      compensations.push({ step: planned, progress: sp });
    }
    overdue();
    send({ type: 'STEPS_DONE' });
    if (input.checks.length > 0) {
      const checks = await recordActivities.runChecks.executeWithOptions({ summary: `post checks (${input.checks.length})` }, [
        { ...scope, token, checks: input.checks, policy: input.policy, audit: takeAudit() },
      ]);
      const failed = checks.filter((c) => !c.passed);
      if (failed.length > 0) throw new RollbackRequested(`post check failed: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`);
    }
    if (health) {
      overdue();
      const unhealthy = await bake({
        scope,
        token,
        health,
        progress: progress.health!,
        deadline,
        maxDurationOver,
        maxDurationReason,
        operatorReason: rollbackReason,
        hasDismissal: () => inbox.dismissal !== null,
        takeDismissal: () => {
          const d = inbox.dismissal;
          inbox.dismissal = null;
          return d;
        },
        send,
        noteSignature,
        takeAudit,
        keepAuditHead,
        record: (state) => finish(state, { releaseLease: false }, token),
        changed: () => setCurrentDetails(describeProgress()),
      });
      if (unhealthy) throw new RollbackRequested(unhealthy);
    } else if (input.policy.bake_seconds > 0) {
      setCurrentDetails(`${describeProgress()}\nbaking for ${input.policy.bake_seconds}s; send rollbackSignal to roll back`);
      await condition(() => inbox.rollback !== null, input.policy.bake_seconds * 1000);
    }
    const requested = rollbackReason();
    if (requested) throw new RollbackRequested(requested);
    send({ type: 'BAKE_PASSED' });
    await finish('applied', { recordFingerprint: true, releaseLease: true }, token);
    return result('applied');
  } catch (err) {
    if (isCancellation(err)) throw err;
    // Whatever failed after the first step, a migration never stays half-applied.
    send({ type: 'FAIL', reason: err instanceof RollbackRequested ? err.message : describeError(err) }, rollbackRequested()?.by ?? null);
    noteSignature(rollbackRequested()?.signedWith);
  } finally {
    // Past the forward part max_duration has nothing left to stop: its timer goes.
    timer?.cancel();
  }

  // Rollback: compensations last-in-first-out, then the proof.
  for (;;) {
    let failure: string | null = null;
    while (compensations.length > 0) {
      const { step: planned, progress: sp } = compensations[compensations.length - 1]!;
      setStep(sp, 'compensating');
      try {
        const r = await stepActivities.compensateStep.executeWithOptions({ summary: `undo ${planned.summary}` }, [
          { ...scope, token, step: planned, policy: input.policy, audit: takeAudit(), faults: input.faults },
        ]);
        keepAuditHead(r);
        setStep(sp, 'compensated');
        compensations.pop();
      } catch (err) {
        failure = describeError(err);
        setStep(sp, 'failed', failure);
        break;
      }
    }
    if (failure === null) {
      const { auditHead, ...proof } = await recordActivities.verifyRollback.executeWithOptions({ summary: 'compare schema fingerprint with before' }, [
        { ...scope, token, audit: takeAudit(), dataProof: input.policy.data_proof ?? 'restores' },
      ]);
      keepAuditHead({ auditHead });
      progress.rollback = proof;
      progress.fingerprintAfter = proof.fingerprintAfter;
      if (proof.equal) {
        send({ type: 'ROLLBACK_VERIFIED' });
        await finish('rolled_back', { releaseLease: true }, token);
        return result('rolled_back');
      }
      failure = `schema after rollback differs from before: ${proof.differences.slice(0, 5).join('; ')}`;
    }
    // Loud and open: a human retries the rollback or resolves it by hand.
    send({ type: 'ROLLBACK_FAILED', reason: failure });
    await finish('rollback_failed', { releaseLease: false }, token);
    inbox.retry = false;
    await condition(() => inbox.retry || inbox.resolution !== null);
    const r = inbox.resolution as { by: string; note: string; signedWith?: string | null } | null;
    if (r) {
      send({ type: 'RESOLVE', by: r.by, note: r.note }, r.by);
      noteSignature(r.signedWith);
      await finish('resolved_manually', { releaseLease: true }, token);
      return result('resolved_manually');
    }
    send({ type: 'RETRY_ROLLBACK' });
  }
}

/** A workflow timer for max_duration: fired() turns true when it ran out; cancel() drops it once the forward part is over. */
function maxDurationTimer(ms: number): { fired(): boolean; cancel(): void } {
  let fired = false;
  const scope = new CancellationScope();
  scope.run(() => sleep(ms)).then(
    () => {
      fired = true;
    },
    () => undefined, // cancelled: the run applied or rolls back
  );
  return { fired: () => fired, cancel: () => scope.cancel() };
}
