/**
 * The three WorkflowService calls the CLI's apply path makes (start a workflow, query
 * it, wait for its close event), encoded with protobufjs from the slice of the Temporal
 * API in temporal-api.json (scripts/gen-temporal-api.ts), sent over rpc.ts.
 *
 * Payloads follow the SDK's default payload converter (`json/plain`, `binary/null`), so
 * the workflow reads its input and the CLI reads its results exactly as the SDK would.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import protobuf from 'protobufjs/light.js';
import descriptor from './temporal-api.json';
import type { TemporalConnectionOptions } from '../../config/temporal';
import { GrpcChannel, GrpcStatus, RpcError } from './rpc';

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
const type = (name: string) => root.lookupType(`temporal.api.${name}`);
const api = {
  StartRequest: type('workflowservice.v1.StartWorkflowExecutionRequest'),
  StartResponse: type('workflowservice.v1.StartWorkflowExecutionResponse'),
  QueryRequest: type('workflowservice.v1.QueryWorkflowRequest'),
  QueryResponse: type('workflowservice.v1.QueryWorkflowResponse'),
  HistoryRequest: type('workflowservice.v1.GetWorkflowExecutionHistoryRequest'),
  HistoryResponse: type('workflowservice.v1.GetWorkflowExecutionHistoryResponse'),
};
const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService/';

interface Payload {
  metadata?: Record<string, Uint8Array>;
  data?: Uint8Array;
}

export function encodePayload(value: unknown): Payload {
  if (value === undefined || value === null) return { metadata: { encoding: Buffer.from('binary/null') } };
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) };
}

export function decodePayload(payload: Payload | undefined): unknown {
  const encoding = payload?.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString() : undefined;
  if (encoding === 'binary/null' || payload === undefined) return null;
  if (encoding === 'json/plain') return JSON.parse(Buffer.from(payload.data ?? new Uint8Array()).toString());
  throw new Error(`a payload with encoding ${encoding ?? '(none)'}: Godwit's workflows only send JSON`);
}

/** A Temporal Failure, as much of it as a CLI reports. */
export interface FailureInfo {
  message: string;
  /** ApplicationFailure's type, e.g. PlanError. */
  type: string | undefined;
  cause: FailureInfo | undefined;
}

interface FailureMessage {
  message?: string;
  cause?: FailureMessage;
  applicationFailureInfo?: { type?: string };
}

function failureInfo(f: FailureMessage | undefined): FailureInfo | undefined {
  if (!f) return undefined;
  return { message: f.message ?? '', type: f.applicationFailureInfo?.type || undefined, cause: failureInfo(f.cause) };
}

/** How a run closed. */
export type CloseEvent =
  | { kind: 'completed'; result: unknown }
  | { kind: 'failed'; failure: FailureInfo | undefined }
  | { kind: 'timed_out' }
  | { kind: 'canceled' }
  | { kind: 'terminated'; reason: string };

export interface StartWorkflowRequest {
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  args: unknown[];
  /** Keyword search attributes by name. */
  keywords: Record<string, string>;
  summary: string;
  details: string;
}

export class WorkflowAlreadyStartedError extends Error {
  override readonly name = 'WorkflowAlreadyStartedError';
}

export class TemporalWire {
  private closed = false;

  private constructor(
    private readonly channel: GrpcChannel,
    readonly namespace: string,
  ) {}

  /** `security`: TLS, an API key (sent as `authorization: Bearer`) and extra metadata, as the SDK's connections take them. */
  static async connect(address: string, namespace: string, security: TemporalConnectionOptions = {}, timeoutMs = 5_000): Promise<TemporalWire> {
    const headers: Record<string, string> = { ...security.metadata, 'temporal-namespace': namespace };
    if (security.apiKey) headers.authorization = `Bearer ${security.apiKey}`;
    const channel = await GrpcChannel.open(address, { timeoutMs, headers, ...(security.tls ? { tls: security.tls } : {}) });
    return new TemporalWire(channel, namespace);
  }

  private async call<T>(method: string, request: protobuf.Type, response: protobuf.Type, body: object, deadlineMs: number): Promise<T> {
    const bytes = request.encode(request.fromObject(body)).finish();
    const answer = await this.channel.unary(`${SERVICE}${method}`, bytes, { deadlineMs });
    return response.toObject(response.decode(answer), { enums: String, longs: String, defaults: false }) as T;
  }

