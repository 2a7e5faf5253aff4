/**
 * The release workflow's own activities (workflows/release.ts): reach every target before the
 * release touches any, and watch a child run for the moment it waits for a person (rollback
 * or revert failed), which its result alone would never tell: such a run stays open.
 */
import { Context } from '@temporalio/activity';
import { redact } from '../src/config/targets';
import { SEARCH_ATTRIBUTE } from '../src/contract/migration';
import type { AwaitParkedInput, AwaitParkedResult, CheckTargetsInput, CheckTargetsResult } from '../src/contract/release';
import type { ActivityDeps } from './context';

/** Targets checked at once: each is one connection from this worker. */
const CHECK_CONCURRENCY = 16;

export function makeRelease(deps: ActivityDeps) {
  return {
    async checkTargets(input: CheckTargetsInput): Promise<CheckTargetsResult> {
      const unreachable: CheckTargetsResult['unreachable'] = [];
      let next = 0;
      let done = 0;
      const lane = async () => {
        while (next < input.targets.length) {
          const target = input.targets[next++]!;
          try {
            const client = await deps.pools.connect(target);
            let broken: Error | undefined;
            try {
              await client.query('select 1');
            } catch (err) {
              broken = err as Error;
              throw err;
            } finally {
              // Closed, not pooled: a check of thousands of targets must not leave a connection open to each.
              client.release(broken ?? true);
            }
          } catch (err) {
            unreachable.push({ target, reason: redact((err as Error).message) });
          }
          Context.current().heartbeat(++done);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, input.targets.length) }, lane));
      unreachable.sort((a, b) => input.targets.indexOf(a.target) - input.targets.indexOf(b.target));
      return { unreachable };
    },

    /** Returns when the run parks in one of `states` or closes; cancelled by the release as soon as the run's result is in. */
    async awaitParked(input: AwaitParkedInput): Promise<AwaitParkedResult> {
      const ctx = Context.current();
      const handle = ctx.client.workflow.getHandle(input.workflowId, input.runId);
      for (;;) {
        // Cancellation (the child closed) arrives with a heartbeat's answer and ends the sleep.
        ctx.heartbeat();
        await ctx.sleep(input.pollMs);
        const d = await handle.describe();
        const state = d.typedSearchAttributes.getAll().find((p) => p.key.name === SEARCH_ATTRIBUTE.state)?.value;
        const s = typeof state === 'string' ? state : null;
        if (d.status.name !== 'RUNNING') return { state: s, closed: true };
        if (s !== null && input.states.includes(s)) return { state: s, closed: false };
      }
    },
  };
}
