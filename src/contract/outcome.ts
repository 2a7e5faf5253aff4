/**
 * A run's result, however the run closed: the one reader of the end of a migration, revert or
 * release run. Runs from before each kind's failed-outcome patch complete with their result
 * whatever their outcome; newer ones complete only when they succeeded (applied, reverted), and
 * fail otherwise with an ApplicationFailure of that kind's failure type whose first detail is
 * the whole result (so the Temporal UI lists them as Failed):
 *
 * - migrations: OUTCOME_FAILURE_TYPE, patch `godwit-failed-outcomes`;
 * - reverts: REVERT_OUTCOME_FAILURE_TYPE, patch `godwit-revert-failed-outcomes`;
 * - releases: RELEASE_OUTCOME_FAILURE_TYPE, patch `godwit-release-failed-outcomes`.
 *
 * Read by the client (src/client/outcome.ts: apply --wait, revert --wait, apply --fleet --wait,
 * status, the demo, benches and tests) through the SDK's WorkflowFailedError, and by a parent
 * workflow (a release, a rehearsal) through the ChildWorkflowFailure of a child. Pure and free
 * of SDK imports, so that workflow code can use it: it reads the failure's `type` and
 * `details`, found on the error or its causes.
 */
import { OUTCOME_FAILURE_TYPE, type MigrationResult } from './migration';
import { REVERT_OUTCOME_FAILURE_TYPE, type RevertResult } from './revert';
import { RELEASE_OUTCOME_FAILURE_TYPE, type ReleaseResult } from './release';
import { GodwitError } from '../errors';

/** Thrown when a run failed with an outcome's failure type but without the result it must carry. */
export class MalformedOutcomeError extends GodwitError {
  override readonly name = 'MalformedOutcomeError';
}

/** A kind of run whose unsuccessful outcomes fail the run, carrying its result. */
export interface OutcomeKind<R extends { outcome: string }> {
  /** The result's name in messages: MigrationResult, RevertResult, ReleaseResult. */
  resultName: string;
  /** Outcome → the failure type a run that ends in it fails with. */
  failureTypes: Readonly<Record<string, string>>;
  /** The result's shape, checked before it is trusted. */
  isResult(value: object): boolean;
  /** Phantom: ties the kind to its result type. */
  readonly _result?: R;
}

const has = (v: object, key: string, type: 'string' | 'array') => (type === 'array' ? Array.isArray((v as Record<string, unknown>)[key]) : typeof (v as Record<string, unknown>)[key] === type);

export const MIGRATION_OUTCOMES: OutcomeKind<MigrationResult> = {
  resultName: 'MigrationResult',
  failureTypes: OUTCOME_FAILURE_TYPE,
  isResult: (v) => has(v, 'outcome', 'string') && has(v, 'state', 'string') && has(v, 'steps', 'array'),
};

export const REVERT_OUTCOMES: OutcomeKind<RevertResult> = {
  resultName: 'RevertResult',
  failureTypes: REVERT_OUTCOME_FAILURE_TYPE,
  isResult: (v) => has(v, 'outcome', 'string') && has(v, 'state', 'string') && has(v, 'migrations', 'array') && has(v, 'proofs', 'array'),
};

export const RELEASE_OUTCOMES: OutcomeKind<ReleaseResult> = {
  resultName: 'ReleaseResult',
  failureTypes: RELEASE_OUTCOME_FAILURE_TYPE,
  isResult: (v) => has(v, 'outcome', 'string') && has(v, 'state', 'string') && has(v, 'targets', 'array'),
};

/**
 * The result a run's failure carries, or null when the failure is not one of the kind's
 * outcomes (a plan error, a busy target, a refused revert, a termination...): those stay
 * errors. Takes the SDK's WorkflowFailedError or ChildWorkflowFailure, or the
 * ApplicationFailure they wrap.
 */
export function resultOfFailure<R extends { outcome: string }>(kind: OutcomeKind<R>, err: unknown): R | null {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { type, details, message } = e as { type?: unknown; details?: unknown; message?: unknown };
    if (typeof type !== 'string') continue;
    const outcome = Object.keys(kind.failureTypes).find((o) => kind.failureTypes[o] === type);
    if (outcome === undefined) continue;
    const result = Array.isArray(details) ? (details[0] as unknown) : undefined;
    if (typeof result !== 'object' || result === null || !kind.isResult(result) || (result as R).outcome !== outcome) {
      throw new MalformedOutcomeError(`the run failed with ${type} but its details do not hold the ${outcome} ${kind.resultName}: ${String(message)}`);
    }
    return result as R;
  }
  return null;
}

/** A run's result or failure as its result (a child's too: `runResult(MIGRATION_OUTCOMES, executeChild(...))`). */
export async function runResult<R extends { outcome: string }>(kind: OutcomeKind<R>, closed: Promise<unknown>): Promise<R> {
  try {
    return (await closed) as R;
  } catch (err) {
    const result = resultOfFailure(kind, err);
    if (result) return result;
    throw err;
  }
}

/** The MigrationResult a migration run's failure carries, or null. */
export const outcomeOfFailure = (err: unknown): MigrationResult | null => resultOfFailure(MIGRATION_OUTCOMES, err);

/** A migration run's result or failure as its MigrationResult. */
export const migrationResult = (closed: Promise<unknown>): Promise<MigrationResult> => runResult(MIGRATION_OUTCOMES, closed);

/** A revert run's result or failure as its RevertResult (refusals before it changed anything stay errors). */
export const revertResult = (closed: Promise<unknown>): Promise<RevertResult> => runResult(REVERT_OUTCOMES, closed);

/** A release's result or failure as its ReleaseResult (a release that touched no target stays an error). */
export const releaseResult = (closed: Promise<unknown>): Promise<ReleaseResult> => runResult(RELEASE_OUTCOMES, closed);
