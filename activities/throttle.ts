import { appendAudit } from '../src/db/audit';
import { writeThrottleChange } from '../src/db/throttle';
import { describeThrottle, resolveThrottle, type ThrottleChange } from '../src/throttle/settings';
import type { TuneInput, TuneResult } from '../src/contract/migration';
import { inTransaction, withTarget, type ActivityDeps } from './context';

/** PAUSED and RESUMED for godwit pause and resume, TUNED for any other change. */
function auditEvent(change: ThrottleChange): string {
  const keys = Object.keys(change);
  if (keys.length === 1 && change.paused === true) return 'PAUSED';
  if (keys.length === 1 && change.paused === false) return 'RESUMED';
  return 'TUNED';
}

export function makeThrottle(deps: ActivityDeps) {
  return {
    /**
     * Records an operator's change to a run's pacing in godwit.throttle, where the running
     * batch loop reads it before its next batch, and audits it in the same transaction.
     */
    async tuneThrottle(input: TuneInput): Promise<TuneResult> {
      return withTarget(deps, input.target, `record the ${auditEvent(input.change).toLowerCase()} change`, (client) =>
        inTransaction(client, null, async () => {
          const merged = await writeThrottleChange(client, input.runId, input.migrationId, input.change, input.by);
          const settings = describeThrottle(resolveThrottle(input.policy, merged));
          const auditHead = await appendAudit(client, input, [
            {
              event: auditEvent(input.change),
              from: input.state,
              to: input.state,
              actor: input.by,
              detail: { change: input.change, settings, ...(input.signedWith ? { signed_with: input.signedWith } : {}) },
            },
          ]);
          return { settings, auditHead };
        }),
      );
    },
  };
}
