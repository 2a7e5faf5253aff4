import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import type { LoadedManifest } from '../manifest';
import {
  AUDIT_VERIFY_WORKFLOW_TYPE,
  PLAN_WORKFLOW_TYPE,
  SNAPSHOTS_WORKFLOW_TYPE,
  UNLOCK_WORKFLOW_TYPE,
  VERIFY_WORKFLOW_TYPE,
  type AuditVerifyInput,
  type AuditVerifyReport,
  type DriftReport,
  type LivePlanReport,
  type SnapshotsInput,
  type SnapshotsReport,
  type UnlockInput,
  type UnlockReport,
} from '../contract/migration';
import { GodwitTargetKey } from '../contract/messages';
import { recordedAuditHeads } from './audit-heads';
import { InspectionFailedError } from './errors';

export { InspectionFailedError } from './errors';

async function runShort<T>(client: Client, settings: TemporalSettings, type: string, target: string, idPart: string, input: unknown): Promise<T> {
  try {
    return await client.workflow.execute<(arg: unknown) => Promise<T>>(type, {
      workflowId: `godwit/${target}/${idPart}-${randomUUID()}`,
      taskQueue: settings.taskQueue,
      args: [input],
      typedSearchAttributes: [{ key: GodwitTargetKey, value: target }],
      staticSummary: `${idPart} on ${target}`,
      workflowExecutionTimeout: '15 minutes',
    });
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause as { cause?: { message?: string }; message?: string } | undefined;
      throw new InspectionFailedError(cause?.cause?.message ?? cause?.message ?? err.message);
    }
    throw err;
  }
}

/** Drift on a target: changed applied manifests and schema changes since the last applied migration. */
export function verifyDrift(client: Client, settings: TemporalSettings, target: string, manifests: readonly LoadedManifest[]): Promise<DriftReport> {
  return runShort(client, settings, VERIFY_WORKFLOW_TYPE, target, 'verify', {
    target,
    manifests: manifests.map((m) => ({ id: m.manifest.id, file: m.file, checksum: m.checksum })),
  });
}

export function manageSnapshots(client: Client, settings: TemporalSettings, input: SnapshotsInput): Promise<SnapshotsReport> {
  return runShort(client, settings, SNAPSHOTS_WORKFLOW_TYPE, input.target, `snapshots-${input.action}`, input);
}

/** Frees a target whose lease holder's run is closed; see UnlockReport. */
export function unlockTarget(client: Client, settings: TemporalSettings, input: UnlockInput): Promise<UnlockReport> {
  return runShort(client, settings, UNLOCK_WORKFLOW_TYPE, input.target, 'unlock', input);
}

/** The plan of each manifest against the target's live catalog, made by a worker without writing to the target. */
export function planAgainstTarget(client: Client, settings: TemporalSettings, target: string, manifests: readonly LoadedManifest[]): Promise<LivePlanReport> {
  return runShort(client, settings, PLAN_WORKFLOW_TYPE, target, 'plan', {
    target,
    manifests: manifests.map((m) => ({ id: m.manifest.id, checksum: m.checksum, manifest: m.manifest })),
  });
}

/**
 * The audit log's hash chain on a target, held against the heads its runs recorded in
 * Temporal. The heads are listed first, so every row they name had committed before the
 * worker reads the log.
 */
export async function verifyAuditLog(client: Client, settings: TemporalSettings, target: string): Promise<AuditVerifyReport> {
  const input: AuditVerifyInput = { target, recorded: await recordedAuditHeads(client, target) };
  return runShort(client, settings, AUDIT_VERIFY_WORKFLOW_TYPE, target, 'audit-verify', input);
}
