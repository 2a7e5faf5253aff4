/**
 * Starting and following a revert (workflows/revert.ts) through the SDK's client: what
 * `godwit revert` and the tests use.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import { GodwitMigrationIdKey, GodwitStateKey, GodwitTargetKey } from '../contract/messages';
import { revertStateQuery } from '../contract/revert-messages';
import { REVERT_WORKFLOW_TYPE, revertWorkflowId, type RevertInput, type RevertProgress, type RevertResult } from '../contract/revert';
import type { RevertWorkflow } from '../contract/revert';
import { RevertState } from '../lifecycle/revert-machine';
import { explainTemporalError, MigrationAlreadyRunningError, MigrationFailedError } from './errors';
import { runUrl } from '../config/temporal';
import { revertResult } from '../contract/outcome';

export type RevertHandle = WorkflowHandle<RevertWorkflow>;

/** Starts the revert `godwit/<target>/<id>/revert` of an applied migration (and with `to`, of the chain back to it). */
export async function startRevert(client: Client, settings: TemporalSettings, input: RevertInput): Promise<WorkflowHandleWithFirstExecutionRunId<RevertWorkflow>> {
  const workflowId = revertWorkflowId(input.target, input.migrationId);
  try {
    return await client.workflow.start<RevertWorkflow>(REVERT_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: settings.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: GodwitTargetKey, value: input.target },
        { key: GodwitMigrationIdKey, value: input.migrationId },
        { key: GodwitStateKey, value: RevertState.revert_planned },
      ],
      staticSummary: `revert ${input.migrationId}${input.to ? ` back to ${input.to}` : ''} on ${input.target}`,
      staticDetails: `**revert** of ${input.migrationId}${input.to ? ` and every migration applied since ${input.to}` : ''} on \`${input.target}\`, requested by ${input.requestedBy}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new MigrationAlreadyRunningError(`a revert of ${input.migrationId} is already running on target '${input.target}' (workflow ${workflowId}); watch it in the UI: ${runUrl(settings, workflowId)}`);
    }
    throw explainTemporalError(settings, err);
  }
}

export type RevertWatchOutcome = { kind: 'finished'; result: RevertResult } | { kind: 'waiting'; progress: RevertProgress };

/**
 * Follows a revert until it finishes or waits for a human in revert_failed, reporting each
 * transition and step as it happens (its state query, polled). A revert refused before it
 * changed anything (later migrations, copies pruned, a busy target) is MigrationFailedError.
 */
export async function watchRevert(handle: RevertHandle, onProgress: (p: RevertProgress) => void, opts: { pollMs?: number } = {}): Promise<RevertWatchOutcome> {
  const done = new AbortController();
  // A revert that ends rejected or resolved by hand fails its run, carrying its RevertResult: read as a result.
  const result = handle.client.connection.withAbortSignal(done.signal, () => revertResult(handle.result())).then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const tick = new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), opts.pollMs ?? 500)));
      if ((await Promise.race([tick, result.then(() => 'done' as const)])) === 'done') break;
      const query = handle.query(revertStateQuery).catch(() => null);
      inFlight = query;
      const p = await query;
      if (p === null) continue;
      onProgress(p);
      if (p.state === 'revert_failed') {
        done.abort(); // stop waiting for a result a human has to bring about
        return { kind: 'waiting', progress: p };
      }
    }
  } finally {
    clearTimeout(timer);
    await inFlight;
  }
  const settled = await result;
  if (!settled.ok) {
    const err = settled.e;
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause as { message?: string; type?: string } | undefined;
      throw new MigrationFailedError(cause?.message ?? err.message, cause?.type, handle.workflowId, (await handle.describe()).runId);
    }
    throw err;
  }
  onProgress(settled.r);
  return { kind: 'finished', result: settled.r };
}
