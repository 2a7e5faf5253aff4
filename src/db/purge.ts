/**
 * The late part of destroy late: what a migration retired (see src/db/retired.ts) is dropped
 * for real only by `godwit snapshots prune`, and only once the migration that retired it
 * ended applied and its retention is over. Until then a rollback can still rename it back.
 */
import type pg from 'pg';
import { quoteIdent } from './ident';
import { RETIRED_SCHEMA } from './schemas';
import { isConnectionLoss } from './connection-loss';

/** How long a purge waits for its table's lock before it leaves the object for the next prune. */
export const PURGE_LOCK_TIMEOUT = '5s';

export interface RetiredRecord {
  /** `_godwit_retired_<16 hex>`: the column's name, or the table's in schema godwit_retired. */
  retiredName: string;
  kind: 'column' | 'table';
  /** What it was: `public.users.bio`, `public.orders`. */
  source: string;
  migrationId: string;
  runId: string;
  stepId: string;
  /** The state of the run that retired it, or null when the migration has run again since (then it is never purged). */
  runState: string | null;
  retiredAt: string;
  retainUntil: string;
}

export interface PurgeOutcome {
  purged: RetiredRecord[];
  /** Due, but not purged this time: a lock it could not get within PURGE_LOCK_TIMEOUT, or an error Postgres gave. */
  deferred: { record: RetiredRecord; reason: string }[];
}

interface RetiredRow {
  retired_name: string;
  kind: 'column' | 'table';
  source_schema: string;
  source_table: string;
  source_column: string | null;
  migration_id: string;
  run_id: string;
  step_id: string;
  ordinal: number;
  run_state: string | null;
  retired_at: Date;
  retain_until: Date;
}

function toRecord(r: RetiredRow): RetiredRecord {
  return {
    retiredName: r.retired_name,
    kind: r.kind,
    source: [r.source_schema, r.source_table, ...(r.source_column === null ? [] : [r.source_column])].join('.'),
    migrationId: r.migration_id,
    runId: r.run_id,
    stepId: r.step_id,
    runState: r.run_state,
    retiredAt: r.retired_at.toISOString(),
    retainUntil: r.retain_until.toISOString(),
  };
}

const SELECT_RETIRED = `
select r.retired_name, r.kind, r.source_schema, r.source_table, r.source_column, r.migration_id, r.run_id, r.step_id, r.ordinal,
       (select m.state from godwit.migrations m where m.migration_id = r.migration_id and m.run_id = r.run_id) as run_state,
       r.retired_at, r.retain_until
  from godwit.retired r
 where r.restored_at is null and r.purged_at is null`;

/** Columns and tables retired and not yet purged (nor renamed back by a rollback), oldest first. */
export async function listRetired(client: pg.ClientBase): Promise<RetiredRecord[]> {
  const { rows } = await client.query<RetiredRow>(`${SELECT_RETIRED} order by r.retired_at, r.run_id, r.step_id, r.ordinal`);
  return rows.map(toRecord);
}

/**
 * The tables that hold a retired column, wherever they are now (a later migration may have
 * renamed the table, or retired it too): the retired name is unique. Only where the column is
 * the table's own, not inherited: DROP COLUMN there reaches partitions and children.
 */
async function holdersOf(client: pg.ClientBase, retiredName: string): Promise<string[]> {
  const { rows } = await client.query<{ rel: string }>(
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as rel
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where a.attname = $1 and not a.attisdropped and a.attinhcount = 0 and c.relkind in ('r', 'p')`,
    [retiredName],
  );
  return rows.map((r) => r.rel);
}

/** Drops one retired object in a short transaction of its own; an object already gone is simply marked purged. */
async function purgeOne(client: pg.ClientBase, row: RetiredRow): Promise<void> {
  await client.query('begin');
  try {
    await client.query(`select set_config('lock_timeout', $1, true)`, [PURGE_LOCK_TIMEOUT]);
    if (row.kind === 'column') {
      for (const rel of await holdersOf(client, row.retired_name)) await client.query(`alter table ${rel} drop column ${quoteIdent(row.retired_name)}`);
    } else {
      await client.query(`drop table if exists ${quoteIdent(RETIRED_SCHEMA)}.${quoteIdent(row.retired_name)}`);
    }
    await client.query('update godwit.retired set purged_at = now() where run_id = $1 and step_id = $2 and ordinal = $3', [row.run_id, row.step_id, row.ordinal]);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * Purges what is due: retired by a run that ended applied (the migration's current run), whose
 * retention has ended, and that no rollback renamed back. Each object in its own transaction
 * under a lock timeout, so a busy table costs the application at most that wait; it is then
 * left for the next prune, as is an object Postgres refuses to drop (say, a view created on it
 * since), each with the reason.
 */
export async function purgeRetired(client: pg.ClientBase): Promise<PurgeOutcome> {
  const { rows } = await client.query<RetiredRow>(
    `select * from (${SELECT_RETIRED}) r where r.run_state = 'applied' and r.retain_until < now() order by r.retired_at, r.run_id, r.step_id, r.ordinal`,
  );
  const outcome: PurgeOutcome = { purged: [], deferred: [] };
  for (const row of rows) {
    const record = toRecord(row);
    try {
      await purgeOne(client, row);
      outcome.purged.push(record);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // Only what Postgres said about this object; a lost connection ends the prune.
      if (e.code === undefined || !/^[0-9A-Z]{5}$/.test(e.code) || isConnectionLoss(err)) throw err;
      const reason =
        e.code === '55P03'
          ? `its table is busy: no lock within ${PURGE_LOCK_TIMEOUT}; the next prune tries again`
          : `Postgres refused to drop it: ${e.message ?? String(err)} (SQLSTATE ${e.code})`;
      outcome.deferred.push({ record, reason });
    }
  }
  return outcome;
}
