import type pg from 'pg';
import { checkFence } from '../src/db/lease';
import { removeCapture, restoreChanges, type ChangeLog, type RestoreCounts } from '../src/db/changes';
import type { RestoreRecord } from '../src/db/restores';
import type { StepInput } from '../src/contract/migration';
import { inTransaction } from './context';
import { BatchPacing } from './pacing';
import { SYNC_SETTING } from '../src/operations/backfill';

/**
 * Puts back what the step's change logs say it changed, batch by batch, each batch in its
 * own fenced transaction (see src/db/changes.ts). Safe to repeat: a batch already restored
 * changes nothing and counts the same.
 */
export async function restoreFromLogs(client: pg.ClientBase, input: StepInput, logs: readonly ChangeLog[]): Promise<RestoreRecord[]> {
  await inTransaction(client, input.policy, () => removeCapture(client, logs));
  const pacing = new BatchPacing(client, input.runId, input.policy, 'restore', null, 0, null);
  await pacing.start();
  const counts = await restoreChanges(client, logs, {
    transaction: (fn) =>
      inTransaction(client, input.policy, async () => {
        await checkFence(client, input.target, input.token);
        // A backfill's sync trigger must not compute over the values the restore puts back.
        await client.query(`select set_config('${SYNC_SETTING}', 'off', true)`);
        return fn();
      }),
    pacing,
  });
  return toRecords(input, logs, counts);
}

/** The proof records of restores from (or checked against) change logs. */
export function toRecords(input: StepInput, logs: readonly ChangeLog[], counts: readonly RestoreCounts[]): RestoreRecord[] {
  return logs.map(({ ordinal, spec }, i) => {
    const c = counts[i]!;
    return {
      stepId: input.step.id,
      ordinal,
      kind: 'changes' as const,
      source: `${spec.schema}.${spec.table}${spec.columns ? ` (${spec.columns.join(', ')})` : ''}`,
      rows: c.rows,
      restored: c.restored,
      kept: c.kept,
      gone: c.gone,
      equal: c.mismatched === 0,
      detail: c.mismatched === 0 ? null : `${c.mismatched} rows are still as the step left them after the restore`,
    };
  });
}

