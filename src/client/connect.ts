import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TemporalSettings } from '../config/temporal';
import { explainTemporalError, GrpcStatus, grpcFailureOf, type GrpcFailure } from './errors';

export { TemporalUnreachableError } from './errors';
// For code that loads the SDK lazily: a bundled CommonJS package reaches import() as a default
// export only (scripts/build.ts), while a module of ours re-exports its classes by name.
export { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The SDK's client, for every command, the worker's setup and the tests. Calls that find
 * the server unavailable are retried with the SDK's backoff, as the SDK does by default.
 *
 * Connected by a first call (GetSystemInfo) rather than Connection.connect: that one waits
 * for a channel and, when none comes, says only that its deadline passed. The retries of
 * a call see why: a refused connection, a certificate the CA does not vouch for.
 */
export async function connectClient(settings: TemporalSettings): Promise<Client> {
  let lastFailure: GrpcFailure | undefined;
  const retry = defaultGrpcRetryOptions();
  const connection = Connection.lazy({
    address: settings.address,
    ...settings.connection,
    interceptors: [
      makeGrpcRetryInterceptor({
        delayFunction: retry.delayFunction,
        retryableDecider: (attempt, status) => {
          // A retry that starts after the deadline fails with DEADLINE_EXCEEDED: not the reason.
          if (status.code !== GrpcStatus.OK && status.code !== GrpcStatus.DEADLINE_EXCEEDED) lastFailure = { code: status.code, details: status.details };
          return retry.retryableDecider(attempt, status);
        },
      }),
    ],
  });
  try {
    await connection.withDeadline(Date.now() + CONNECT_TIMEOUT_MS, () => connection.workflowService.getSystemInfo({}));
  } catch (err) {
    const code = grpcFailureOf(err)?.code;
    // An old server without GetSystemInfo still answered.
    if (code !== GrpcStatus.UNIMPLEMENTED) {
      await connection.close();
      // The deadline cut the retries short: why they failed is what to tell.
      const noAnswer = { code: GrpcStatus.UNAVAILABLE, details: `no answer within ${CONNECT_TIMEOUT_MS / 1000} s` };
      throw explainTemporalError(settings, code === GrpcStatus.DEADLINE_EXCEEDED ? (lastFailure ?? noAnswer) : err);
    }
  }
  return new Client({ connection, namespace: settings.namespace });
}
