import type pg from 'pg';
import { quoteIdent } from '../src/db/ident';
import { SNAPSHOT_SCHEMA } from '../src/db/schemas';
import { checkFence } from '../src/db/lease';
import { bindSnapshots, checkRestored, takeSnapshots, type SnapshotScope } from '../src/db/snapshots';
import { changeLogsOf, createChangeLogs, OP_COLUMN } from '../src/db/changes';
import { recordRestore } from '../src/db/restores';
import { restoreFromLogs } from './restore';
import type { PlannedStep } from '../src/operations/types';
import { SYNC_SETTING } from '../src/operations/backfill';
import type { AuditHead } from '../src/db/audit';
import type { StepInput, StepResult } from '../workflows/definitions';
import { inTransaction } from './context';
import { InjectedFault, toFailure } from './errors';
import { markForwardDone, readLedger, recordTransitions } from './ledger';
import { BatchPacing } from './pacing';

interface BatchProgress {
  snapshotTaken: boolean;
  /** The key of the last row updated, as text per key column; null before the first batch. */
  lastKey: string[] | null;
  rows: number;
  batches: number;
}

const START: Readonly<BatchProgress> = { snapshotTaken: false, lastKey: null, rows: 0, batches: 0 };

async function readProgress(client: pg.ClientBase, runId: string, stepId: string): Promise<BatchProgress> {
  const { rows } = await client.query<{ progress: BatchProgress | null }>('select progress from godwit.step_ledger where run_id = $1 and step_id = $2', [runId, stepId]);
  return rows[0]?.progress ?? { ...START };
}

async function saveProgress(client: pg.ClientBase, input: StepInput, progress: BatchProgress): Promise<void> {
  await client.query(
    `insert into godwit.step_ledger (run_id, step_id, migration_id, summary, progress) values ($1, $2, $3, $4, $5)
     on conflict (run_id, step_id) do update set progress = excluded.progress`,
    [input.runId, input.step.id, input.migrationId, input.step.summary, JSON.stringify(progress)],
  );
}

/**
 * A backfill in committed keyset batches. Each batch commits together with its
 * progress in the step ledger, so a retry after a crash resumes after the last
 * committed batch and no row is updated twice (`score = score + 1` stays exact).
 * Values it overwrites are snapshotted once, before the first batch. A failure that
 * retrying cannot fix puts back what the committed batches changed before it throws,
 * so the step never stays half-applied.
 */
/**
 * How many rows the backfill will touch, from the planner's estimate (no scan): with a
 * `where`, EXPLAIN's row count; without, the table's reltuples. Null when unknown.
 */
async function estimateRows(client: pg.ClientBase, table: string, where: string | undefined): Promise<number | null> {
  try {
    if (where === undefined) {
      const { rows } = await client.query<{ n: number }>(`select reltuples::float8 as n from pg_class where oid = $1::regclass`, [table]);
      const n = rows[0]?.n ?? -1;
      return n >= 0 ? Math.round(n) : null;
    }
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`explain (format json) select 1 from ${table} where (${where})`);
    return Math.round(rows[0]!['QUERY PLAN'][0].Plan['Plan Rows']);
  } catch {
    return null;
  }
}

