/**
 * How a migration, revert or release run ended, read through the SDK's client:
 * src/contract/outcome.ts is the one reader (pure, so a parent workflow uses it too); this adds
 * the handle.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { MigrationResult } from '../contract/migration';
import { migrationResult } from '../contract/outcome';

export { MalformedOutcomeError, migrationResult, outcomeOfFailure, releaseResult, revertResult } from '../contract/outcome';

/** handle.result() as a MigrationResult, whichever way the run closed. */
export function resultOf(handle: Pick<WorkflowHandle, 'result'>): Promise<MigrationResult> {
  return migrationResult(handle.result());
}
