import type pg from 'pg';
import { quoteIdent } from '../src/db/ident';
import { checkFence } from '../src/db/lease';
import { isConnectionLoss } from '../src/db/pool';
import { bindSnapshots, checkRestored, takeSnapshots, type SnapshotScope } from '../src/db/snapshots';
import { changeLogsOf, createChangeLogs } from '../src/db/changes';
import { recordRestore } from '../src/db/restores';
import { addDuration, emptyDurations, type DurationHistogram } from '../src/throttle/durations';
import { durationMs } from '../src/manifest/types';
import { restoreFromLogs } from './restore';
import type { PlannedStep } from '../src/operations/types';
import { SYNC_SETTING } from '../src/operations/backfill';
import type { AuditHead } from '../src/db/audit';
import type { StepInput, StepResult } from '../src/contract/migration';
import { inTransaction } from './context';
import { InjectedFault, toFailure } from './errors';
import { keepTransitions, markForwardDone, readLedger, recordTransitions } from './ledger';
import { BatchPacing } from './pacing';
import { batchStatement, type BatchUpdate, type KeyRange } from './batch-statement';
import { splitKeys, Turns } from './lanes';

/** One key range's progress: its last committed batch's last key, and where it ends. */
interface LaneProgress extends KeyRange {
  rows: number;
  batches: number;
}

interface BatchProgress {
  snapshotTaken: boolean;
  /**
   * The key ranges, once the first batch is due; a row written before lanes existed has none
   * and resumes after its `lastKey`.
   */
  lanes?: LaneProgress[];
  /** Of a row written before lanes existed: the key of the last row updated. */
  lastKey: string[] | null;
  /** Over all lanes. */
  rows: number;
  batches: number;
  /** How long each batch held its row locks: from its statement to its commit (or its cancel, see cutShort). */
  batchMs?: DurationHistogram;
  /** Batches cancelled at the lock cap (Pacer.lockCapMs) and retried smaller. */
  cutShort?: number;
}

/** What the ledger row keeps about the batches, beside the resume points. */
type BatchStats = Required<Pick<BatchProgress, 'batchMs' | 'cutShort'>>;

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
 * One lane's batch in the ledger row, in the batch's transaction: its own entry and the
 * totals, changed in place, so lanes committing side by side never write over each other's.
 */
async function saveLane(client: pg.ClientBase, input: StepInput, lane: number, progress: LaneProgress, rows: number, stats: BatchStats): Promise<void> {
  const { rowCount } = await client.query(
    `update godwit.step_ledger set progress = progress
       || jsonb_build_object('lanes', jsonb_set(progress->'lanes', array[$3::text], $4::jsonb),
                             'rows', (progress->>'rows')::bigint + $5::bigint, 'batches', (progress->>'batches')::bigint + 1)
       || $6::jsonb
     where run_id = $1 and step_id = $2`,
    [input.runId, input.step.id, String(lane), JSON.stringify(progress), rows, JSON.stringify(stats)],
  );
  if (rowCount !== 1) throw new Error(`the ledger row of step ${input.step.id} is gone`);
}

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

/**
 * A backfill in committed keyset batches. Each batch commits together with its
 * progress in the step ledger, so a retry after a crash resumes after the last
 * committed batch and no row is updated twice (`score = score + 1` stays exact).
 * Values it overwrites are snapshotted once, before the first batch. A failure that
 * retrying cannot fix puts back what the committed batches changed before it throws,
 * so the step never stays half-applied.
 *
 * A big table is split into `lanes` key ranges (of its whole key, composite or not), filled side by side on
 * connections of their own (`connect`) while the database is otherwise idle, and one batch
 * at a time while the step must go slower (BatchPacing.sideBySide). Each range resumes on
 * its own. Without `connect` (or a second connection) the ranges are filled one after another.
 */
