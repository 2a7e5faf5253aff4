/**
 * How a migration, revert or release run ended, read through the SDK's client:
 * workflows/outcome.ts is the one reader (pure, so a parent workflow uses it too); this adds
 * the handle.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { MigrationResult } from '../../workflows/definitions';
import { migrationResult } from '../../workflows/outcome';

export { MalformedOutcomeError, migrationResult, outcomeOfFailure, releaseResult, revertResult } from '../../workflows/outcome';

/** handle.result() as a MigrationResult, whichever way the run closed. */
export function resultOf(handle: Pick<WorkflowHandle, 'result'>): Promise<MigrationResult> {
  return migrationResult(handle.result());
}
