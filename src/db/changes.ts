/**
 * Change logs: what a step changed, recorded as it changes it, so that a rollback puts back
 * exactly the migration's writes and nothing the application wrote meanwhile.
 *
 * A change log is a table in `godwit_snapshots` with the source table's columns (or its key
 * and the columns a backfill sets) plus `godwit_op` ('o': the row as it was before a write,
 * 'n': as it was after) and `godwit_seq` (the order the images were written in). For every
 * key the first image says how the row was before the step ('o', or absent when the step
 * inserted it) and the last how the step left it ('n', or absent when it deleted it).
 *
 * Nothing locks the table for a copy:
 * - a backfill writes the images of each batch in the batch's own statement, from the rows
 *   it has locked FOR UPDATE (see activities/backfill.ts);
 * - an sql step without a down is watched by statement-level triggers with transition
 *   tables (INSERT, UPDATE, DELETE, MERGE, COPY, writes made inside functions and cascades),
 *   installed in a short transaction of their own and firing only in a transaction that
 *   sets `godwit.capture` to the step's tag, so the application's statements are not logged.
 *
 * The restore goes through the log in key order, a batch per transaction (row locks held
 * for one batch only), and for each key puts back the row as it was only where the value
 * is still the one the step wrote. Where the application has changed it since, its value
 * stays and the row is counted as kept; a row the application deleted stays deleted. Each
 * batch then checks its own result against the log: that check is the proof of the restore.
 * Re-running a batch changes nothing and counts the same, so a retried compensation simply
 * starts over.
 */
import type pg from 'pg';
import { quoteIdent } from './ident';
import { SNAPSHOT_SCHEMA } from './schemas';
import type { ChangesSpec, SnapshotSpec } from '../operations/types';
import { DEFAULT_RETENTION, snapshotTableName, type SnapshotScope } from './snapshots';

/** A step's change logs: its `changes` snapshots with their table names. */
export interface ChangeLog {
  ordinal: number;
  name: string;
  spec: ChangesSpec;
}

export function changeLogsOf(scope: SnapshotScope, specs: readonly SnapshotSpec[] | undefined): ChangeLog[] {
  return (specs ?? []).flatMap((spec, ordinal) => (spec.kind === 'changes' ? [{ ordinal, name: snapshotTableName(scope, ordinal), spec }] : []));
}

/** Creates the step's change logs (empty) and lists them in godwit.snapshots, in the caller's transaction. */
export async function createChangeLogs(client: pg.ClientBase, scope: SnapshotScope, logs: readonly ChangeLog[], retention = DEFAULT_RETENTION): Promise<void> {
  for (const { ordinal, name, spec } of logs) {
    await createChangeLog(client, name, spec);
    await client.query(
      `insert into godwit.snapshots (snapshot_table, migration_id, run_id, step_id, ordinal, kind, source_schema, source_table,
                                     key_columns, columns, row_count, checksum, retain_until)
       values ($1, $2, $3, $4, $5, 'changes', $6, $7, $8, $9, 0, '', now() + $10::interval)
       on conflict (snapshot_table) do nothing`,
      [name, scope.migrationId, scope.runId, scope.stepId, ordinal, spec.schema, spec.table, spec.key, spec.columns ?? [], retention],
    );
  }
}

/** Keys per restore batch: each batch's row locks are held for one short transaction. */
export const RESTORE_BATCH_KEYS = Number(process.env.GODWIT_RESTORE_BATCH ?? 5000);

/** The GUC a step's transaction sets to its tag so that the capture triggers record its writes. */
export const CAPTURE_SETTING = 'godwit.capture';

export const OP_COLUMN = 'godwit_op';
export const SEQ_COLUMN = 'godwit_seq';

const q = quoteIdent;

function qualified(schema: string, name: string): string {
  return `${q(schema)}.${q(name)}`;
}

/** The columns a change log holds: the key, then the columns (all of the table's when absent). */
function loggedColumns(spec: ChangesSpec): string | null {
  if (spec.columns === undefined) return null;
  return [...new Set([...spec.key, ...spec.columns])].map(q).join(', ');
}

