/**
 * A migration run's MigrationResult, however the run closed. Runs from before the
 * `godwit-failed-outcomes` patch complete with it whatever their outcome; newer ones complete
 * only when applied, and fail otherwise with an ApplicationFailure of an OUTCOME_FAILURE_TYPE
 * whose first detail is the result (so the Temporal UI lists them as Failed). Every reader of a
 * run's end goes through here: apply --wait, the demo, the benches and the tests.
 */
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { OUTCOME_FAILURE_TYPE, type MigrationOutcome, type MigrationResult } from '../../workflows/definitions';

const OUTCOME_BY_TYPE = new Map<string, MigrationOutcome>(Object.entries(OUTCOME_FAILURE_TYPE).map(([outcome, type]) => [type, outcome as MigrationOutcome]));

/** Thrown when a run failed with an outcome's failure type but without the result it must carry. */
export class MalformedOutcomeError extends Error {
  override readonly name = 'MalformedOutcomeError';
}

function isResult(value: unknown): value is MigrationResult {
  const r = value as Partial<MigrationResult> | null;
  return typeof r === 'object' && r !== null && typeof r.outcome === 'string' && typeof r.state === 'string' && Array.isArray(r.steps);
}

/**
 * The MigrationResult a run's failure carries, or null when the failure is not an outcome (a
 * plan error, a busy target, a termination...): those stay errors. Takes the SDK's
 * WorkflowFailedError or its cause.
 */
export function outcomeOfFailure(err: unknown): MigrationResult | null {
  const failure = err instanceof WorkflowFailedError ? err.cause : err;
  if (!(failure instanceof ApplicationFailure) || !failure.type) return null;
  const outcome = OUTCOME_BY_TYPE.get(failure.type);
  if (outcome === undefined) return null;
  const result = failure.details?.[0];
  if (!isResult(result) || result.outcome !== outcome) {
    throw new MalformedOutcomeError(`the run failed with ${failure.type} but its details do not hold the ${outcome} MigrationResult: ${failure.message}`);
  }
  return result;
}

/** A run's result or failure as its MigrationResult: the one place that reads how a run ended. */
export async function migrationResult(closed: Promise<unknown>): Promise<MigrationResult> {
  try {
    return (await closed) as MigrationResult;
  } catch (err) {
    const result = outcomeOfFailure(err);
    if (result) return result;
    throw err;
  }
}

/** handle.result() as a MigrationResult (see migrationResult). */
export function resultOf(handle: Pick<WorkflowHandle, 'result'>): Promise<MigrationResult> {
  return migrationResult(handle.result());
}
