import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { runUrl, type TemporalSettings } from '../config/temporal';
import { type DataProgress, type MigrationProgress } from '../../workflows/definitions';
import { stateQuery } from '../../workflows/messages';
import { FINAL_STATES, type MigrationState } from '../lifecycle/states';
import { targetQuery } from './audit-heads';

export interface MigrationStatusRow {
  migrationId: string;
  state: string;
  workflowId: string;
  runId: string;
  status: string;
  startTime: string;
  closeTime: string | null;
  url: string;
  currentStep: string | null;
  /** A batched data step's progress (rows, rate, ETA, pacing), while one runs. */
  data: DataProgress | null;
}

/**
 * What the running step's last heartbeat said about its data (activities/pacing.ts), read
 * from the run's pending activities: the same details the Temporal UI shows for it.
 */
export async function dataProgress(handle: WorkflowHandle): Promise<DataProgress | null> {
  const d = await handle.describe();
  for (const a of d.raw.pendingActivities ?? []) {
    const payload = a.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const details = defaultPayloadConverter.fromPayload<{ data?: DataProgress } | null>(payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
    if (details?.data) return details.data;
  }
  return null;
}

/**
 * A run that closed without finishing its lifecycle (refused in preparation: plan
 * error, drift, unknown target; or terminated) still carries the last state it
 * recorded, often `planned`. Say how the run ended instead: `failed`, `terminated`...
 * rollback_failed is kept: it tells a human the database needs them.
 */
function closedState(recorded: string, status: string): string {
  if (status === 'RUNNING' || status === 'COMPLETED' || recorded === 'rollback_failed') return recorded;
  if (FINAL_STATES.includes(recorded as MigrationState)) return recorded;
  return status.toLowerCase();
}

/** Latest run of each migration on a target, from Temporal's visibility store. */
export async function migrationStatus(client: Client, settings: TemporalSettings, target: string, limit = 200): Promise<MigrationStatusRow[]> {
  const seen = new Map<string, MigrationStatusRow>();
  let n = 0;
  for await (const wf of client.workflow.list({ query: targetQuery(target) })) {
    if (++n > limit) break;
    const sa = wf.typedSearchAttributes;
    const migrationId = (sa.getAll().find((p) => p.key.name === 'GodwitMigrationId')?.value as string | undefined) ?? wf.workflowId;
    if (seen.has(migrationId)) continue; // list is newest first
    const recorded = (sa.getAll().find((p) => p.key.name === 'GodwitState')?.value as string | undefined) ?? 'unknown';
    seen.set(migrationId, {
      migrationId,
      state: closedState(recorded, wf.status.name),
      workflowId: wf.workflowId,
      runId: wf.runId,
      status: wf.status.name,
      startTime: wf.startTime.toISOString(),
      closeTime: wf.closeTime?.toISOString() ?? null,
      url: runUrl(settings, wf.workflowId, wf.runId),
      currentStep: null,
      data: null,
    });
  }
  const rows = [...seen.values()].sort((a, b) => a.migrationId.localeCompare(b.migrationId, 'en', { numeric: true }));
  await Promise.all(
    rows
      .filter((r) => r.status === 'RUNNING')
      .map(async (r) => {
        try {
          // A run with no worker to answer must not hang `status`: give up on the live view after 2 s.
          const handle = client.workflow.getHandle(r.workflowId, r.runId);
          const p: MigrationProgress = await Promise.race([
            handle.query(stateQuery),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), 2_000).unref()),
          ]);
          r.state = p.state;
          r.currentStep = p.currentStep;
          r.data = await dataProgress(handle).catch(() => null);
        } catch {
          // no worker to answer: keep what visibility says
        }
      }),
  );
  return rows;
}
