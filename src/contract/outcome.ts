/**
 * A migration run's MigrationResult, however the run closed. Runs from before the
 * `godwit-failed-outcomes` patch complete with it whatever their outcome; newer ones complete
 * only when applied, and fail otherwise with an ApplicationFailure of an OUTCOME_FAILURE_TYPE
 * whose first detail is the result (so the Temporal UI lists them as Failed).
 *
 * The one reader of a run's end: the client (src/client/outcome.ts: apply --wait, status, the
 * demo, benches and tests) through the SDK's WorkflowFailedError, and a parent workflow through
 * the ChildWorkflowFailure of a child migration. Pure and free of SDK imports, so that workflow
 * code can use it: it reads the failure's `type` and `details`, found on the error or its causes.
 */
import { OUTCOME_FAILURE_TYPE, type MigrationOutcome, type MigrationResult } from './migration';
import { GodwitError } from '../errors';

const OUTCOME_BY_TYPE = new Map<string, MigrationOutcome>(Object.entries(OUTCOME_FAILURE_TYPE).map(([outcome, type]) => [type, outcome as MigrationOutcome]));

/** Thrown when a run failed with an outcome's failure type but without the result it must carry. */
export class MalformedOutcomeError extends GodwitError {
  override readonly name = 'MalformedOutcomeError';
}

function isResult(value: unknown): value is MigrationResult {
  const r = value as Partial<MigrationResult> | null;
  return typeof r === 'object' && r !== null && typeof r.outcome === 'string' && typeof r.state === 'string' && Array.isArray(r.steps);
}

/**
 * The MigrationResult a run's failure carries, or null when the failure is not an outcome (a
 * plan error, a busy target, a termination...): those stay errors. Takes the SDK's
 * WorkflowFailedError or ChildWorkflowFailure, or the ApplicationFailure they wrap.
 */
export function outcomeOfFailure(err: unknown): MigrationResult | null {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { type, details, message } = e as { type?: unknown; details?: unknown; message?: unknown };
    const outcome = typeof type === 'string' ? OUTCOME_BY_TYPE.get(type) : undefined;
    if (outcome === undefined) continue;
    const result = Array.isArray(details) ? (details[0] as unknown) : undefined;
    if (!isResult(result) || result.outcome !== outcome) {
      throw new MalformedOutcomeError(`the run failed with ${String(type)} but its details do not hold the ${outcome} MigrationResult: ${String(message)}`);
    }
    return result;
  }
  return null;
}

/** A run's result or failure as its MigrationResult (a child's too: `migrationResult(executeChild(...))`). */
export async function migrationResult(closed: Promise<unknown>): Promise<MigrationResult> {
  try {
    return (await closed) as MigrationResult;
  } catch (err) {
    const result = outcomeOfFailure(err);
    if (result) return result;
    throw err;
  }
}
