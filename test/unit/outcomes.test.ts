import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { MalformedOutcomeError, migrationResult, outcomeOfFailure, releaseResult, revertResult } from '../../src/client/outcome';
import { OUTCOME_FAILURE_TYPE, type MigrationOutcome, type MigrationResult } from '../../src/contract/migration';
import { REVERT_OUTCOME_FAILURE_TYPE, type RevertOutcome, type RevertResult } from '../../src/contract/revert';
import { RELEASE_OUTCOME_FAILURE_TYPE, type ReleaseOutcome, type ReleaseResult } from '../../src/contract/release';

function resultWith(outcome: MigrationOutcome): MigrationResult {
  return {
    target: 'app',
    migrationId: '0001_x',
    state: outcome,
    currentStep: null,
    steps: [{ id: '1-add_column', index: 1, summary: 'add_column users.x', status: outcome === 'rolled_back' ? 'compensated' : 'done' }],
    transitions: [],
    reason: outcome === 'applied' ? null : 'step 2 failed',
    fingerprintBefore: 'sha256:a',
    fingerprintAfter: 'sha256:a',
    rollback: null,
    events: [],
    outcome,
    alreadyApplied: false,
  };
}

/** What the client throws for a run that failed with `cause`. */
const failedRun = (cause: Error) => new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE);

describe('reading how a migration run ended', () => {
  it('takes a completed run (applied, or any outcome before the patch) as its result', async () => {
    for (const outcome of ['applied', 'rolled_back'] as const) {
      await expect(migrationResult(Promise.resolve(resultWith(outcome)))).resolves.toEqual(resultWith(outcome));
    }
  });

  it.each(Object.entries(OUTCOME_FAILURE_TYPE))('reads %s back from the run failure %s, proof and all', async (outcome, type) => {
    const result = resultWith(outcome as MigrationOutcome);
    const failure = ApplicationFailure.create({ message: `${outcome}: step 2 failed`, type, nonRetryable: true, details: [result] });
    await expect(migrationResult(Promise.reject(failedRun(failure)))).resolves.toEqual(result);
    expect(outcomeOfFailure(failure)).toEqual(result);
  });

  it('leaves a failure that is no outcome (a plan error, a busy target) an error', async () => {
    const err = failedRun(ApplicationFailure.nonRetryable('target is busy', 'LeaseHeldError'));
    await expect(migrationResult(Promise.reject(err))).rejects.toBe(err);
    expect(outcomeOfFailure(new Error('connection refused'))).toBeNull();
  });

  it('refuses an outcome failure whose details do not hold that outcome', () => {
    const wrong = ApplicationFailure.create({ message: 'x', type: OUTCOME_FAILURE_TYPE.rolled_back, details: [resultWith('rejected')] });
    expect(() => outcomeOfFailure(wrong)).toThrow(MalformedOutcomeError);
    const empty = ApplicationFailure.create({ message: 'x', type: OUTCOME_FAILURE_TYPE.rejected });
    expect(() => outcomeOfFailure(empty)).toThrow(/MigrationRejected but its details do not hold the rejected MigrationResult/);
  });
});

describe('a parent workflow reading a child migration', () => {
  it('reads the outcome through the ChildWorkflowFailure that wraps the failure', async () => {
    const result = resultWith('rolled_back');
    const failure = ApplicationFailure.create({ message: 'rolled_back: step 2 failed', type: OUTCOME_FAILURE_TYPE.rolled_back, details: [result] });
    const child = new ChildWorkflowFailure('default', { workflowId: 'godwit/app/0001_x', runId: 'r' }, 'migrationWorkflow', RetryState.NON_RETRYABLE_FAILURE, failure);
    await expect(migrationResult(Promise.reject(child))).resolves.toEqual(result);
  });
});

function revertWith(outcome: RevertOutcome): RevertResult {
  return { target: 'app', migrationId: '0002_x', to: null, state: outcome, currentStep: null, migrations: [], transitions: [], reason: outcome === 'reverted' ? null : 'not now', proofs: [], outcome };
}

function releaseWith(outcome: ReleaseOutcome): ReleaseResult {
  return { fleet: 'eu', migrationIds: ['0003_x'], state: outcome, reason: outcome === 'applied' ? null : 'canary a failed', failureThreshold: 1, maxParallel: 1, targets: [], run: 1, outcome };
}

describe('reading how a revert or a release ended', () => {
  it.each(Object.entries(REVERT_OUTCOME_FAILURE_TYPE))('reads the revert outcome %s back from the run failure %s', async (outcome, type) => {
    const result = revertWith(outcome as RevertOutcome);
    const failure = ApplicationFailure.create({ message: `${outcome}: not now`, type, nonRetryable: true, details: [result] });
    await expect(revertResult(Promise.reject(failedRun(failure)))).resolves.toEqual(result);
  });

  it.each(Object.entries(RELEASE_OUTCOME_FAILURE_TYPE))('reads the release outcome %s back from the run failure %s', async (outcome, type) => {
    const result = releaseWith(outcome as ReleaseOutcome);
    const failure = ApplicationFailure.create({ message: `${outcome}: canary a failed`, type, nonRetryable: true, details: [result] });
    await expect(releaseResult(Promise.reject(failedRun(failure)))).resolves.toEqual(result);
  });

  it('takes completed runs (reverted, applied, or any outcome before their patches) as their result', async () => {
    await expect(revertResult(Promise.resolve(revertWith('revert_rejected')))).resolves.toEqual(revertWith('revert_rejected'));
    await expect(releaseResult(Promise.resolve(releaseWith('rolled_back')))).resolves.toEqual(releaseWith('rolled_back'));
  });

  it('leaves a refused revert and a release that touched no target errors', async () => {
    const refused = failedRun(ApplicationFailure.nonRetryable('later migrations are applied', 'RevertRefused'));
    await expect(revertResult(Promise.reject(refused))).rejects.toBe(refused);
    const unreachable = failedRun(ApplicationFailure.nonRetryable('the release touched no target', 'TargetsUnreachable'));
    await expect(releaseResult(Promise.reject(unreachable))).rejects.toBe(unreachable);
  });

  it('reads each kind only by its own failure types: a migration outcome is no revert result', async () => {
    const migration = ApplicationFailure.create({ message: 'rolled_back', type: OUTCOME_FAILURE_TYPE.rolled_back, nonRetryable: true, details: [resultWith('rolled_back')] });
    await expect(revertResult(Promise.reject(failedRun(migration)))).rejects.toBeInstanceOf(WorkflowFailedError);
    const wrong = ApplicationFailure.create({ message: 'x', type: REVERT_OUTCOME_FAILURE_TYPE.revert_rejected, details: [resultWith('rejected')] });
    await expect(revertResult(Promise.reject(failedRun(wrong)))).rejects.toThrow(/RevertRejected but its details do not hold the revert_rejected RevertResult/);
  });
});