/** Creates the empty change log `name` for `spec` unless it exists (a retried step reuses it). */
async function createChangeLog(client: pg.ClientBase, name: string, spec: ChangesSpec): Promise<void> {
  const exists = await client.query(`select to_regclass($1) is not null as present`, [qualified(SNAPSHOT_SCHEMA, name)]);
  if (exists.rows[0]?.present) return;
  const log = qualified(SNAPSHOT_SCHEMA, name);
  const source = qualified(spec.schema, spec.table);
  // CREATE TABLE AS copies the column types (with their modifiers) and nothing that could
  // refuse an image: no NOT NULL, no defaults, no constraints; generated columns become plain.
  await client.query(`create table ${log} as select ${loggedColumns(spec) ?? '*'} from ${source} with no data`);
  await client.query(`alter table ${log} add column ${q(OP_COLUMN)} "char" not null, add column ${q(SEQ_COLUMN)} bigint generated always as identity`);
}

/** The trigger function every capture trigger calls: (change log, tag). */
const CAPTURE_FUNCTION = `${q(SNAPSHOT_SCHEMA)}.${q('godwit_capture')}`;

/** Trigger names on the source table for change log `name`. */
function triggerNames(name: string): { insert: string; update: string; delete: string } {
  return { insert: `godwit_capture_${name}_i`, update: `godwit_capture_${name}_u`, delete: `godwit_capture_${name}_d` };
}

/**
 * Installs the capture triggers for each change log (name → spec). Runs in the caller's
 * transaction, which should be short and carry the policy's lock_timeout: CREATE TRIGGER
 * takes a SHARE ROW EXCLUSIVE lock on the table until that transaction ends.
 */
export async function installCapture(client: pg.ClientBase, tag: string, logs: readonly ChangeLog[]): Promise<void> {
  await client.query(`create or replace function ${CAPTURE_FUNCTION}() returns trigger language plpgsql as $fn$
    begin
      if current_setting('${CAPTURE_SETTING}', true) is distinct from tg_argv[1] then return null; end if;
      if tg_op <> 'INSERT' then execute format('insert into %s select o.*, ''o'' from godwit_old o', tg_argv[0]); end if;
      if tg_op <> 'DELETE' then execute format('insert into %s select n.*, ''n'' from godwit_new n', tg_argv[0]); end if;
      return null;
    end $fn$`);
  for (const { name, spec } of logs) {
    const source = qualified(spec.schema, spec.table);
    const t = triggerNames(name);
    const args = `${client.escapeLiteral(qualified(SNAPSHOT_SCHEMA, name))}, ${client.escapeLiteral(tag)}`;
    await dropTriggers(client, source, name);
    await client.query(`create trigger ${q(t.insert)} after insert on ${source} referencing new table as godwit_new for each statement execute function ${CAPTURE_FUNCTION}(${args})`);
    await client.query(
      `create trigger ${q(t.update)} after update on ${source} referencing old table as godwit_old new table as godwit_new for each statement execute function ${CAPTURE_FUNCTION}(${args})`,
    );
    await client.query(`create trigger ${q(t.delete)} after delete on ${source} referencing old table as godwit_old for each statement execute function ${CAPTURE_FUNCTION}(${args})`);
  }
}

/**
 * Drops the capture triggers of log `name` that are there. DROP TRIGGER takes an ACCESS
 * EXCLUSIVE lock on the table even when the trigger is absent, so absent ones are not dropped.
 */
async function dropTriggers(client: pg.ClientBase, source: string, name: string): Promise<void> {
  const t = triggerNames(name);
  const { rows } = await client.query<{ tgname: string }>(
    'select tgname from pg_trigger where tgrelid = to_regclass($1) and tgname = any($2::text[])',
    [source, [t.insert, t.update, t.delete]],
  );
  for (const { tgname } of rows) await client.query(`drop trigger if exists ${q(tgname)} on ${source}`);
}

/** Removes the capture triggers (idempotent; a table that no longer exists has none). */
export async function removeCapture(client: pg.ClientBase, logs: readonly ChangeLog[]): Promise<void> {
  for (const { name, spec } of logs) {
    const present = await client.query(`select to_regclass($1) is not null as present`, [qualified(spec.schema, spec.table)]);
    if (!present.rows[0]?.present) continue;
    await dropTriggers(client, qualified(spec.schema, spec.table), name);
    if (spec.trigger !== undefined) {
      const there = await client.query('select 1 from pg_trigger where tgrelid = to_regclass($1) and tgname = $2', [qualified(spec.schema, spec.table), spec.trigger]);
      if ((there.rowCount ?? 0) > 0) await client.query(`drop trigger ${q(spec.trigger)} on ${qualified(spec.schema, spec.table)}`);
    }
  }
}

