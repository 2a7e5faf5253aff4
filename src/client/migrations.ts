/**
 * Migrations through the SDK's client: what tests, scripts and the benches use, since
 * they also signal, update and describe the run. The CLI's apply path starts and
 * watches runs through src/client/wire instead, which loads in a fraction of the time.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import { GodwitMigrationIdKey, GodwitStateKey, GodwitTargetKey, stateQuery } from '../../workflows/messages';
import { SEARCH_ATTRIBUTE, WORKFLOW_TYPE } from '../../workflows/definitions';
import type { migrationWorkflow } from '../../workflows/migration';
import { alreadyRunningError, MigrationFailedError } from './errors';
import { migrationStartRequest, type StartOptions } from './start';
import { watchRun, type MigrationRun, type ProgressEvent, type WatchOutcome } from './watch';

export { MigrationAlreadyRunningError, MigrationFailedError } from './errors';
export { migrationInput, type StartOptions } from './start';
export { watchRun, type MigrationRun, type ProgressEvent, type WatchOutcome } from './watch';


/** Starts one migration as its own workflow `godwit/<target>/<id>`. */
export async function startMigration(client: Client, settings: TemporalSettings, opts: StartOptions): Promise<WorkflowHandleWithFirstExecutionRunId<typeof migrationWorkflow>> {
  const request = await migrationStartRequest(opts);
  const keys: Record<string, typeof GodwitTargetKey> = { [SEARCH_ATTRIBUTE.target]: GodwitTargetKey, [SEARCH_ATTRIBUTE.migrationId]: GodwitMigrationIdKey, [SEARCH_ATTRIBUTE.state]: GodwitStateKey };
  try {
    return await client.workflow.start<typeof migrationWorkflow>(WORKFLOW_TYPE, {
      workflowId: request.workflowId,
      taskQueue: settings.taskQueue,
      args: [request.input],
      typedSearchAttributes: Object.entries(request.searchAttributes).map(([name, value]) => {
        const key = keys[name];
        if (key === undefined) throw new Error(`no search attribute key for ${name}`);
        return { key, value };
      }),
      staticSummary: request.summary,
      staticDetails: request.details,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw alreadyRunningError(settings, opts.target, opts.loaded.manifest.id, request.workflowId);
    throw err;
  }
}

/** An SDK workflow handle as a MigrationRun: its failure as MigrationFailedError. */
export function sdkRun(handle: WorkflowHandle<typeof migrationWorkflow>): MigrationRun {
  return {
    workflowId: handle.workflowId,
    runId: 'firstExecutionRunId' in handle ? String(handle.firstExecutionRunId) : '',
    progress: () => handle.query(stateQuery),
    async result() {
      try {
        return await handle.result();
      } catch (err) {
        if (err instanceof WorkflowFailedError) {
          const cause = err.cause as { message?: string; type?: string } | undefined;
          throw new MigrationFailedError(cause?.message ?? err.message, cause?.type, handle.workflowId, (await handle.describe()).runId);
        }
        throw err;
      }
    },
  };
}

/** watchRun for an SDK handle (see watch.ts). */
export function watchMigration(
  handle: WorkflowHandle<typeof migrationWorkflow>,
  onEvent: (e: ProgressEvent) => void,
  opts: { pollMs?: number; firstPollMs?: number; stopWhenWaiting?: boolean } = {},
): Promise<WatchOutcome> {
  return watchRun(sdkRun(handle), onEvent, opts);
}
