/** Errors of the client side, free of SDK imports (the CLI's apply path loads no SDK). */
import { runUrl, type TemporalSettings } from '../config/temporal';

/** Thrown when the CLI cannot reach Temporal. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

export function temporalUnreachable(address: string, cause: string): TemporalUnreachableError {
  return new TemporalUnreachableError(
    `cannot reach Temporal at ${address} (${cause.split('\n')[0]}). ` +
      'Start a local server and worker with `godwit dev` and `godwit worker`, or set TEMPORAL_ADDRESS to your cluster.',
  );
}

/** Thrown when Temporal answers but refuses: credentials, permissions, an unknown namespace. */
export class TemporalRefusedError extends Error {
  override readonly name = 'TemporalRefusedError';
}

/** Thrown when the same migration is already running on the target. */
export class MigrationAlreadyRunningError extends Error {
  override readonly name = 'MigrationAlreadyRunningError';
}

export function alreadyRunningError(settings: TemporalSettings, target: string, migrationId: string, workflowId: string): MigrationAlreadyRunningError {
  return new MigrationAlreadyRunningError(
    `migration ${migrationId} is already running on target '${target}' (workflow ${workflowId}); ` +
      `watch it with \`godwit status --target ${target}\` or in the UI: ${runUrl(settings, workflowId)}`,
  );
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
