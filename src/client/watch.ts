import type { DataProgress, MigrationProgress, MigrationResult, ProgressEvent } from '../contract/migration';

export type { ProgressEvent };

/** A started migration run, as the watcher sees it, whichever client started it. */
export interface MigrationRun {
  readonly workflowId: string;
  readonly runId: string;
  /** The run's progress (its state query); rejects when it cannot answer yet or has closed. */
  progress(): Promise<MigrationProgress>;
  /** Settles when the run closes: its result, or MigrationFailedError when the workflow failed. */
  result(): Promise<MigrationResult>;
  /** A running data step's progress, from its heartbeats (status.ts dataProgress); null when none runs. */
  data?(): Promise<DataProgress | null>;
}

/** How often the watcher asks for a running data step's progress: each ask is a describe call. */
export const DATA_POLL_MS = 2_000;

export type WatchOutcome =
  | { kind: 'finished'; result: MigrationResult }
  /** The run is open in rollback_failed: a human must retry or resolve it. */
  | { kind: 'waiting'; progress: MigrationProgress };

/**
 * Follows a run until it finishes or stops to wait for a human, reporting each
 * change. Progress comes from the state query, polled; the final word from the
 * result, a long poll that settles the moment the run closes.
 *
 * The loop ends as soon as the result is in: a query still in flight is abandoned
 * and the pending poll timer cleared, so a CLI process exits right away instead of
 * waiting out a query or the rest of a poll interval.
 *
 * The first query goes out after `firstPollMs` (default 500), then one every `pollMs`
 * (default 250). Every query is a task for a worker, between the run's own workflow
 * tasks: polling every 100 ms from the start made a short migration about 50 ms slower
 * here. A run shorter than the first delay is reported from its result alone.
 */
export async function watchRun(
  run: MigrationRun,
  onEvent: (e: ProgressEvent) => void,
  opts: { pollMs?: number; firstPollMs?: number; stopWhenWaiting?: boolean; onData?: (d: DataProgress, step: string) => void } = {},
): Promise<WatchOutcome> {
  let dataAt = 0;
  let last: MigrationProgress | null = null;
  const report = (p: MigrationProgress) => {
    for (const e of p.events.slice(last?.events.length ?? 0)) onEvent(e);
    last = p;
  };
  const resultPromise = run.result().then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const finished = resultPromise.then(() => 'finished' as const);
  const poll = opts.pollMs ?? 250;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = (ms = poll) => new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), ms)));
  // A query still being retried when the caller closes the connection would throw from
  // the SDK's retry timer and crash the process, so it is always let to settle.
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    let next = tick(opts.firstPollMs ?? Math.max(poll, 500));
    while ((await Promise.race([next, finished])) === 'tick') {
      next = tick(); // the interval runs from the start of one query to the start of the next
      // not queryable yet (first workflow task pending) or already closed: the result settles it
      const query = run.progress().catch(() => null);
      inFlight = query;
      const p = await Promise.race([query, finished]);
      if (p === 'finished') break;
      if (p === null) continue;
      report(p);
      if (opts.stopWhenWaiting !== false && p.state === 'rollback_failed') return { kind: 'waiting', progress: p };
      if (opts.onData && run.data && p.currentStep !== null && Date.now() - dataAt >= DATA_POLL_MS) {
        dataAt = Date.now();
        const data = run.data().catch(() => null);
        inFlight = data;
        const d = await Promise.race([data, finished]);
        if (d === 'finished') break;
        if (d !== null) opts.onData(d, p.currentStep);
      }
    }
  } finally {
    clearTimeout(timer);
    await inFlight;
  }
  const settled = await resultPromise;
  if (!settled.ok) throw settled.e;
  report(settled.r);
  return { kind: 'finished', result: settled.r };
}
