/**
 * How a release reads the end of a child run: one function per child kind, for a result the
 * run returned and for a run that failed. A migration or revert run that does not succeed may
 * fail with its result as the failure's details[0] (runs of newer code do; src/contract/outcome.ts
 * is the one reader of it); a run that failed before it changed anything (plan error, busy
 * target, refused revert) carries none. Pure: the release workflow and unit tests share it.
 */
import { ApplicationFailure, ChildWorkflowFailure, TemporalFailure } from '@temporalio/common';
import type { MigrationResult, RollbackProof } from './migration';
import type { RevertResult } from './revert';
import { MIGRATION_OUTCOMES, resultOfFailure, REVERT_OUTCOMES, type OutcomeKind } from './outcome';

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export type MigrationReading =
  /** alreadyApplied: nothing ran; the release did not apply it. */
  | { kind: 'applied'; alreadyApplied: boolean }
  /** It failed and rolled itself back, proven; or was rejected, or resolved by a person: nothing of it stays. */
  | { kind: 'not_applied'; state: string; reason: string; proof: RollbackProof | null }
  /** It waits in rollback_failed for a person. */
  | { kind: 'needs_person'; state: string; reason: string }
  /** It failed before changing anything (refused, unreachable, already running...), or closed without a result. */
  | { kind: 'failed'; reason: string; type: string | null };

export type RevertReading =
  | { kind: 'reverted'; result: RevertResult }
  | { kind: 'needs_person'; state: string; reason: string; result: RevertResult | null };

/** The innermost message of a failure chain (a child's ApplicationFailure inside ChildWorkflowFailure). */
export function failureMessage(err: unknown): { message: string; type: string | null } {
  let e = err;
  while (e instanceof ChildWorkflowFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { message: e.message, type: e.type ?? null };
  if (e instanceof TemporalFailure) return { message: e.message, type: e.name };
  if (e instanceof Error) return { message: e.message, type: e.name };
  return { message: String(err), type: null };
}

/**
 * The result a failed child carries, or null. A failure that names an outcome but does not hold
 * its result is read as a failure without one (with its message), never thrown: a throw here
 * would fail the release's workflow task over and over.
 */
function carried<R extends { outcome: string }>(kind: OutcomeKind<R>, err: unknown): R | null {
  try {
    return resultOfFailure(kind, err);
  } catch {
    return null;
  }
}

export function readMigrationResult(result: MigrationResult): MigrationReading {
  switch (result.state) {
    case 'applied':
      return { kind: 'applied', alreadyApplied: result.alreadyApplied };
    case 'rollback_failed':
      return { kind: 'needs_person', state: result.state, reason: result.reason ?? 'rollback not proven' };
    default:
      return { kind: 'not_applied', state: result.state, reason: result.reason ?? result.state, proof: result.rollback };
  }
}

/** A child migration run's end, from what it returned or how it failed. */
export function readMigrationChild(settled: Settled<MigrationResult>): MigrationReading {
  if (settled.ok) return readMigrationResult(settled.value);
  const result = carried(MIGRATION_OUTCOMES, settled.error);
  if (result) return readMigrationResult(result);
  const { message, type } = failureMessage(settled.error);
  return { kind: 'failed', reason: message, type };
}

/** A child revert run's end: reverted (proven), or anything else, which a person has to look at. */
export function readRevertChild(settled: Settled<RevertResult>): RevertReading {
  const result = settled.ok ? settled.value : carried(REVERT_OUTCOMES, settled.error);
  if (result && result.state === 'reverted') return { kind: 'reverted', result };
  if (result) return { kind: 'needs_person', state: result.state, reason: result.reason ?? result.state, result };
  return { kind: 'needs_person', state: 'refused', reason: `the revert did not run: ${failureMessage(settled.ok ? null : settled.error).message}`, result: null };
}
