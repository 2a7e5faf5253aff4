import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter, type TypedSearchAttributes } from '@temporalio/common';
import { runUrl, type TemporalSettings } from '../config/temporal';
import { SEARCH_ATTRIBUTE, type DataProgress, type MigrationProgress } from '../contract/migration';
import { stateQuery } from '../contract/messages';
import { FINAL_STATES, type MigrationState } from '../lifecycle/states';
import { FINAL_REVERT_STATES, type RevertState } from '../lifecycle/revert-machine';
import { targetQuery } from './audit-heads';
import type { HealthProgress } from '../health/types';
import { REVERT_CHAIN_MEMO, REVERT_WORKFLOW_SUFFIX } from '../contract/revert';

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
  /** The bake's health probes and their last samples, on_unhealthy and max_duration, while the run is open and has them. */
  health?: HealthProgress;
}

/**
 * What the running step's last heartbeat said about its data (activities/pacing.ts), read
 * from the run's pending activities: the same details the Temporal UI shows for it.
 */
export function dataProgress(described: WorkflowExecutionDescription): DataProgress | null {
  for (const a of described.raw.pendingActivities ?? []) {
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
  // Runs that end rejected, rolled back or resolved by hand fail (their failed-outcome patches), in their final state.
  if (FINAL_STATES.includes(recorded as MigrationState) || FINAL_REVERT_STATES.includes(recorded as RevertState)) return recorded;
  return status.toLowerCase();
}

/** The lifecycle state a run last recorded in its search attributes. */
function recordedState(attributes: TypedSearchAttributes): string | undefined {
  const value = attributes.getAll().find((p) => p.key.name === SEARCH_ATTRIBUTE.state)?.value;
  return typeof value === 'string' ? value : undefined;
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
    const recorded = recordedState(sa) ?? 'unknown';
    // A revert run with --to speaks for every migration of its chain (workflows/revert.ts).
    const chain = wf.memo?.[REVERT_CHAIN_MEMO];
    // A revert refused before it started (no chain in its memo) changed nothing: the migration's own run says where it is.
    if (wf.workflowId.endsWith(REVERT_WORKFLOW_SUFFIX) && !Array.isArray(chain) && wf.status.name !== 'RUNNING') continue;
    for (const id of Array.isArray(chain) ? (chain as string[]) : [migrationId]) {
      if (seen.has(id)) continue;
      seen.set(id, {
        migrationId: id,
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
  }
  const rows = [...seen.values()].sort((a, b) => a.migrationId.localeCompare(b.migrationId, 'en', { numeric: true }));
  await Promise.all(rows.filter((r) => r.status === 'RUNNING').map((r) => refreshOpenRow(client, r)));
  return rows;
}

/** How long `status` waits for a running migration's live state before it keeps what visibility says. */
const LIVE_STATE_TIMEOUT_MS = 2_000;

/**
 * A row the visibility store lists as running, brought up to date. That store is written
 * after the fact: a run that closed a moment ago (`apply --wait` just returned) can still be
 * listed as running, in the state it last recorded. The run's own record (describe) says
 * whether it is open; only then is its live state asked for, with a deadline, so that a run
 * no worker answers for cannot hang `status`, and no call is left in flight when the
 * connection closes (a call the SDK retries on a closed connection throws from its timer).
 */
async function refreshOpenRow(client: Client, row: MigrationStatusRow): Promise<void> {
  const handle = client.workflow.getHandle(row.workflowId, row.runId);
  try {
    const described = await handle.describe();
    const status = described.status.name;
    if (status !== 'RUNNING') {
      row.status = status;
      row.closeTime = described.closeTime?.toISOString() ?? null;
      row.state = closedState(recordedState(described.typedSearchAttributes) ?? row.state, status);
      return;
    }
    row.data = dataProgress(described);
  } catch {
    // its history is gone (retention) or the server did not answer: keep what visibility says
    return;
  }
  try {
    const p: MigrationProgress = await client.connection.withDeadline(Date.now() + LIVE_STATE_TIMEOUT_MS, () => handle.query(stateQuery));
    row.state = p.state;
    row.currentStep = p.currentStep;
    if (p.health) row.health = p.health;
  } catch {
    // no worker answered in time: keep what visibility says
  }
}