/** What one restore did, and whether its own check against the log held. */
export interface RestoreCounts {
  /** Keys the step changed (inserted, updated or deleted). */
  rows: number;
  /** Put back as they were before the step, each checked against the log. */
  restored: number;
  /** The application changed the row (or a value) after the step: its value was kept. */
  kept: number;
  /** The application deleted a row the step had updated: it stays deleted. */
  gone: number;
  /** Still as the step left it after the restore: the restore is not proven. */
  mismatched: number;
}

export const NO_COUNTS: Readonly<RestoreCounts> = { rows: 0, restored: 0, kept: 0, gone: 0, mismatched: 0 };

export function addCounts(a: RestoreCounts, b: RestoreCounts): RestoreCounts {
  return { rows: a.rows + b.rows, restored: a.restored + b.restored, kept: a.kept + b.kept, gone: a.gone + b.gone, mismatched: a.mismatched + b.mismatched };
}

interface ColumnInfo {
  name: string;
  /** Postgres computes it (GENERATED ALWAYS AS ... STORED): never written back. */
  generated: boolean;
  /** GENERATED ALWAYS AS IDENTITY: an INSERT of its old value needs OVERRIDING SYSTEM VALUE. */
  identityAlways: boolean;
}

/** The log's data columns, as the source table has them now. */
async function logColumns(client: pg.ClientBase, log: string, spec: ChangesSpec): Promise<ColumnInfo[]> {
  const { rows } = await client.query<{ name: string; generated: boolean; identity_always: boolean }>(
    `select l.attname as name, coalesce(s.attgenerated <> '', false) as generated, coalesce(s.attidentity = 'a', false) as identity_always
       from pg_attribute l
       left join pg_attribute s on s.attrelid = to_regclass($2) and s.attname = l.attname and not s.attisdropped
      where l.attrelid = to_regclass($1) and l.attnum > 0 and not l.attisdropped and l.attname not in ($3, $4)
      order by l.attnum`,
    [log, qualified(spec.schema, spec.table), OP_COLUMN, SEQ_COLUMN],
  );
  return rows.map((r) => ({ name: r.name, generated: r.generated, identityAlways: r.identity_always }));
}

/** Which writes of the log a pass puts back: updates and re-inserts (parents first), or deletes (children first). */
export type RestorePass = 'put' | 'remove';

/** A range of keys in the log: after `from` (exclusive; null: from the start) up to `to` (inclusive). */
interface KeyRange {
  from: string[] | null;
  to: string[];
}

/**
 * The SQL of one batch over a key range. `$1..$k` is the range's start (when it has one),
 * then `$k+1..$2k` (or `$1..$k`) its end; `rangeParams` gives the values in that order.
 */
class BatchSql {
  private readonly key: string[];
  private readonly k: string;
  private readonly values: ColumnInfo[];

  constructor(
    private readonly log: string,
    private readonly source: string,
    private readonly spec: ChangesSpec,
    private readonly columns: ColumnInfo[],
  ) {
    this.key = spec.key;
    this.k = spec.key.map(q).join(', ');
    this.values = columns.filter((c) => !spec.key.includes(c.name));
  }

  /** The log holds whole rows (an sql step may insert and delete them), not a backfill's columns. */
  get wholeRows(): boolean {
    return this.spec.columns === undefined;
  }

  /** The key values of a row that nextEnd returned, in key order. */
  keyValues(row: Record<string, string>): string[] {
    return this.key.map((c) => row[c]!);
  }

  private keyRow(prefix = ''): string {
    const cols = this.key.map((c) => `${prefix}${q(c)}`);
    return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
  }

  private params(start: number): string {
    const ps = this.key.map((_c, i) => `$${start + i}`);
    return ps.length === 1 ? ps[0]! : `(${ps.join(', ')})`;
  }

  rangeParams(range: KeyRange): string[] {
    return [...(range.from ?? []), ...range.to];
  }

