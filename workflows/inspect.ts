import { proxyActivities } from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';
import type { AuditVerifyInput, AuditVerifyReport, DriftInput, DriftReport, SnapshotsInput, SnapshotsReport } from './definitions';

const { inspectDrift, manageSnapshots, verifyAuditLog } = proxyActivities<GodwitActivities>({
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

/** `godwit audit verify`: the chain is read on a worker; the heads it is held against come from Temporal, in the input. */
export async function auditVerifyWorkflow(input: AuditVerifyInput): Promise<AuditVerifyReport> {
  return verifyAuditLog.executeWithOptions({ summary: `audit chain of ${input.target} against ${input.recorded.length} recorded head(s)` }, [input]);
}