  /** Starts a workflow; WorkflowAlreadyStartedError when a run with that id is open. Returns its run id. */
  async startWorkflow(req: StartWorkflowRequest): Promise<string> {
    const searchAttributes = Object.fromEntries(
      Object.entries(req.keywords).map(([name, value]) => {
        const p = encodePayload(value);
        return [name, { ...p, metadata: { ...p.metadata, type: Buffer.from('Keyword') } }];
      }),
    );
    try {
      const res = await this.call<{ runId: string }>(
        'StartWorkflowExecution',
        api.StartRequest,
        api.StartResponse,
        {
          namespace: this.namespace,
          workflowId: req.workflowId,
          workflowType: { name: req.workflowType },
          taskQueue: { name: req.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
          input: { payloads: req.args.map(encodePayload) },
          identity: `${process.pid}@${hostname()}`,
          requestId: randomUUID(),
          searchAttributes: { indexedFields: searchAttributes },
          userMetadata: { summary: encodePayload(req.summary), details: encodePayload(req.details) },
        },
        10_000,
      );
      return res.runId;
    } catch (err) {
      if (err instanceof RpcError && err.code === GrpcStatus.ALREADY_EXISTS) throw new WorkflowAlreadyStartedError(err.details);
      throw err;
    }
  }

  /** Runs a query without arguments; null when the workflow rejected it. */
  async query(workflowId: string, runId: string, queryType: string, deadlineMs = 10_000): Promise<unknown> {
    const res = await this.call<{ queryResult?: { payloads?: Payload[] }; queryRejected?: unknown }>(
      'QueryWorkflow',
      api.QueryRequest,
      api.QueryResponse,
      { namespace: this.namespace, execution: { workflowId, runId }, query: { queryType } },
      deadlineMs,
    );
    if (res.queryRejected) return null;
    return decodePayload(res.queryResult?.payloads?.[0]);
  }

  /**
   * Waits for the run's close event (long polls of its history, filtered to that event),
   * following continue-as-new to the run that finally closes.
   */
  async awaitClose(workflowId: string, firstRunId: string, opts: { unavailableForMs?: number } = {}): Promise<CloseEvent> {
    let runId = firstRunId;
    let nextPageToken: Uint8Array | undefined;
    // A migration may run for hours; the server may restart meanwhile. Calls that find it
    // unavailable are retried with backoff for this long before the CLI gives up (the run
    // itself goes on regardless).
    const budget = opts.unavailableForMs ?? 120_000;
    let unavailableSince: number | undefined;
    let backoff = 250;
    for (;;) {
      let res: { history?: { events?: HistoryEvent[] }; nextPageToken?: Uint8Array };
      try {
        res = await this.call(
          'GetWorkflowExecutionHistory',
          api.HistoryRequest,
          api.HistoryResponse,
          {
            namespace: this.namespace,
            execution: { workflowId, runId },
            waitNewEvent: true,
            historyEventFilterType: 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT',
            skipArchival: true,
            ...(nextPageToken?.length ? { nextPageToken } : {}),
          },
          60_000,
        );
      } catch (err) {
        // The server ends a long poll that saw nothing with a deadline; ask again.
        if (err instanceof RpcError && err.code === GrpcStatus.DEADLINE_EXCEEDED) continue;
        if (err instanceof RpcError && err.code === GrpcStatus.UNAVAILABLE && !this.closed) {
          unavailableSince ??= Date.now();
          if (Date.now() - unavailableSince < budget) {
            await new Promise((r) => setTimeout(r, backoff));
            backoff = Math.min(backoff * 2, 5_000);
            continue;
          }
        }
        throw err;
      }
      unavailableSince = undefined;
      backoff = 250;
      const event = res.history?.events?.[0];
      if (!event) {
        nextPageToken = res.nextPageToken;
        continue;
      }
      if (event.workflowExecutionCompletedEventAttributes) {
        return { kind: 'completed', result: decodePayload(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) };
      }
      if (event.workflowExecutionFailedEventAttributes) return { kind: 'failed', failure: failureInfo(event.workflowExecutionFailedEventAttributes.failure) };
      if (event.workflowExecutionTimedOutEventAttributes) return { kind: 'timed_out' };
      if (event.workflowExecutionCanceledEventAttributes) return { kind: 'canceled' };
      if (event.workflowExecutionTerminatedEventAttributes) return { kind: 'terminated', reason: event.workflowExecutionTerminatedEventAttributes.reason ?? '' };
      const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (!next) throw new Error(`run ${runId} of ${workflowId} closed with an event this client does not know (${event.eventType ?? 'no type'})`);
      runId = next;
      nextPageToken = undefined;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return this.channel.close();
  }
}

interface HistoryEvent {
  eventType?: string;
  workflowExecutionCompletedEventAttributes?: { result?: { payloads?: Payload[] } };
  workflowExecutionFailedEventAttributes?: { failure?: FailureMessage };
  workflowExecutionTimedOutEventAttributes?: object;
  workflowExecutionCanceledEventAttributes?: object;
  workflowExecutionTerminatedEventAttributes?: { reason?: string };
  workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string };
}
