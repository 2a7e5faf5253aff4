import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return Number.NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

/** One activity of a run on the system clock (ms since the epoch), retries included. */
export interface ActivitySpan {
  type: string;
  /** The activity's summary (e.g. `drop_column accounts.bio`, `undo ...`), empty when it has none. */
  summary: string;
  scheduledAt: number;
  /** Completed, failed or timed out; NaN while it is still open. */
  endedAt: number;
  /** Attempts, from the last started event (1 when it ran once). */
  attempts: number;
  /** The last attempt's failure, when the activity failed. */
  failure: string | null;
}

/** The activities of a workflow run, read back from its history, in scheduling order. */
export async function activitySpans(client: Client, workflowId: string, runId?: string): Promise<ActivitySpan[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const spans = new Map<number, ActivitySpan>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const payload = e.userMetadata?.summary;
      const summary = payload ? String(defaultPayloadConverter.fromPayload(payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0])) : '';
      spans.set(Number(e.eventId), { type: s.activityType?.name ?? '?', summary, scheduledAt: eventMs(e), endedAt: Number.NaN, attempts: 1, failure: null });
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const span = spans.get(Number(started.scheduledEventId));
      if (span) span.attempts = started.attempt ?? 1;
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (done) {
      const span = spans.get(Number(done.scheduledEventId));
      if (!span) continue;
      span.endedAt = eventMs(e);
      const f = e.activityTaskFailedEventAttributes?.failure;
      if (f) span.failure = f.cause?.message ?? f.message ?? 'failed';
    }
  }
  return [...spans.values()];
}

/** The span that overlaps [from, to] the most, or null when none does. */
export function mostOverlapping(spans: readonly ActivitySpan[], from: number, to: number): ActivitySpan | null {
  let best: ActivitySpan | null = null;
  let bestMs = 0;
  for (const s of spans) {
    const end = Number.isFinite(s.endedAt) ? s.endedAt : to;
    const ms = Math.min(end, to) - Math.max(s.scheduledAt, from);
    if (ms > bestMs) {
      best = s;
      bestMs = ms;
    }
  }
  return best;
}

/** `runStep drop_column accounts.bio` or `prepareMigration`. */
export function spanLabel(s: ActivitySpan): string {
  return s.summary ? `${s.type} ${s.summary}` : s.type;
}