  private where(range: KeyRange): string {
    const lower = range.from === null ? '' : `${this.keyRow()} > ${this.params(1)} and `;
    return `where ${lower}${this.keyRow()} <= ${this.params(range.from === null ? 1 : this.key.length + 1)}`;
  }

  /** The last key of the next batch of at most `limit` keys after `from`, as text. */
  nextEnd(from: string[] | null, limit: number): { sql: string; params: unknown[] } {
    const after = from === null ? '' : `where ${this.keyRow()} > ${this.params(1)}`;
    const sql = `select ${this.key.map((c) => `${q(c)}::text as ${q(c)}`).join(', ')}
                   from (select distinct ${this.k} from ${this.log} ${after} order by ${this.k} limit ${Number(limit)}) b
                  order by ${this.key.map((c) => `b.${q(c)} desc`).join(', ')} limit 1`;
    return { sql, params: from ?? [] };
  }

  /** For each key of the range: how the step found the row (had, b<i>) and how it left it (has, a<i>). */
  private net(range: KeyRange): string {
    const { k, log } = this;
    return `f as (
        select distinct on (${k}) l.* from ${log} l ${this.where(range)} order by ${k}, l.${q(SEQ_COLUMN)}
      ), z as (
        select distinct on (${k}) l.* from ${log} l ${this.where(range)} order by ${k}, l.${q(SEQ_COLUMN)} desc
      ), n as (
        select ${this.key.map((c) => `f.${q(c)}`).join(', ')}, f.${q(OP_COLUMN)} = 'o' as had, z.${q(OP_COLUMN)} = 'n' as has,
               ${this.columns.map((c, i) => `f.${q(c.name)} as b${i}, z.${q(c.name)} as a${i}`).join(', ')}
          from f join z using (${k})
      )`;
  }

  private i(c: ColumnInfo): number {
    return this.columns.indexOf(c);
  }
  private changed(c: ColumnInfo): string {
    return `n.b${this.i(c)}::text is distinct from n.a${this.i(c)}::text`;
  }
  private now(c: ColumnInfo): string {
    return `t.${q(c.name)}::text`;
  }
  private stillOurs(c: ColumnInfo): string {
    return `${this.now(c)} is not distinct from n.a${this.i(c)}::text`;
  }
  private isBefore(c: ColumnInfo): string {
    return `${this.now(c)} is not distinct from n.b${this.i(c)}::text`;
  }
  private keyMatch(): string {
    return this.key.map((c) => `t.${q(c)} = n.${q(c)}`).join(' and ');
  }
  private row(side: 't' | 'a' | 'b'): string {
    return `row(${this.columns.map((c, i) => (side === 't' ? `t.${q(c.name)}` : `n.${side}${i}`)).join(', ')})::text`;
  }

  /** The writes of one pass over the range: none when the pass has nothing to do for this log. */
  modify(range: KeyRange, pass: RestorePass): string | null {
    const { source } = this;
    const writes: string[] = [];
    if (pass === 'put') {
      const writable = this.values.filter((c) => !c.generated);
      if (writable.length > 0) {
        // Each value goes back only where it is still the one the step wrote.
        const set = writable.map((c) => `${q(c.name)} = case when ${this.stillOurs(c)} then n.b${this.i(c)} else t.${q(c.name)} end`);
        const anyOurs = writable.map((c) => `(${this.changed(c)} and ${this.stillOurs(c)})`).join(' or ');
        writes.push(`upd as (update ${source} as t set ${set.join(', ')} from n where n.had and n.has and ${this.keyMatch()} and (${anyOurs}) returning 1)`);
      }
      if (this.wholeRows) {
        // A row the step deleted comes back unless the application has put a row with its key there since.
        const cols = this.columns.filter((c) => !c.generated);
        const overriding = cols.some((c) => c.identityAlways) ? ' overriding system value' : '';
        writes.push(
          `ins as (insert into ${source} (${cols.map((c) => q(c.name)).join(', ')})${overriding}
             select ${cols.map((c) => `n.b${this.i(c)}`).join(', ')} from n where n.had and not n.has on conflict do nothing returning 1)`,
        );
      }
    } else if (this.wholeRows) {
      // A row the step inserted goes only if it is still exactly as the step left it.
      writes.push(`del as (delete from ${source} as t using n where not n.had and n.has and ${this.keyMatch()} and ${this.row('t')} = ${this.row('a')} returning 1)`);
    }
    if (writes.length === 0) return null;
    return `with ${this.net(range)}, ${writes.join(', ')} select 1`;
  }

