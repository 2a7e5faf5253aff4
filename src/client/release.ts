/**
 * Starting, following and finding releases (workflows/release.ts) through the SDK's client:
 * what `godwit apply --fleet`, `apply --atomic`, `status --fleet` and the tests use.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { runUrl, type TemporalSettings } from '../config/temporal';
import { loadSqlParser, needsSqlParser, planManifest } from '../operations';
import { emptySchemaModel } from '../db/schema-model';
import type { LoadedManifest } from '../manifest';
import { GodwitMigrationIdKey, GodwitStateKey } from '../contract/messages';
import { releaseStateQuery } from '../contract/release-messages';
import { FINAL_RELEASE_STATES, FLEET_RELEASE_PREFIX, RELEASE_WORKFLOW_TYPE, type ReleaseInput, type ReleaseManifest, type ReleaseProgress, type ReleaseResult } from '../contract/release';
import type { ReleaseWorkflow } from '../contract/release';
import { failureMessage } from '../contract/child-outcome';
import { releaseResult } from '../contract/outcome';
import { migrationInput } from './start';
import { explainTemporalError, isUnavailable, MigrationAlreadyRunningError, MigrationFailedError } from './errors';

export type ReleaseHandle = WorkflowHandle<ReleaseWorkflow>;

/** Each manifest as every target's run takes it, with its offline plan for the UI. */
export async function releaseManifests(loaded: LoadedManifest[], requestedBy: string): Promise<ReleaseManifest[]> {
  const out: ReleaseManifest[] = [];
  for (const l of loaded) {
    if (needsSqlParser(l.manifest)) await loadSqlParser();
    const plan = planManifest(l.manifest, emptySchemaModel(), { offline: true });
    const { target: _target, ...input } = migrationInput({ target: '', loaded: l, requestedBy });
    out.push({ input, planLines: plan.map((s) => `${s.index}. ${s.summary} (risk ${s.risk})`) });
  }
  return out;
}

/** Starts the release `workflowId`; refused while one with the same id runs. */
export async function startRelease(client: Client, settings: TemporalSettings, workflowId: string, input: ReleaseInput): Promise<ReleaseHandle> {
  const ids = input.manifests.map((m) => m.input.migrationId);
  const where = input.fleet ? `fleet ${input.fleet} (${input.targets.length} targets)` : input.targets[0]!;
  try {
    await client.workflow.start<ReleaseWorkflow>(RELEASE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: settings.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: GodwitMigrationIdKey, value: ids.at(-1)! },
        { key: GodwitStateKey, value: 'checking' },
      ],
      staticSummary: `release ${ids.length === 1 ? ids[0] : `${ids[0]} … ${ids.at(-1)}`} → ${where}`,
      staticDetails: [
        `**release** of ${ids.join(', ')} on ${where}, requested by ${input.requestedBy}`,
        `canaries: ${input.canaries.join(', ') || 'none'}; max_parallel ${input.maxParallel}; halts at ${input.failureThreshold} failed target(s)`,
      ].join('\n'),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new MigrationAlreadyRunningError(`a release of ${ids.at(-1)} is already running on ${where} (workflow ${workflowId}); follow it with \`godwit status${input.fleet ? ` --fleet ${input.fleet}` : ''}\` or in the UI: ${runUrl(settings, workflowId)}`);
    }
    throw explainTemporalError(settings, err);
  }
  // No run id: the handle follows the release through continue-as-new.
  return client.workflow.getHandle<ReleaseWorkflow>(workflowId);
}

/**
 * Follows a release to its end, reporting its progress (its state query, polled) as it
 * changes. A release refused before it touched a target (unreachable targets) is
 * MigrationFailedError. Waits through a Temporal server restart.
 */
