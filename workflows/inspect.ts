import { proxyActivities } from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';
import type { AuditVerifyInput, AuditVerifyReport, DriftInput, DriftReport, LivePlanInput, LivePlanReport, SnapshotsInput, SnapshotsReport, UnlockInput, UnlockReport } from '../src/contract/migration';

const { inspectDrift, manageSnapshots, planOnTarget, unlockTarget, verifyAuditLog } = proxyActivities<GodwitActivities>({
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

/** `godwit plan --target`: the plan against the live catalog, made where the connection string lives. */
export async function planWorkflow(input: LivePlanInput): Promise<LivePlanReport> {
  const what = input.manifests.length === 1 ? input.manifests[0]!.id : `${input.manifests.length} manifests`;
  return planOnTarget.executeWithOptions({ summary: `plan ${what} against ${input.target}` }, [input]);
}

/** `godwit audit verify`: the chain is read on a worker; the heads it is held against come from Temporal, in the input. */
export async function auditVerifyWorkflow(input: AuditVerifyInput): Promise<AuditVerifyReport> {
  return verifyAuditLog.executeWithOptions({ summary: `audit chain of ${input.target} against ${input.recorded.length} recorded head(s)` }, [input]);
}
