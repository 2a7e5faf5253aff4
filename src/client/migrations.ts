import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { LoadedManifest } from '../manifest';
import { loadSqlParser, planManifest } from '../operations';
import { emptySchemaModel } from '../db/schema-model';
import { runUrl, type TemporalSettings } from '../config/temporal';
import {
  GodwitMigrationIdKey,
  GodwitStateKey,
  GodwitTargetKey,
  migrationWorkflowId,
  stateQuery,
  WORKFLOW_TYPE,
  type FaultInjection,
  type MigrationInput,
  type MigrationProgress,
  type MigrationResult,
  type ProgressEvent,
} from '../../workflows/definitions';
import type { migrationWorkflow } from '../../workflows/migration';
import { MigrationState } from '../lifecycle/states';

/** Thrown when the same migration is already running on the target. */
export class MigrationAlreadyRunningError extends Error {
  override readonly name = 'MigrationAlreadyRunningError';
}

/** Thrown when a migration run failed before it changed anything (plan error, busy target, unknown target...). */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    message: string,
    readonly type: string | undefined,
    readonly workflowId: string,
    readonly runId: string,
  ) {
    super(message);
  }
}

export interface StartOptions {
  target: string;
  loaded: LoadedManifest;
  requestedBy: string;
  faults?: FaultInjection;
}

export function migrationInput(opts: StartOptions): MigrationInput {
  const { manifest, checksum } = opts.loaded;
  return {
    target: opts.target,
    migrationId: manifest.id,
    description: manifest.description,
    manifest,
    checksum,
    requestedBy: opts.requestedBy,
    checks: manifest.checks.post,
    policy: manifest.policy,
    ...(opts.faults ? { faults: opts.faults } : {}),
  };
}

/** Starts one migration as its own workflow `godwit/<target>/<id>`. */
export async function startMigration(client: Client, settings: TemporalSettings, opts: StartOptions): Promise<WorkflowHandleWithFirstExecutionRunId<typeof migrationWorkflow>> {
  const { manifest, checksum } = opts.loaded;
  const workflowId = migrationWorkflowId(opts.target, manifest.id);
  await loadSqlParser();
  const offline = planManifest(manifest, emptySchemaModel(), { offline: true });
  try {
    return await client.workflow.start<typeof migrationWorkflow>(WORKFLOW_TYPE, {
      workflowId,
      taskQueue: settings.taskQueue,
      args: [migrationInput(opts)],
      typedSearchAttributes: [
        { key: GodwitTargetKey, value: opts.target },
        { key: GodwitMigrationIdKey, value: manifest.id },
        { key: GodwitStateKey, value: MigrationState.planned },
      ],
      staticSummary: `${manifest.id} → ${opts.target}: ${manifest.description || `${offline.length} steps`}`,
      staticDetails: [
        `**${manifest.id}** on \`${opts.target}\`, requested by ${opts.requestedBy}`,
        manifest.description,
        `checksum \`${checksum}\``,
        '',
        ...offline.map((s) => `${s.index}. ${s.summary} (risk ${s.risk})`),
        ...(manifest.checks.post.length ? ['', 'post checks:', ...manifest.checks.post.map((c) => `- ${c.name}`)] : []),
      ].join('\n'),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new MigrationAlreadyRunningError(
        `migration ${manifest.id} is already running on target '${opts.target}' (workflow ${workflowId}); ` +
          `watch it with \`godwit status --target ${opts.target}\` or in the UI: ${runUrl(settings, workflowId)}`,
      );
    }
    throw err;
  }
}

export type { ProgressEvent };

export type WatchOutcome =
  | { kind: 'finished'; result: MigrationResult }
  /** The run is open in rollback_failed: a human must retry or resolve it. */
  | { kind: 'waiting'; progress: MigrationProgress };

/**
 * Follows a run until it finishes or stops to wait for a human, reporting each
 * change. Progress comes from stateQuery, polled; the final word from the result,
 * a long poll that settles the moment the run closes.
 *
 * The loop ends as soon as the result is in: a query still in flight is abandoned
 * and the pending poll timer cleared, so a CLI process exits right away instead of
 * waiting out a query or the rest of a poll interval. The first query goes out
 * after one interval, not at once: a query sent before the run's first workflow
 * task has completed only waits for it, and a short run ends without any.
 */
export async function watchMigration(
  handle: WorkflowHandle<typeof migrationWorkflow>,
  onEvent: (e: ProgressEvent) => void,
  opts: { pollMs?: number; stopWhenWaiting?: boolean } = {},
): Promise<WatchOutcome> {
  let last: MigrationProgress | null = null;
  const report = (p: MigrationProgress) => {
    for (const e of p.events.slice(last?.events.length ?? 0)) onEvent(e);
    last = p;
  };
  const resultPromise = handle.result().then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const finished = resultPromise.then(() => 'finished' as const);
  const poll = opts.pollMs ?? 100;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), poll)));
  // A query still being retried when the caller closes the connection would throw from
  // the SDK's retry timer and crash the process, so it is always let to settle.
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    let next = tick();
    while ((await Promise.race([next, finished])) === 'tick') {
      next = tick(); // the interval runs from the start of one query to the start of the next
      // not queryable yet (first workflow task pending) or already closed: the result settles it
      const query = handle.query(stateQuery).catch(() => null);
      inFlight = query;
      const p = await Promise.race([query, finished]);
      if (p === 'finished') break;
      if (p === null) continue;
      report(p);
      if (opts.stopWhenWaiting !== false && p.state === 'rollback_failed') return { kind: 'waiting', progress: p };
    }
  } finally {
    clearTimeout(timer);
    await inFlight;
  }
  const settled = await resultPromise;
  if (!settled.ok) {
    const err = settled.e;
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause as { message?: string; type?: string } | undefined;
      throw new MigrationFailedError(cause?.message ?? err.message, cause?.type, handle.workflowId, (await handle.describe()).runId);
    }
    throw err;
  }
  report(settled.r);
  return { kind: 'finished', result: settled.r };
}
