import { createRequire } from 'node:module';

/** The messages and enums the CLI's Temporal client (src/client/wire) uses, fully qualified. */
export const TEMPORAL_API_TYPES = [
  'temporal.api.workflowservice.v1.StartWorkflowExecutionRequest',
  'temporal.api.workflowservice.v1.StartWorkflowExecutionResponse',
  'temporal.api.workflowservice.v1.QueryWorkflowRequest',
  'temporal.api.workflowservice.v1.QueryWorkflowResponse',
  'temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest',
  'temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse',
  'temporal.api.common.v1.Payload',
  'temporal.api.common.v1.Payloads',
  'temporal.api.common.v1.SearchAttributes',
  'temporal.api.common.v1.WorkflowType',
  'temporal.api.common.v1.WorkflowExecution',
  'temporal.api.taskqueue.v1.TaskQueue',
  'temporal.api.sdk.v1.UserMetadata',
  'temporal.api.query.v1.WorkflowQuery',
  'temporal.api.query.v1.QueryRejected',
  'temporal.api.history.v1.History',
  'temporal.api.history.v1.HistoryEvent',
  'temporal.api.history.v1.WorkflowExecutionCompletedEventAttributes',
  'temporal.api.history.v1.WorkflowExecutionFailedEventAttributes',
  'temporal.api.history.v1.WorkflowExecutionTimedOutEventAttributes',
  'temporal.api.history.v1.WorkflowExecutionCanceledEventAttributes',
  'temporal.api.history.v1.WorkflowExecutionTerminatedEventAttributes',
  'temporal.api.history.v1.WorkflowExecutionContinuedAsNewEventAttributes',
  'temporal.api.failure.v1.Failure',
  'temporal.api.failure.v1.ApplicationFailureInfo',
  'temporal.api.enums.v1.EventType',
  'temporal.api.enums.v1.HistoryEventFilterType',
  'temporal.api.enums.v1.QueryRejectCondition',
  'temporal.api.enums.v1.WorkflowExecutionStatus',
  'temporal.api.enums.v1.TaskQueueKind',
];

const SCALARS = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes']);

interface FieldJson {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
  [k: string]: unknown;
}
interface NodeJson {
  nested?: Record<string, NodeJson>;
  fields?: Record<string, FieldJson>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  [k: string]: unknown;
}

function find(root: NodeJson, fqn: string): NodeJson | undefined {
  let node: NodeJson | undefined = root;
  for (const part of fqn.split('.')) node = node?.nested?.[part];
  return node;
}

function lookup(root: NodeJson, fqn: string): NodeJson {
  const node = find(root, fqn);
  if (!node) throw new Error(`${fqn} is not in @temporalio/proto's API descriptor (renamed in an SDK upgrade?)`);
  return node;
}

/** A field's type as written in the descriptor (relative to the message's package, or not) made fully qualified. */
function qualify(root: NodeJson, messageFqn: string, type: string): string {
  if (SCALARS.has(type)) return type;
  const scope = messageFqn.split('.').slice(0, -1);
  for (let n = scope.length; n >= 0; n--) {
    const candidate = [...scope.slice(0, n), type].join('.');
    if (find(root, candidate)) return candidate;
  }
  return type;
}

/**
 * The subset as a protobufjs JSON descriptor (nested namespaces), from the descriptor of
 * the installed @temporalio/proto. Message fields keep their ids; a field whose message
 * or enum type is not in the list is dropped, and so is a oneof left without members.
 */
export function temporalApiSubset(types: readonly string[] = TEMPORAL_API_TYPES): NodeJson {
  const require = createRequire(import.meta.url);
  const full = (require('@temporalio/proto/protos/json-module.js') as { toJSON(): NodeJson }).toJSON();
  const wanted = new Set(types);
  const out: NodeJson = {};
  for (const fqn of [...types].sort()) {
    const source = lookup(full, fqn);
    let node: NodeJson;
    if (source.values) {
      node = { values: source.values };
    } else {
      const fields: Record<string, FieldJson> = {};
      for (const [name, f] of Object.entries(source.fields ?? {})) {
        const type = qualify(full, fqn, f.type);
        if (!SCALARS.has(type) && !wanted.has(type)) continue;
        fields[name] = { type, id: f.id, ...(f.rule ? { rule: f.rule } : {}), ...(f.keyType ? { keyType: f.keyType } : {}) };
      }
      node = { fields };
      const oneofs: Record<string, { oneof: string[] }> = {};
      for (const [name, o] of Object.entries(source.oneofs ?? {})) {
        const kept = o.oneof.filter((f) => f in fields);
        if (kept.length > 0) oneofs[name] = { oneof: kept };
      }
      if (Object.keys(oneofs).length > 0) node.oneofs = oneofs;
    }
    const parts = fqn.split('.');
    let parent = out;
    for (const part of parts.slice(0, -1)) parent = (parent.nested ??= {})[part] ??= {};
    (parent.nested ??= {})[parts.at(-1)!] = node;
  }
  return out;
}
