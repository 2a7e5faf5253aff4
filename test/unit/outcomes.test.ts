import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { MalformedOutcomeError, migrationResult, outcomeOfFailure } from '../../src/client/outcome';
import { OUTCOME_FAILURE_TYPE, type MigrationOutcome, type MigrationResult } from '../../src/contract/migration';

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