export async function executeBatched(client: pg.ClientBase, input: StepInput, connect?: () => Promise<pg.PoolClient>): Promise<StepResult> {
  const started = Date.now();
  const step = input.step as PlannedStep & { batch: NonNullable<PlannedStep['batch']> & { update: BatchUpdate } };
  const { size, adaptive, key, update } = step.batch;
  const scope: SnapshotScope = { migrationId: input.migrationId, runId: input.runId, stepId: step.id };
  const table = `${quoteIdent(update.schema)}.${quoteIdent(update.table)}`;
  const logs = changeLogsOf(scope, step.snapshots);
  const statement = batchStatement(table, key, update, logs[0]);

  // Committed with the first transaction below, so it is only read once that returned.
  let auditHead: AuditHead | null = null;
  // A failure here rolls the transitions back with the rest; one that is not retried would lose them.
  const first = await (async () => {
    try {
      return await inTransaction(client, input.policy, async () => {
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
    } catch (err) {
      await keepTransitions(client, input, err);
      throw err;
    }
  })();
  if (first === null) return { skipped: true, ms: Date.now() - started, auditHead };

  const progress = first;
  const stats: BatchStats = { batchMs: progress.batchMs ?? emptyDurations(), cutShort: progress.cutShort ?? 0 };
  const statementMs = durationMs(String(input.policy.statement_timeout));
  let committed = progress.batches;
  const estimated = await estimateRows(client, table, update.where);
  const pacing = new BatchPacing(client, input.runId, input.policy, 'fill', adaptive === true ? null : size, progress.rows, estimated);
  await pacing.start();
  const extra: { client: pg.PoolClient; broken: boolean }[] = [];
  try {
    if (progress.lanes === undefined) {
      // The ranges are fixed before the first batch, so that a resumed step goes on with the same.
      const tableRows = update.where === undefined ? estimated : await estimateRows(client, table, undefined);
      const splits = progress.batches === 0 && connect !== undefined ? await splitKeys(client, table, key, tableRows, pacing.lanes) : [];
      const first: LaneProgress = { lastKey: progress.lastKey, until: splits[0] ?? null, rows: progress.rows, batches: progress.batches };
      progress.lanes = [first, ...splits.map((at, i) => ({ lastKey: at, until: splits[i + 1] ?? null, rows: 0, batches: 0 }))];
      await inTransaction(client, input.policy, async () => {
        await checkFence(client, input.target, input.token);
        await saveProgress(client, input, progress);
      });
    }
    const lanes = progress.lanes;
    // A connection per lane, as far as the pool gives them; a connection that finished its
    // lane takes the next one that has none.
    for (let i = 1; i < lanes.length && connect !== undefined; i++) {
      const c = await connect().catch(() => null);
      if (c === null) break;
      extra.push({ client: c, broken: false });
    }
    // Each batch commits its rows with its progress, so a server crash loses both or neither:
    // a batch need not wait for its commit to reach the disk. The step's last transaction
    // (below) commits synchronously, which makes every batch before it durable too.
    const clients = [client, ...extra.map((e) => e.client)];
    // `godwit tune --lanes` lowers how many run at once; the ranges themselves stay as split.
    const turns = new Turns(() => (pacing.sideBySide() ? Math.min(clients.length, pacing.lanes) : 1));
    let failure: { error: unknown } | null = null;

    const runLane = async (i: number, c: pg.ClientBase): Promise<void> => {
      while (failure === null) {
        await turns.take();
        try {
          if (failure !== null) return;
          const lane = lanes[i]!;
          // From the statement that takes the batch's row locks to the commit that releases them.
          const done: { lane: LaneProgress | null; rows: number; lockedAt: number } = { lane: null, rows: 0, lockedAt: 0 };
          // The policy's statement_timeout, when it is shorter, is the one that counts.
          const cap = pacing.lockCapMs();
          const capped = cap !== null && (statementMs === null || statementMs === 0 || statementMs > cap) ? cap : null;
          let outcome: 'done' | 'held' | 'batch';
          try {
            outcome = await inTransaction(c, input.policy, async (): Promise<'done' | 'held' | 'batch'> => {
              if (!(await pacing.beginBatch(c))) return 'held';
              // The sync trigger would compute the same values again for every row of the batch.
              if (step.batch.sync !== undefined) await c.query(`select set_config('${SYNC_SETTING}', 'off', true)`);
              if (capped !== null) await c.query(`select set_config('statement_timeout', $1, true)`, [`${capped}ms`]);
              const { text, values } = statement(lane, pacing.size);
              done.lockedAt = performance.now();
              const { rows } = await c.query<Record<string, string> & { n: string }>(text, values);
              const top = rows[0];
              if (!top) return 'done';
              done.rows = Number(top.n);
              done.lane = { ...lane, lastKey: key.map((k) => top[k]!), rows: lane.rows + done.rows, batches: lane.batches + 1 };
              await saveLane(c, input, i, done.lane, done.rows, stats);
              await pacing.endBatch(c);
              // Last before the commit: a stale lease rolls the batch back, and the lease row is
              // locked only from here to the commit, so lanes do not wait on each other for it.
              await checkFence(c, input.target, input.token);
              return 'batch';
            });
          } catch (err) {
            if (capped === null || done.lockedAt === 0 || (err as { code?: unknown }).code !== '57014') throw err;
            // Cancelled at the lock cap: its locks are given back; the same range again, smaller.
            stats.cutShort++;
            stats.batchMs = addDuration(stats.batchMs, performance.now() - done.lockedAt);
            pacing.cut();
            continue;
          }
          if (outcome === 'done') return;
          if (outcome === 'held') await pacing.whileHeld();
          else {
            lanes[i] = done.lane!;
            committed++;
            const ms = performance.now() - done.lockedAt;
            stats.batchMs = addDuration(stats.batchMs, ms);
            await pacing.afterBatch(done.rows, ms);
          }
        } finally {
          turns.give();
        }
      }
    };
    const queue = lanes.map((_l, i) => i);
    await Promise.all(
      clients.map(async (c, n) => {
        try {
          await c.query('set synchronous_commit = off');
          for (let i = queue.shift(); i !== undefined && failure === null; i = queue.shift()) await runLane(i, c);
        } catch (err) {
          failure ??= { error: err };
          if (n > 0 && isConnectionLoss(err)) extra[n - 1]!.broken = true;
        } finally {
          await c.query('reset synchronous_commit').catch(() => undefined);
        }
      }),
    );
    if (failure !== null) throw (failure as { error: unknown }).error;
    if (input.faults?.failAtStep === step.index) {
      throw new InjectedFault(`injected failure at step ${step.index}, after ${committed} committed batches`);
    }
    await inTransaction(client, null, async () => {
      await checkFence(client, input.target, input.token);
      // The last batch's duration was only known after it committed.
      const rows = lanes.reduce((n, l) => n + l.rows, 0);
      await saveProgress(client, input, { ...progress, lanes, rows, batches: lanes.reduce((n, l) => n + l.batches, 0), ...stats });
      await markForwardDone(client, input, step.id, step.summary);
    });
    return { skipped: false, ms: Date.now() - started, auditHead };
  } catch (err) {
    if (!toFailure(err).nonRetryable || committed === 0 || step.inverse === null) throw err;
    // Put back what the committed batches changed; a retryable failure resumes instead.
    const restored = logs.length > 0 ? await restoreFromLogs(client, input, logs) : [];
    await inTransaction(client, input.policy, async () => {
      for (const action of step.inverse!) await client.query(bindSnapshots(action.sql, scope));
      if ((step.snapshots?.length ?? 0) > 0) await checkRestored(client, scope, step.snapshots!);
      for (const r of restored) await recordRestore(client, input, r);
      await saveProgress(client, input, { ...START });
    });
    throw err;
  } finally {
    for (const e of extra) e.client.release(e.broken);
  }
}

