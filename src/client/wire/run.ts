/**
 * The CLI's apply path: start a migration's workflow and follow it through TemporalWire,
 * without the SDK's client. Loading the SDK (grpc-js, protobufjs with the whole Temporal
 * API, the SDK's own modules) took about 350 ms of CPU per `godwit apply`; this path
 * takes a few milliseconds. Everything else (status, operator commands, verify, tests)
 * uses the SDK's client; bench/README.md has the figures.
 */
import type { TemporalSettings } from '../../config/temporal';
import { STATE_QUERY, WORKFLOW_TYPE, type MigrationProgress, type MigrationResult } from '../../../workflows/definitions';
import { alreadyRunningError, MigrationFailedError, TemporalRefusedError, temporalUnreachable } from '../errors';
import { migrationStartRequest, type StartOptions } from '../start';
import type { MigrationRun } from '../watch';
import { GrpcStatus, RpcError } from './rpc';
import { TemporalWire, WorkflowAlreadyStartedError, type CloseEvent } from './temporal';

export { TemporalWire };

/** Connects to Temporal; TemporalUnreachableError (what to do about it) when nothing answers. */
export async function connectWire(settings: Pick<TemporalSettings, 'address' | 'namespace' | 'connection'>): Promise<TemporalWire> {
  try {
    return await TemporalWire.connect(settings.address, settings.namespace, settings.connection);
  } catch (err) {
    const message = (err as RpcError).details ?? (err as Error).message;
    if (settings.connection?.tls && /certificate|self.signed|SSL|TLS|handshake|altname/i.test(message)) {
      throw new TemporalRefusedError(
        `the TLS handshake with Temporal at ${settings.address} failed: ${message}. ` +
          "Point TEMPORAL_TLS_SERVER_CA_CERT_PATH at the server's CA, or set TEMPORAL_TLS_SERVER_NAME to the name its certificate carries.",
      );
    }
    throw temporalUnreachable(settings.address, message);
  }
}

/** What a user can act on, for the errors a call to Temporal ends in. */
function explained(settings: TemporalSettings, err: unknown): unknown {
  if (!(err instanceof RpcError)) return err;
  if (err.code === GrpcStatus.UNAVAILABLE) return temporalUnreachable(settings.address, err.details);
  if (err.code === GrpcStatus.UNAUTHENTICATED || err.code === GrpcStatus.PERMISSION_DENIED) {
    return new TemporalRefusedError(
      `Temporal at ${settings.address} refused the call: ${err.details}. ` +
        'Check TEMPORAL_API_KEY, or the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH), ' +
        `and that it may use namespace '${settings.namespace}'.`,
    );
  }
  if (err.code === GrpcStatus.NOT_FOUND) return new TemporalRefusedError(`Temporal at ${settings.address}: ${err.details}. Set TEMPORAL_NAMESPACE to a namespace that exists.`);
  if (/search attribute/i.test(err.details)) {
    return new TemporalRefusedError(
      `Temporal at ${settings.address} refused the migration: ${err.details}. Godwit's search attributes are missing in namespace ` +
        `'${settings.namespace}': start \`godwit worker\` against it once (it registers them, or prints the commands that do).`,
    );
  }
  return new TemporalRefusedError(`Temporal at ${settings.address} answered ${err.method.split('/').pop()} with an error: ${err.details} (gRPC status ${err.code})`);
}

function resultOf(close: CloseEvent, workflowId: string, runId: string): MigrationResult {
  switch (close.kind) {
    case 'completed':
      return close.result as MigrationResult;
    case 'failed': {
      // The workflow fails with an ApplicationFailure (PlanError, LeaseHeldError...): its message and type.
      const cause = close.failure;
      throw new MigrationFailedError(cause?.message ?? 'the workflow failed', cause?.type, workflowId, runId);
    }
    case 'terminated':
      throw new MigrationFailedError(`the workflow was terminated${close.reason ? `: ${close.reason}` : ''}`, 'Terminated', workflowId, runId);
    case 'canceled':
      throw new MigrationFailedError('the workflow was cancelled', 'Cancelled', workflowId, runId);
    case 'timed_out':
      throw new MigrationFailedError('the workflow timed out', 'TimedOut', workflowId, runId);
  }
}

/** Starts one migration as its own workflow `godwit/<target>/<id>` and returns the run to watch. */
export async function startMigrationRun(wire: TemporalWire, settings: TemporalSettings, opts: StartOptions): Promise<MigrationRun> {
  const request = await migrationStartRequest(opts);
  const { workflowId } = request;
  let runId: string;
  try {
    runId = await wire.startWorkflow({
      workflowId,
      workflowType: WORKFLOW_TYPE,
      taskQueue: settings.taskQueue,
      args: [request.input],
      keywords: request.searchAttributes,
      summary: request.summary,
      details: request.details,
    });
  } catch (err) {
    if (err instanceof WorkflowAlreadyStartedError) throw alreadyRunningError(settings, opts.target, opts.loaded.manifest.id, workflowId);
    throw explained(settings, err);
  }
  return {
    workflowId,
    runId,
    progress: () => wire.query(workflowId, runId, STATE_QUERY) as Promise<MigrationProgress>,
    async result() {
      try {
        return resultOf(await wire.awaitClose(workflowId, runId), workflowId, runId);
      } catch (err) {
        throw explained(settings, err);
      }
    },
  };
}
