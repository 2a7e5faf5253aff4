/**
 * The activity profiles the migration, revert and bake workflows share, and how they read an
 * activity's failure. Preparation fails fast on bad input (unknown target, plan error); steps
 * retry lock timeouts and lost connections with backoff for long.
 */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { GodwitActivities } from '../activities';

export const prepareActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumAttempts: 3 },
});
export const stepActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '15 seconds', maximumAttempts: 40 },
});
export const recordActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});
export const authorizeActivities = proxyActivities<GodwitActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** An activity failure's own message (the cause the SDK wraps), else the error's. */
export function describeError(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
