import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AuditEntry } from '../src/db/audit';
import type { MigrationState } from '../src/lifecycle/states';
import { DEFAULT_APPROVAL_TIMEOUT } from '../src/lifecycle/approval';
import { revertStateOf, startRevertLifecycle, stepRevert, type RevertEvent, type RevertSnapshot, type RevertState } from '../src/lifecycle/revert-machine';
import { durationMs } from '../src/manifest/types';
import { AUDIT_HEAD_MEMO, describeRestore, type AuditHeadResult, type OperatorActionName, type OperatorRequest, type RunScope, type StepProgress } from '../src/contract/migration';
import { actionSubjectQuery, approveUpdate, rejectUpdate, resolveUpdate, retryRollbackSignal, rollbackSignal, rollbackUpdate, GodwitStateKey } from '../src/contract/messages';
import { revertStateQuery } from '../src/contract/revert-messages';
import { REVERT_CHAIN_MEMO, REVERT_OUTCOME_FAILURE_TYPE, type RevertedRun, type RevertInput, type RevertOutcome, type RevertProgress, type RevertResult } from '../src/contract/revert';
import { authorizeActivities, describeError, prepareActivities, recordActivities, stepActivities } from './activity-profiles';

/**
 * Runs from before it completed whatever the outcome; with it, a revert that does not end
 * reverted (rejected, or not proven and resolved by hand) fails with its RevertResult as the
 * failure's detail, so the UI's list tells them apart (src/contract/outcome.ts reads it back).
 */
const REVERT_FAILED_OUTCOMES_PATCH = 'godwit-revert-failed-outcomes';

/**
 * The revert of an applied migration (or, with `to`, a chain of them, newest first): the
 * target's lease, the plans the runs recorded, an approval under their policies, then each
 * run's steps undone last in, first out with that run's own inverses, copies and retired
 * objects, and proven as a rollback is. A revert that cannot be proven stays open in
 * revert_failed for a human to retry or resolve.
 */
