/**
 * Starting and following migrations through the SDK's client: what `godwit apply`, the
 * tests, scripts and the benches use.
 */
import {
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import { GodwitMigrationIdKey, GodwitStateKey, GodwitTargetKey, stateQuery } from '../contract/messages';
import { SEARCH_ATTRIBUTE, WORKFLOW_TYPE, type DataProgress, type MigrationResult } from '../contract/migration';
import type { MigrationWorkflow } from '../contract/migration';
import { alreadyRunningError, explainTemporalError, isUnavailable, MigrationFailedError } from './errors';
import { migrationStartRequest, type StartOptions } from './start';
import { watchRun, type MigrationRun, type ProgressEvent, type WatchOutcome } from './watch';
import { dataProgress } from './status';
import { migrationResult } from './outcome';

export { MigrationAlreadyRunningError, MigrationFailedError } from './errors';
export { migrationInput, type StartOptions } from './start';
export { watchRun, type MigrationRun, type ProgressEvent, type WatchOutcome } from './watch';
export { migrationResult, outcomeOfFailure, resultOf, MalformedOutcomeError } from './outcome';

/**
 * How long a run is followed through a server that cannot be reached (a restart, a
 * failover) before the CLI gives up on it; the run itself goes on regardless.
 */
const UNAVAILABLE_BUDGET_MS = 120_000;

/** Starts one migration as its own workflow `godwit/<target>/<id>`. */
export async function startMigration(client: Client, settings: TemporalSettings, opts: StartOptions): Promise<WorkflowHandleWithFirstExecutionRunId<MigrationWorkflow>> {
  const request = await migrationStartRequest(opts);
  const keys: Record<string, typeof GodwitTargetKey> = { [SEARCH_ATTRIBUTE.target]: GodwitTargetKey, [SEARCH_ATTRIBUTE.migrationId]: GodwitMigrationIdKey, [SEARCH_ATTRIBUTE.state]: GodwitStateKey };
  try {
    return await client.workflow.start<MigrationWorkflow>(WORKFLOW_TYPE, {
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
    throw explainTemporalError(settings, err);
  }
}

/** How a run that did not complete ended, as MigrationFailedError: the workflow's own failure (PlanError, LeaseHeldError...), or what closed it. */
async function failedRun(handle: WorkflowHandle<MigrationWorkflow>, err: WorkflowFailedError): Promise<MigrationFailedError> {
  const runId = (await handle.describe()).runId;
  const failed = (message: string, type: string | undefined) => new MigrationFailedError(message, type, handle.workflowId, runId);
  const cause = err.cause;
  if (cause instanceof TerminatedFailure) {
    // The SDK's message when the terminate request gave no reason.
    const reason = cause.message === 'Workflow execution terminated' ? '' : cause.message;
    return failed(`the workflow was terminated${reason ? `: ${reason}` : ''}`, 'Terminated');
  }
  if (cause instanceof CancelledFailure) return failed('the workflow was cancelled', 'Cancelled');
  if (cause instanceof TimeoutFailure) return failed('the workflow timed out', 'TimedOut');
  const app = cause as { message?: string; type?: string } | undefined;
  return failed(app?.message ?? err.message, app?.type);
}

export interface FollowOptions {
  /** For errors that say what to do (unreachable, refused); without it they come as the SDK threw them. */
  settings?: Pick<TemporalSettings, 'address' | 'namespace' | 'connection'>;
  /** Aborting it ends a wait for the result that is still open (a run parked for a human). */
  signal?: AbortSignal;
}

/**
 * An SDK workflow handle as a MigrationRun: its failure as MigrationFailedError. Its result
 * is waited for through a server restart: calls that find the server unavailable are
 * retried (the SDK retries each call; this goes on for UNAVAILABLE_BUDGET_MS).
 */
export function sdkRun(handle: WorkflowHandle<MigrationWorkflow>, opts: FollowOptions = {}): MigrationRun {
  const { connection } = handle.client;
  const result = () => (opts.signal ? connection.withAbortSignal(opts.signal, () => handle.result()) : handle.result());
  return {
    workflowId: handle.workflowId,
    runId: 'firstExecutionRunId' in handle ? String(handle.firstExecutionRunId) : '',
    progress: () => handle.query(stateQuery),
    data: async () => dataProgress(await handle.describe()),
    async result(): Promise<MigrationResult> {
      let unavailableSince: number | undefined;
      for (;;) {
        try {
          // a run that did not end applied fails with its result as the failure's detail
          return await migrationResult(result());
        } catch (err) {
          if (err instanceof WorkflowFailedError) throw await failedRun(handle, err);
          if (isUnavailable(err) && !opts.signal?.aborted && Date.now() - (unavailableSince ??= Date.now()) < UNAVAILABLE_BUDGET_MS) {
            await new Promise((r) => setTimeout(r, 1_000));
            continue;
          }
          throw opts.settings ? explainTemporalError(opts.settings, err) : err;
        }
      }
    },
  };
}

/**
 * watchRun for an SDK handle (see watch.ts). When the watch ends before the run closes (it
 * waits for a human in rollback_failed), the wait for its result is cancelled, so that
 * closing the connection does not wait out the server's long poll.
 */
export async function watchMigration(
  handle: WorkflowHandle<MigrationWorkflow>,
  onEvent: (e: ProgressEvent) => void,
  opts: { pollMs?: number; firstPollMs?: number; stopWhenWaiting?: boolean; settings?: FollowOptions['settings']; onData?: (d: DataProgress, step: string) => void } = {},
): Promise<WatchOutcome> {
  const done = new AbortController();
  try {
    return await watchRun(sdkRun(handle, { ...opts, signal: done.signal }), onEvent, opts);
  } finally {
    done.abort();
  }
}