  /**
   * Each key of the range classified by the state its row is in now, against the log:
   * restored (as before the step), kept (the application's since), gone (deleted by the
   * application), or mismatched (still as the step left it: the restore did not happen).
   */
  check(range: KeyRange): string {
    const { values } = this;
    const stillOurs = values.length === 0 ? 'false' : values.map((c) => `(${this.changed(c)} and ${this.stillOurs(c)})`).join(' or ');
    const allBefore = values.length === 0 ? 'true' : values.map((c) => `(not (${this.changed(c)}) or ${this.isBefore(c)})`).join(' and ');
    return `with ${this.net(range)}, s as (
        select case
          when n.had and n.has then
            case when t.godwit_present is null then 'gone' when ${stillOurs} then 'mismatched' when ${allBefore} then 'restored' else 'kept' end
          when n.has then
            case when t.godwit_present is null then 'restored' when ${this.row('t')} = ${this.row('a')} then 'mismatched' else 'kept' end
          when n.had then
            case when t.godwit_present is null then 'mismatched' when ${this.row('t')} = ${this.row('b')} then 'restored' else 'kept' end
        end as outcome
          -- A probe of the table's key per logged row: a join would read the whole table per batch.
          from n left join lateral (select t.*, true as godwit_present from ${this.source} as t where ${this.keyMatch()}) as t on true
      )
      select count(outcome)::int as rows,
             count(*) filter (where outcome = 'restored')::int as restored,
             count(*) filter (where outcome = 'kept')::int as kept,
             count(*) filter (where outcome = 'gone')::int as gone,
             count(*) filter (where outcome = 'mismatched')::int as mismatched
        from s`;
  }
}

/** Paces the batches (activities/pacing.ts): their size and the waits between them. */
export interface RestorePacing {
  readonly size: number;
  /** The keys the restore is expected to go through, from the logs' statistics. */
  estimate(keys: number | null): void;
  /** First in each batch's transaction; false: the batch must not run now (see whileHeld). */
  beginBatch(): Promise<boolean>;
  /** Last in each batch's transaction, just before it commits. */
  endBatch(): Promise<void>;
  /** After beginBatch said no: waits until the batch may run. */
  whileHeld(): Promise<void>;
  /** After each batch committed, with its keys and its duration (ms). */
  afterBatch(keys: number, ms: number): Promise<void>;
}

export interface RestoreStepContext {
  /** Runs `fn` in its own transaction after checking the run's fence (the caller's inTransaction). */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Reported after every batch (heartbeat details). */
  onBatch?(done: RestoreCounts): void;
  /** Without it, batches of RESTORE_BATCH_KEYS keys run back to back. */
  pacing?: RestorePacing;
}

/**
 * Restores from the change logs of one step, in batches of RESTORE_BATCH_KEYS keys per
 * transaction: a `put` pass over the logs in the given order (parents first: updates go
 * back, deleted rows come back), then for logs of whole rows a `remove` pass in reverse
 * order (children first: rows the step inserted go). The check of each batch runs in the
 * transaction of the log's last pass, right after its writes, so nothing the application
 * does later can blur it. Returns the counts per log, in the order given.
 */
