import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Event time in ms since the epoch, keeping the sub-millisecond part. */
function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return Number.NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export interface ActivityTiming {
  name: string;
  /** Scheduled (command accepted) → started on the worker. */
  queuedMs: number;
  /** Started → completed: the activity's own work, as the server saw it. */
  runMs: number;
}

/** One godwit run, laid out on one clock: the spawn in the bench, the events on the server. */
export interface RunTimeline {
  /** spawn → WorkflowExecutionStarted: node + tsx + module loading + connect + start RPC. */
  toStarted: number;
  /** WorkflowExecutionStarted → WorkflowExecutionCompleted. */
  workflow: number;
  /** WorkflowExecutionCompleted → process exit: result delivery, end of the watch loop, close, exit. */
  afterClose: number;
  /** Number of workflow tasks and the time from each one's scheduling to its completion, summed. */
  workflowTasks: number;
  workflowTaskMs: number;
  activities: ActivityTiming[];
  /** Workflow time not spent inside an activity: task dispatch, workflow code, history writes. */
  workflowOverheadMs: number;
  /** The exact event sequence, for the curious. */
  events: { type: string; atMs: number }[];
}

function eventType(e: HistoryEvent): string {
  for (const key of Object.keys(e)) {
    if (key.endsWith('EventAttributes') && (e as Record<string, unknown>)[key]) return key.replace(/EventAttributes$/, '');
  }
  return 'unknown';
}

export async function runTimeline(client: Client, workflowId: string, runId: string, spawnedAt: number, exitedAt: number): Promise<RunTimeline> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const started = events.find((e) => e.workflowExecutionStartedEventAttributes);
  const closed = events.find((e) => e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes);
  if (!started || !closed) throw new Error(`run ${runId} of ${workflowId} has no start or close event`);
  const t0 = eventMs(started);
  const tClose = eventMs(closed);

  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId), e);

  const activities: ActivityTiming[] = [];
  let activityMs = 0;
  for (const e of events) {
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (!done) continue;
    const scheduled = byId.get(Number(done.scheduledEventId));
    const startedEv = byId.get(Number(done.startedEventId));
    if (!scheduled || !startedEv) continue;
    const run = eventMs(e) - eventMs(startedEv);
    activityMs += run;
    activities.push({
      name: scheduled.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
      queuedMs: eventMs(startedEv) - eventMs(scheduled),
      runMs: run,
    });
  }

  let workflowTasks = 0;
  let workflowTaskMs = 0;
  for (const e of events) {
    const c = e.workflowTaskCompletedEventAttributes;
    if (!c) continue;
    const scheduled = byId.get(Number(c.scheduledEventId));
    if (!scheduled) continue;
    workflowTasks++;
    workflowTaskMs += eventMs(e) - eventMs(scheduled);
  }

  return {
    toStarted: t0 - spawnedAt,
    workflow: tClose - t0,
    afterClose: exitedAt - tClose,
    workflowTasks,
    workflowTaskMs,
    activities,
    workflowOverheadMs: tClose - t0 - activityMs,
    events: events.map((e) => ({ type: eventType(e), atMs: eventMs(e) - t0 })),
  };
}