export async function watchRelease(handle: ReleaseHandle, onProgress: (p: ReleaseProgress) => void, opts: { pollMs?: number } = {}): Promise<ReleaseResult> {
  let finished = false;
  const result = (async () => {
    let unavailableSince: number | undefined;
    for (;;) {
      try {
        // A release that does not end applied fails, carrying its ReleaseResult: read as a result.
        return await releaseResult(handle.result());
      } catch (err) {
        if (isUnavailable(err) && Date.now() - (unavailableSince ??= Date.now()) < 120_000) {
          await new Promise((r) => setTimeout(r, 1_000));
          continue;
        }
        throw err;
      }
    }
  })().finally(() => {
    finished = true;
  });
  const settled = result.then(
    () => 'done' as const,
    () => 'done' as const,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    while (!finished) {
      const tick = new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), opts.pollMs ?? 500)));
      if ((await Promise.race([tick, settled])) === 'done') break;
      const query = handle.query(releaseStateQuery).catch(() => null);
      inFlight = query;
      const p = await Promise.race([query, settled]);
      if (p === 'done') break;
      if (p !== null) onProgress(p);
    }
  } finally {
    clearTimeout(timer);
    await inFlight;
  }
  try {
    const r = await result;
    onProgress(r);
    return r;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const { message, type } = failureMessage(err.cause);
      throw new MigrationFailedError(message, type ?? undefined, handle.workflowId, '');
    }
    throw err;
  }
}

export interface ReleaseSummary {
  workflowId: string;
  runId: string;
  status: string;
  startTime: string;
  url: string;
  progress: ReleaseProgress | null;
  /** Why the release failed before it touched a target, when it did. */
  failure: string | null;
}

/** The latest release of a fleet, with its progress (live while it runs), or null when it has had none. */
export async function latestRelease(client: Client, settings: TemporalSettings, fleet: string): Promise<ReleaseSummary | null> {
  const prefix = `${FLEET_RELEASE_PREFIX}${fleet}/`;
  let found: { workflowId: string; runId: string; status: string; startTime: Date } | null = null;
  // Newest first; releases are few, so the prefix is matched here rather than in the query.
  let n = 0;
  for await (const wf of client.workflow.list({ query: `WorkflowType = '${RELEASE_WORKFLOW_TYPE}'` })) {
    if (++n > 1000) break;
    if (!wf.workflowId.startsWith(prefix)) continue;
    if (found === null || wf.startTime > found.startTime) found = { workflowId: wf.workflowId, runId: wf.runId, status: wf.status.name, startTime: wf.startTime };
  }
  if (found === null) return null;
  const handle = client.workflow.getHandle<ReleaseWorkflow>(found.workflowId, found.runId);
  const described = await handle.describe();
  let progress: ReleaseProgress | null = null;
  let failure: string | null = null;
  if (described.status.name === 'RUNNING') {
    progress = await client.connection.withDeadline(Date.now() + 5_000, () => handle.query(releaseStateQuery)).catch(() => null);
  } else if (described.status.name === 'COMPLETED' || described.status.name === 'FAILED') {
    // A release that did not end applied fails carrying its ReleaseResult; one that touched no target carries none.
    try {
      progress = await releaseResult(handle.result());
    } catch (err) {
      failure = failureMessage(err instanceof WorkflowFailedError ? err.cause : err).message;
    }
  } else if (described.status.name === 'CONTINUED_AS_NEW') {
    progress = await client.workflow.getHandle<ReleaseWorkflow>(found.workflowId).query(releaseStateQuery).catch(() => null);
  } else {
    failure = await handle.result().then(
      () => null,
      (err: unknown) => failureMessage(err instanceof WorkflowFailedError ? err.cause : err).message,
    );
  }
  return {
    workflowId: found.workflowId,
    runId: found.runId,
    status: described.status.name,
    startTime: found.startTime.toISOString(),
    url: runUrl(settings, found.workflowId, found.runId),
    progress,
    failure,
  };
}

export const isFinalRelease = (p: ReleaseProgress) => FINAL_RELEASE_STATES.includes(p.state);