export async function revertWorkflow(input: RevertInput): Promise<RevertResult> {
  const info = workflowInfo();
  const scope: RunScope = { target: input.target, migrationId: input.migrationId, workflowId: info.workflowId, runId: info.runId };
  let machine: RevertSnapshot = startRevertLifecycle();
  let pendingAudit: AuditEntry[] = [];
  let chain: RevertedRun[] = [];
  const progress: RevertProgress = {
    target: input.target,
    migrationId: input.migrationId,
    to: input.to ?? null,
    state: 'revert_planned',
    currentStep: null,
    migrations: [],
    transitions: [],
    reason: null,
    proofs: [],
  };
  const inbox = {
    retry: false,
    approval: null as { by: string; signedWith: string | null } | null,
    rejection: null as { by: string; reason?: string; signedWith: string | null } | null,
    resolution: null as { by: string; note: string; signedWith: string | null } | null,
  };

  setHandler(revertStateQuery, () => progress);
  // What an operator signs over: this run, and the plans it reverts (their checksums).
  const subjectChecksum = () => chain.map((r) => r.checksum).join(',');
  setHandler(actionSubjectQuery, () => ({ target: input.target, migrationId: input.migrationId, runId: info.runId, checksum: subjectChecksum(), requestedBy: input.requestedBy }));

  let auditHeadSeq = 0;
  function keepAuditHead(result: AuditHeadResult): void {
    const head = result.auditHead;
    if (!head || head.seq <= auditHeadSeq) return;
    auditHeadSeq = head.seq;
    upsertMemo({ [AUDIT_HEAD_MEMO]: head });
  }

  async function authorize(action: OperatorActionName, req: OperatorRequest, text: string | null): Promise<string | null> {
    const r = await authorizeActivities.authorizeAction.executeWithOptions({ summary: `verify ${action} by ${req.by}` }, [
      {
        ...scope,
        action,
        principal: req.by,
        requestedBy: input.requestedBy,
        checksum: subjectChecksum(),
        text,
        // The audit entry of a refusal names the state it came in; a revert's states are its own.
        state: progress.state as unknown as MigrationState,
        ...(req.signature !== undefined ? { signature: req.signature } : {}),
      },
    ]);
    keepAuditHead(r);
    if (!r.ok) throw ApplicationFailure.nonRetryable(`cannot ${action}: ${r.reason}`, 'ActionRefused');
    return r.signedWith;
  }
  function requireState(action: string, ...states: RevertState[]): void {
    if (!states.includes(progress.state)) throw ApplicationFailure.nonRetryable(`cannot ${action}: the revert is ${progress.state}, not ${states.join(' or ')}`, 'ActionRefused');
  }

  setHandler(
    approveUpdate,
    async (req) => {
      const signedWith = await authorize('approve', req, req.note ?? null);
      requireState('approve', 'revert_awaiting_approval');
      inbox.approval = { by: req.by, signedWith };
      return progress.state as unknown as MigrationState;
    },
    { validator: (_req) => requireState('approve', 'revert_awaiting_approval') },
  );
  setHandler(
    rejectUpdate,
    async (req) => {
      const signedWith = await authorize('reject', req, req.reason ?? null);
      requireState('reject', 'revert_awaiting_approval');
      inbox.rejection = { by: req.by, ...(req.reason !== undefined ? { reason: req.reason } : {}), signedWith };
      return progress.state as unknown as MigrationState;
    },
    { validator: (_req) => requireState('reject', 'revert_awaiting_approval') },
  );
  // A revert is itself the way back: `godwit rollback` of one waiting for its approval calls it
  // off (as a rejection); once it undoes steps it is refused (apply the migration again instead).
  const rollbackRefusal = 'a revert cannot be rolled back once it started undoing; let it finish, then apply the migration again';
  setHandler(
    rollbackUpdate,
    async (req) => {
      const signedWith = await authorize('rollback', req, req.reason ?? null);
      requireState(`roll back (${rollbackRefusal})`, 'revert_awaiting_approval');
      inbox.rejection ??= { by: req.by, reason: `rolled back by ${req.by}${req.reason ? `: ${req.reason}` : ''}`, signedWith };
      return progress.state as unknown as MigrationState;
    },
    { validator: (_req) => requireState(`roll back (${rollbackRefusal})`, 'revert_awaiting_approval') },
  );
  setHandler(rollbackSignal, (req) => {
    log.warn('rollback signal to a revert run ignored: use the rollbackUpdate (godwit rollback) while it waits for approval', { by: req.by });
  });
  setHandler(retryRollbackSignal, () => {
    inbox.retry = true;
  });
  setHandler(
    resolveUpdate,
    async (req) => {
      const signedWith = await authorize('resolve', req, req.note);
      requireState('resolve', 'revert_failed');
      inbox.resolution = { by: req.by, note: req.note, signedWith };
      return progress.state as unknown as MigrationState;
    },
    {
      validator: (req) => {
        requireState('resolve', 'revert_failed');
        if (!req.note?.trim()) throw new Error('cannot resolve: say what was done in the note');
      },
    },
  );

  function describeProgress(): string {
    const lines = [`**${progress.state}** — revert of ${progress.migrations.map((m) => m.migrationId).join(', ') || input.migrationId} on \`${input.target}\``];
    if (progress.reason) lines.push(`reason: ${progress.reason}`);
    if (progress.state === 'revert_awaiting_approval' && progress.approvalReason) lines.push(progress.approvalReason);
    for (const m of progress.migrations) {
      lines.push(`${m.migrationId} (${m.state}):`);
      for (const s of m.steps) lines.push(`- [${s.status}] undo ${s.index}. ${s.summary}${s.error ? ` — ${s.error}` : ''}`);
    }
    for (const p of progress.proofs) {
      lines.push(`proof of ${p.migrationId}: ${p.equal ? 'equal' : 'DIFFERENT'} (fingerprint ${p.fingerprintAfter}, expected ${p.fingerprintBefore})`);
      for (const r of p.restores ?? []) lines.push(`  restore of ${r.source}: ${describeRestore(r)}`);
      for (const d of p.differences.slice(0, 20)) lines.push(`  - ${d}`);
    }
    return lines.join('\n');
  }

  function send(event: RevertEvent, actor: string | null = null, signedWith: string | null = null): void {
    const from = revertStateOf(machine);
    machine = stepRevert(machine, event);
    const to = revertStateOf(machine);
    const reason = 'reason' in event ? event.reason : undefined;
    progress.state = to;
    progress.reason = machine.context.reason;
    // Why it asks a person is the machine's decision, read from its context.
    const approval = event.type === 'START' ? machine.context.approvalReason : null;
    if (approval !== null) progress.approvalReason = approval;
    progress.transitions.push({ event: event.type, from, to, at: new Date().toISOString(), ...(reason ? { reason } : {}) });
    const detail: Record<string, unknown> = { ...(reason ? { reason } : {}), ...(approval ? { approval } : {}), ...(signedWith ? { signed_with: signedWith } : {}) };
    pendingAudit.push({ event: event.type, from, to, actor, detail: Object.keys(detail).length ? detail : null });
    upsertSearchAttributes([{ key: GodwitStateKey, value: to }]);
    setCurrentDetails(describeProgress());
    log.info('revert transition', { migration: input.migrationId, from, to, event: event.type });
  }
  function takeAudit(): AuditEntry[] {
    const entries = pendingAudit;
    pendingAudit = [];
    return entries;
  }
  function setStep(s: StepProgress, status: StepProgress['status'], error?: string): void {
    s.status = status;
    if (error) s.error = error;
    else delete s.error;
    progress.currentStep = status === 'compensating' ? `undo ${s.index}. ${s.summary}` : null;
    setCurrentDetails(describeProgress());
  }
  async function finish(state: RevertState, token: string, opts: { reverted?: RevertedRun[]; restoreApplied?: boolean; releaseLease: boolean; approvedBy?: string | null }): Promise<void> {
    const r = await recordActivities.finishRevert.executeWithOptions({ summary: `record ${state}` }, [
      {
        ...scope,
        token,
        state,
        audit: takeAudit(),
        reason: progress.reason,
        reverted: (opts.reverted ?? []).map((x) => ({ migrationId: x.migrationId, runId: x.runId })),
        restoreApplied: opts.restoreApplied ?? false,
        releaseLease: opts.releaseLease,
        ...(opts.approvedBy !== undefined ? { approvedBy: opts.approvedBy } : {}),
      },
    ]);
    keepAuditHead(r);
  }
  function result(outcome: RevertOutcome): RevertResult {
    const r: RevertResult = { ...progress, outcome };
    if (outcome === 'reverted' || !patched(REVERT_FAILED_OUTCOMES_PATCH)) return r;
    throw ApplicationFailure.create({ message: `${outcome}: ${progress.reason ?? outcome}`, type: REVERT_OUTCOME_FAILURE_TYPE[outcome], nonRetryable: true, details: [r] });
  }

  // 1. lease, chain, plans; refused here when it cannot be done.
  let prepared;
  try {
    prepared = await prepareActivities.prepareRevert.executeWithOptions({ summary: `lease ${input.target}, read the recorded plans` }, [{ ...scope, ...input }]);
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    throw ApplicationFailure.nonRetryable(describeError(err), cause instanceof ApplicationFailure ? (cause.type ?? 'RevertRefused') : 'RevertRefused');
  }
  keepAuditHead(prepared);
  const token = prepared.token;
  chain = prepared.chain;
  upsertMemo({ [REVERT_CHAIN_MEMO]: chain.map((r) => r.migrationId) });
  progress.migrations = chain.map((r) => ({
    migrationId: r.migrationId,
    runId: r.runId,
    state: 'applied',
    steps: [...r.steps].reverse().map((s) => ({ id: s.id, index: s.index, summary: s.summary, status: 'pending' })),
  }));

  // 2. approval under the reverted migrations' policies: the machine decides.
  send({ type: 'START', plans: chain.map((r) => ({ migrationId: r.migrationId, steps: r.steps, policy: r.policy })) });
  let approvedBy: string | null = null;
  if (progress.state === 'revert_awaiting_approval') {
    await finish('revert_awaiting_approval', token, { releaseLease: false });
    const timeouts = chain.map((r) => durationMs(r.policy.approval_timeout ?? DEFAULT_APPROVAL_TIMEOUT) ?? durationMs(DEFAULT_APPROVAL_TIMEOUT)!);
    if (!(await condition(() => inbox.approval !== null || inbox.rejection !== null, Math.min(...timeouts)))) {
      send({ type: 'APPROVAL_TIMEOUT' });
      await finish('revert_rejected', token, { restoreApplied: true, releaseLease: true });
      return result('revert_rejected');
    }
    const rejected = inbox.rejection as { by: string; reason?: string; signedWith: string | null } | null;
    if (rejected) {
      send({ type: 'REJECT', by: rejected.by, ...(rejected.reason !== undefined ? { reason: rejected.reason } : {}) }, rejected.by, rejected.signedWith);
      await finish('revert_rejected', token, { restoreApplied: true, releaseLease: true });
      return result('revert_rejected');
    }
    const approval = inbox.approval as { by: string; signedWith: string | null } | null;
    approvedBy = approval?.by ?? 'unknown';
    send({ type: 'APPROVE', by: approvedBy }, approvedBy, approval?.signedWith ?? null);
  }

  // 3. undo each run newest first, its steps last in first out, then prove it.
  for (;;) {
    let failure: string | null = null;
    for (const [i, run] of chain.entries()) {
      const mp = progress.migrations[i]!;
      if (mp.state === 'reverted') continue;
      mp.state = 'reverting';
      const steps = [...run.steps].reverse();
      for (const [j, step] of steps.entries()) {
        const sp = mp.steps[j]!;
        if (sp.status === 'compensated') continue;
        setStep(sp, 'compensating');
        try {
          const r = await stepActivities.revertStep.executeWithOptions({ summary: `undo ${run.migrationId} step ${step.index}: ${step.summary}` }, [
            { ...scope, token, original: { migrationId: run.migrationId, runId: run.runId, workflowId: run.workflowId }, step, policy: run.policy, audit: takeAudit() },
          ]);
          keepAuditHead(r);
          setStep(sp, 'compensated');
        } catch (err) {
          failure = `${run.migrationId} step ${step.index} (${step.summary}): ${describeError(err)}`;
          setStep(sp, 'failed', describeError(err));
          break;
        }
      }
      if (failure !== null) break;
      const { auditHead, ...proof } = await recordActivities.verifyRevert.executeWithOptions({ summary: `prove the revert of ${run.migrationId}` }, [
        { ...scope, token, original: { migrationId: run.migrationId, runId: run.runId }, audit: takeAudit() },
      ]);
      keepAuditHead({ auditHead });
      progress.proofs = [...progress.proofs.filter((p) => p.migrationId !== run.migrationId), proof];
      if (!proof.equal) {
        failure = `the revert of ${run.migrationId} is not proven: ${proof.differences.slice(0, 5).join('; ')}`;
        break;
      }
      mp.state = 'reverted';
      setCurrentDetails(describeProgress());
      // Marked reverted as soon as it is proven: a later failure in the chain leaves it so.
      await finish('reverting', token, { reverted: [run], releaseLease: false, approvedBy });
    }
    if (failure === null) {
      send({ type: 'REVERT_VERIFIED' });
      await finish('reverted', token, { releaseLease: true });
      return result('reverted');
    }
    // Loud and open: a human retries the revert or resolves it by hand.
    send({ type: 'REVERT_FAILED', reason: failure });
    await finish('revert_failed', token, { releaseLease: false });
    inbox.retry = false;
    await condition(() => inbox.retry || inbox.resolution !== null);
    const r = inbox.resolution as { by: string; note: string; signedWith: string | null } | null;
    if (r) {
      send({ type: 'RESOLVE', by: r.by, note: r.note }, r.by, r.signedWith);
      pendingAudit.at(-1)!.detail = { ...pendingAudit.at(-1)!.detail, note: r.note };
      // The person who resolved it says the database is as before: the rest of the chain counts as reverted.
      const remaining = chain.filter((_run, i) => progress.migrations[i]!.state !== 'reverted');
      await finish('revert_resolved_manually', token, { reverted: remaining, releaseLease: true });
      return result('revert_resolved_manually');
    }
    send({ type: 'RETRY_REVERT' });
  }
}
