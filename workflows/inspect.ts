import { proxyActivities } from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';
import type { DriftInput, DriftReport, SnapshotsInput, SnapshotsReport, UnlockInput, UnlockReport } from './definitions';

const { inspectDrift, manageSnapshots, unlockTarget } = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** `godwit verify`: runs where the target's connection string lives, on a worker. */
export async function verifyWorkflow(input: DriftInput): Promise<DriftReport> {
  return inspectDrift.executeWithOptions({ summary: `drift check on ${input.target}` }, [input]);
}

/** `godwit snapshots list|prune`. */
export async function snapshotsWorkflow(input: SnapshotsInput): Promise<SnapshotsReport> {
  return manageSnapshots.executeWithOptions({ summary: `${input.action} snapshots on ${input.target}` }, [input]);
}

/** `godwit unlock`: frees the target only when Temporal says its lease holder's run is closed. */
export async function unlockWorkflow(input: UnlockInput): Promise<UnlockReport> {
  return unlockTarget.executeWithOptions({ summary: `unlock ${input.target} (asked by ${input.by})` }, [input]);
}