export async function restoreChanges(client: pg.ClientBase, logs: readonly ChangeLog[], ctx: RestoreStepContext): Promise<RestoreCounts[]> {
  const prepared: BatchSql[] = [];
  for (const { name, spec } of logs) {
    const log = qualified(SNAPSHOT_SCHEMA, name);
    const source = qualified(spec.schema, spec.table);
    const present = await client.query(`select to_regclass($1) is not null as present`, [source]);
    if (!present.rows[0]?.present) throw new Error(`cannot restore ${spec.schema}.${spec.table} from its change log: the table does not exist`);
    // Key order with the image order inside a key: how every batch reads the log.
    await client.query(`create index if not exists ${q(`${name}_key`)} on ${log} (${[...spec.key.map(q), q(SEQ_COLUMN)].join(', ')})`);
    // A log filled since the step began has no statistics yet: without them the planner takes
    // each batch's key sets for a row or two and joins them in nested loops (seconds per batch).
    await client.query(`analyze ${log}`);
    prepared.push(new BatchSql(log, source, spec, await logColumns(client, log, spec)));
  }
  ctx.pacing?.estimate(await distinctKeys(client, logs));
  const counts: RestoreCounts[] = prepared.map(() => ({ ...NO_COUNTS }));
  let done: RestoreCounts = { ...NO_COUNTS };
  const run = async (index: number, pass: RestorePass, check: boolean) => {
    const sql = prepared[index]!;
    let from: string[] | null = null;
    for (;;) {
      const began = performance.now();
      const limit = ctx.pacing?.size ?? RESTORE_BATCH_KEYS;
      // The batch's end is found in its own transaction: one transaction per batch, which is
      // what the pacing counts as this restore's own commits.
      const step = await ctx.transaction(async () => {
        if (ctx.pacing && !(await ctx.pacing.beginBatch())) return 'held' as const;
        const next = sql.nextEnd(from, limit);
        const top = (await client.query<Record<string, string>>(next.sql, next.params)).rows[0];
        if (!top) return null;
        const range: KeyRange = { from, to: sql.keyValues(top) };
        const modify = sql.modify(range, pass);
        if (modify !== null) await client.query(modify, sql.rangeParams(range));
        const batch = check ? ((await client.query<RestoreCounts>(sql.check(range), sql.rangeParams(range))).rows[0] ?? NO_COUNTS) : null;
        await ctx.pacing?.endBatch();
        return { range, batch };
      });
      if (step === null) return;
      if (step === 'held') {
        await ctx.pacing?.whileHeld();
        continue;
      }
      if (step.batch !== null) {
        counts[index] = addCounts(counts[index]!, step.batch);
        done = addCounts(done, step.batch);
        ctx.onBatch?.(done);
      }
      from = step.range.to;
      await ctx.pacing?.afterBatch(limit, performance.now() - began);
    }
  };
  for (const [i, sql] of prepared.entries()) await run(i, 'put', !sql.wholeRows);
  for (let i = prepared.length - 1; i >= 0; i--) if (prepared[i]!.wholeRows) await run(i, 'remove', true);
  return counts;
}

/**
 * The keys the logs hold, from their statistics (the restore analyzes every log first):
 * the distinct values of each log's first key column. Null when unknown.
 */
async function distinctKeys(client: pg.ClientBase, logs: readonly ChangeLog[]): Promise<number | null> {
  const { rows } = await client.query<{ n: number | null }>(
    `select sum(case when s.n_distinct < 0 then -s.n_distinct * c.reltuples else s.n_distinct end)::float8 as n
       from unnest($1::text[], $2::text[]) as l(name, key)
       join pg_class c on c.relname = l.name and c.relnamespace = $3::text::regnamespace
       left join pg_stats s on s.schemaname = $3::text and s.tablename = l.name and s.attname = l.key`,
    [logs.map((l) => l.name), logs.map((l) => l.spec.key[0]!), SNAPSHOT_SCHEMA],
  );
  const n = rows[0]?.n;
  return n === null || n === undefined ? null : Math.round(n);
}

/**
 * Checks, without writing, that what the logs recorded is undone: for a step whose own SQL
 * (an sql step's down) did the restore. Runs in the caller's transaction, right after it.
 */
export async function checkChanges(client: pg.ClientBase, logs: readonly ChangeLog[]): Promise<RestoreCounts[]> {
  const counts: RestoreCounts[] = [];
  for (const { name, spec } of logs) {
    const log = qualified(SNAPSHOT_SCHEMA, name);
    await client.query(`analyze ${log}`);
    const sql = new BatchSql(log, qualified(spec.schema, spec.table), spec, await logColumns(client, log, spec));
    const { rows } = await client.query<Record<string, string>>(sql.nextEnd(null, Number.MAX_SAFE_INTEGER).sql);
    const top = rows[0];
    if (!top) {
      counts.push({ ...NO_COUNTS });
      continue;
    }
    const range: KeyRange = { from: null, to: sql.keyValues(top) };
    counts.push((await client.query<RestoreCounts>(sql.check(range), sql.rangeParams(range))).rows[0] ?? { ...NO_COUNTS });
  }
  return counts;
}