export async function executeBatched(client: pg.ClientBase, input: StepInput): Promise<StepResult> {
  const started = Date.now();
  const step = input.step as PlannedStep & { batch: NonNullable<PlannedStep['batch']> & { update: NonNullable<NonNullable<PlannedStep['batch']>['update']> } };
  const { size, adaptive, key, update } = step.batch;
  const scope: SnapshotScope = { migrationId: input.migrationId, runId: input.runId, stepId: step.id };
  const table = `${quoteIdent(update.schema)}.${quoteIdent(update.table)}`;
  const keyList = key.map(quoteIdent).join(', ');
  const keyRow = key.length === 1 ? quoteIdent(key[0]!) : `(${keyList})`;
  const logs = changeLogsOf(scope, step.snapshots);
  // With a change log, each batch also writes the rows it changes as they were (from the rows
  // it holds FOR UPDATE) and as it left them, in the same statement: exact, and no table lock.
  const log = logs[0];
  const logged = log === undefined ? [] : [...new Set([...log.spec.key, ...(log.spec.columns ?? [])])];
  const capture =
    log === undefined
      ? ''
      : `, logged as (
           insert into ${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(log.name)} (${[...logged, OP_COLUMN].map(quoteIdent).join(', ')})
           select ${logged.map((_c, i) => `godwit_c${i}`).join(', ')}, op from (
             select ${logged.map((_c, i) => `batch.godwit_c${i}`).join(', ')}, 'o'::"char", 0 from batch
             union all
             select ${logged.map((c) => `updated.${quoteIdent(c)}`).join(', ')}, 'n'::"char", 1 from updated
           ) as images (${logged.map((_c, i) => `godwit_c${i}`).join(', ')}, op, ord) order by ord
           returning 1
         )`;
  // The batch's columns get names of their own, so that the SET expressions, which may name
  // any column of the table (`'x' || id`), never find one of them ambiguous. The key comes first.
  const batchColumns = (log === undefined ? key : logged).map((c, i) => `${quoteIdent(c)} as godwit_c${i}`).join(', ');
  const returning = log === undefined ? key.map((k) => `t.${quoteIdent(k)}`).join(', ') : logged.map((c) => `t.${quoteIdent(c)}`).join(', ');

  // Committed with the first transaction below, so it is only read once that returned.
  let auditHead: AuditHead | null = null;
  const first = await inTransaction(client, input.policy, async () => {
    await checkFence(client, input.target, input.token);
    auditHead = await recordTransitions(client, input, input.audit);
    if ((await readLedger(client, input.runId, step.id)).forward_done) return null;
    const progress = await readProgress(client, input.runId, step.id);
    if (!progress.snapshotTaken && (step.snapshots?.length ?? 0) > 0) {
      // A change log is filled by the batches themselves; a copy (plans made before change
      // logs existed) is taken now, locking the table against writes while it copies.
      await createChangeLogs(client, scope, logs, input.policy.retention);
      await takeSnapshots(client, scope, step.snapshots!, input.policy.retention);
      progress.snapshotTaken = true;
      await saveProgress(client, input, progress);
    }
    // The sync trigger (backfill sync: true), after its change log; again on a retry, which is harmless.
    for (const action of step.batch.sync ?? []) await client.query(bindSnapshots(action.sql, scope));
    return progress;
  });
  if (first === null) return { skipped: true, ms: Date.now() - started, auditHead };

  let progress = first;
  const estimated = await estimateRows(client, table, update.where);
  const pacing = new BatchPacing(client, input.runId, input.policy, 'fill', adaptive === true ? null : size, progress.rows, estimated);
  await pacing.start();
  try {
    for (;;) {
      const began = performance.now();
      const before = progress.rows;
      const limit = pacing.size;
      const outcome = await inTransaction(client, input.policy, async (): Promise<'done' | 'held' | 'batch'> => {
        await checkFence(client, input.target, input.token);
        if (!(await pacing.beginBatch())) return 'held';
        // The sync trigger would compute the same values again for every row of the batch.
        if (step.batch.sync !== undefined) await client.query(`select set_config('${SYNC_SETTING}', 'off', true)`);
        const after = progress.lastKey ? ` and ${keyRow} > ${key.length === 1 ? '$1' : `(${key.map((_k, i) => `$${i + 1}`).join(', ')})`}` : '';
        // Postgres picks the batch's last key, so key order is Postgres' own (collations, types).
        const { rows } = await client.query<Record<string, string> & { n: string }>(
          `with batch as (
             select ${batchColumns} from ${table} where (${update.where ?? 'true'})${after}
             order by ${keyList} limit ${limit} for update
           ), updated as (
             update ${table} as t set ${update.set} from batch
              where ${key.map((k, i) => `t.${quoteIdent(k)} = batch.godwit_c${i}`).join(' and ')}
             returning ${returning}
           )${capture}
           select count(*) over ()::text as n, ${key.map((k) => `${quoteIdent(k)}::text as ${quoteIdent(k)}`).join(', ')}
             from updated order by ${key.map((k) => `updated.${quoteIdent(k)} desc`).join(', ')} limit 1`,
          progress.lastKey ?? [],
        );
        const top = rows[0];
        if (!top) return 'done';
        const last = key.map((k) => top[k]!);
        progress = { ...progress, lastKey: last, rows: progress.rows + Number(top.n), batches: progress.batches + 1 };
        await saveProgress(client, input, progress);
        await pacing.endBatch();
        return 'batch';
      });
      if (outcome === 'done') break;
      if (outcome === 'held') await pacing.whileHeld();
      else await pacing.afterBatch(progress.rows - before, performance.now() - began);
    }
    if (input.faults?.failAtStep === step.index) {
      throw new InjectedFault(`injected failure at step ${step.index}, after ${progress.batches} committed batches`);
    }
    await inTransaction(client, null, async () => {
      await checkFence(client, input.target, input.token);
      await markForwardDone(client, input, step.id, step.summary);
    });
    return { skipped: false, ms: Date.now() - started, auditHead };
  } catch (err) {
    if (!toFailure(err).nonRetryable || progress.batches === 0 || step.inverse === null) throw err;
    // Put back what the committed batches changed; a retryable failure resumes instead.
    const restored = logs.length > 0 ? await restoreFromLogs(client, input, logs) : [];
    await inTransaction(client, input.policy, async () => {
      for (const action of step.inverse!) await client.query(bindSnapshots(action.sql, scope));
      if ((step.snapshots?.length ?? 0) > 0) await checkRestored(client, scope, step.snapshots!);
      for (const r of restored) await recordRestore(client, input, r);
      await saveProgress(client, input, { ...START });
    });
    throw err;
  }
}
