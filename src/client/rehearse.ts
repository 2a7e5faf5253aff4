import { randomBytes } from 'node:crypto';
import { WorkflowFailedError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import { healthPolicyShape } from '../health/schema';
import { manifestChecksum, type LoadedManifest, type Manifest } from '../manifest';
import { REHEARSAL_QUERY, REHEARSAL_WORKFLOW_TYPE, rehearsalWorkflowId, type RehearsalData, type RehearsalInput, type RehearsalManifest, type RehearsalReport } from '../contract/rehearse';
import { GodwitTargetKey } from '../contract/messages';
import { GodwitError } from '../errors';

/** Thrown when a rehearsal could not run (unknown target, pg_dump missing, database unreachable...). */
export class RehearsalFailedError extends GodwitError {
  override readonly name = 'RehearsalFailedError';
}

/** 12 hex digits: the scratch database is `godwit_rehearse_<id>`. */
export function newRehearsalId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * The manifest as the scratch copy runs it: the same operations and checks, with a policy for a
 * quiet copy that nobody else writes to: no approval, no bake (so no health probes: they watch
 * production, and max_duration is about production's timing), and a whole-table data proof
 * (every table a migration touches must come back equal, not only what its snapshots hold).
 */
export function rehearsalManifest(loaded: LoadedManifest): RehearsalManifest {
  const policy: Record<string, unknown> = { ...loaded.manifest.policy, approval: 'never', bake_seconds: 0, data_proof: 'whole_table' };
  for (const key of Object.keys(healthPolicyShape)) delete policy[key];
  const manifest = { ...loaded.manifest, policy } as unknown as Manifest;
  return {
    id: manifest.id,
    checksum: loaded.checksum,
    rehearsal: { manifest, checksum: manifestChecksum(manifest), description: manifest.description, checks: manifest.checks.post, policy: manifest.policy },
  };
}

export interface RehearsalRequest {
  target: string;
  manifests: readonly LoadedManifest[];
  data: RehearsalData;
  keep: boolean;
  requestedBy: string;
  rehearsalId?: string;
}

export function rehearsalInput(req: RehearsalRequest): RehearsalInput {
  return {
    target: req.target,
    rehearsalId: req.rehearsalId ?? newRehearsalId(),
    requestedBy: req.requestedBy,
    manifests: req.manifests.map(rehearsalManifest),
    data: req.data,
    keep: req.keep,
  };
}

export async function startRehearsal(client: Client, settings: TemporalSettings, input: RehearsalInput): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return client.workflow.start(REHEARSAL_WORKFLOW_TYPE, {
    workflowId: rehearsalWorkflowId(input.target, input.rehearsalId),
    taskQueue: settings.taskQueue,
    args: [input],
    typedSearchAttributes: [{ key: GodwitTargetKey, value: input.target }],
    staticSummary: `rehearsal of ${input.manifests.length} migration(s) of ${input.target} on a scratch copy`,
  });
}

/** Waits for the rehearsal's report, calling `onReport` with each new state of it (rows as they come). */
export async function watchRehearsal(handle: WorkflowHandle, onReport: (r: RehearsalReport) => void, intervalMs = 1000): Promise<RehearsalReport> {
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  }) as Promise<RehearsalReport>;
  result.catch(() => undefined);
  while (!done) {
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, intervalMs))]);
    if (done) break;
    try {
      onReport(await handle.query<RehearsalReport>(REHEARSAL_QUERY));
    } catch {
      // not answering yet (first task not run): ask again next time
    }
  }
  try {
    return await result;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      let e: unknown = err.cause;
      while (e && (e as { cause?: unknown }).cause) e = (e as { cause?: unknown }).cause;
      throw new RehearsalFailedError((e as Error | undefined)?.message ?? err.message);
    }
    throw err;
  }
}
