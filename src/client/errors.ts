/**
 * Errors of the client side, and the one place that turns what Temporal or the gRPC
 * channel answered into an error a user can act on. Free of SDK imports, so that
 * commands can name these errors without loading the SDK's client.
 */
import { runUrl, type TemporalSettings } from '../config/temporal';
import { GodwitError } from '../errors';

/** Thrown when the CLI cannot reach Temporal. */
export class TemporalUnreachableError extends GodwitError {
  override readonly name = 'TemporalUnreachableError';
  override readonly retryable = true;
}

export function temporalUnreachable(address: string, cause: string): TemporalUnreachableError {
  return new TemporalUnreachableError(
    `cannot reach Temporal at ${address} (${cause.split('\n')[0]}). ` +
      'Start a local server and worker with `godwit dev` and `godwit worker`, or set TEMPORAL_ADDRESS to your cluster.',
  );
}

/** Thrown when Temporal answers but refuses: credentials, permissions, an unknown namespace. */
export class TemporalRefusedError extends GodwitError {
  override readonly name = 'TemporalRefusedError';
}

/** Thrown when the same migration is already running on the target. */
export class MigrationAlreadyRunningError extends GodwitError {
  override readonly name = 'MigrationAlreadyRunningError';
}

export function alreadyRunningError(settings: TemporalSettings, target: string, migrationId: string, workflowId: string): MigrationAlreadyRunningError {
  return new MigrationAlreadyRunningError(
    `migration ${migrationId} is already running on target '${target}' (workflow ${workflowId}); ` +
      `watch it with \`godwit status --target ${target}\` or in the UI: ${runUrl(settings, workflowId)}`,
  );
}

/** Thrown when a migration run failed before it changed anything (plan error, busy target, unknown target...). */
export class MigrationFailedError extends GodwitError {
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

/** Thrown when an inspection (verify, snapshots, plan --target, unlock, audit verify) could not run: unknown target, database unreachable... */
export class InspectionFailedError extends GodwitError {
  override readonly name = 'InspectionFailedError';
}

/** The gRPC status codes told apart below (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status as grpc-js reports it: on the error itself, or on one it wraps (the SDK's ServiceError). */
export interface GrpcFailure {
  code: number;
  details: string;
}

export function grpcFailureOf(err: unknown): GrpcFailure | undefined {
  for (let e = err, depth = 0; e instanceof Object && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, details } = e as { code?: unknown; details?: unknown };
    if (typeof code === 'number' && typeof details === 'string') return { code, details };
  }
  return undefined;
}

/** True when the server could not be reached at all (down, restarting, the network cut). */
export function isUnavailable(err: unknown): boolean {
  return grpcFailureOf(err)?.code === GrpcStatus.UNAVAILABLE;
}

/**
 * grpc-js says why a channel has no connection inside a longer sentence
 * ("No connection established. Last error: Error: connect ECONNREFUSED ... Resolution note: "):
 * the reason alone.
 */
function connectionReason(details: string): string {
  const last = /Last error: (?:Error: )?(.*?)(?:\.? Resolution note:.*)?$/s.exec(details);
  return (last?.[1] ?? details).trim();
}

/**
 * What a user can act on, for an error a call to Temporal ended in: unreachable, a TLS
 * handshake that failed, credentials refused, an unknown namespace, Godwit's search
 * attributes missing, or what the server answered. An error that is not Temporal's comes back as it was.
 */
export function explainTemporalError(settings: Pick<TemporalSettings, 'address' | 'namespace' | 'connection'>, err: unknown): unknown {
  if (err instanceof Error && err.name === 'NamespaceNotFoundError') {
    return new TemporalRefusedError(`Temporal at ${settings.address}: ${err.message}. Set TEMPORAL_NAMESPACE to a namespace that exists.`);
  }
  const failure = grpcFailureOf(err);
  if (!failure) return err;
  const { address, namespace } = settings;
  if (failure.code === GrpcStatus.UNAVAILABLE) {
    const reason = connectionReason(failure.details);
    if (settings.connection?.tls && /certificate|self.signed|SSL|TLS|handshake|altname/i.test(reason)) {
      return new TemporalRefusedError(
        `the TLS handshake with Temporal at ${address} failed: ${reason}. ` +
          "Point TEMPORAL_TLS_SERVER_CA_CERT_PATH at the server's CA, or set TEMPORAL_TLS_SERVER_NAME to the name its certificate carries.",
      );
    }
    return temporalUnreachable(address, reason);
  }
  if (failure.code === GrpcStatus.UNAUTHENTICATED || failure.code === GrpcStatus.PERMISSION_DENIED) {
    return new TemporalRefusedError(
      `Temporal at ${address} refused the call: ${failure.details}. ` +
        'Check TEMPORAL_API_KEY, or the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH), ' +
        `and that it may use namespace '${namespace}'.`,
    );
  }
  if (failure.code === GrpcStatus.NOT_FOUND && /namespace/i.test(failure.details)) {
    return new TemporalRefusedError(`Temporal at ${address}: ${failure.details}. Set TEMPORAL_NAMESPACE to a namespace that exists.`);
  }
  if (/search attribute/i.test(failure.details)) {
    return new TemporalRefusedError(
      `Temporal at ${address} refused the migration: ${failure.details}. Godwit's search attributes are missing in namespace ` +
        `'${namespace}': start \`godwit worker\` against it once (it registers them, or prints the commands that do).`,
    );
  }
  return new TemporalRefusedError(`Temporal at ${address} answered with an error: ${failure.details} (gRPC status ${failure.code})`);
}
