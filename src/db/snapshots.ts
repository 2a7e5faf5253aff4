import { createHash } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from './ident';
import { tableChecksum } from './checksum';
import type { SnapshotSpec } from '../operations/types';
import type { RestoreRecord } from './restores';
import { purgeRetired, type PurgeOutcome } from './purge';

import { RETIRED_COLUMN_PREFIX, SNAPSHOT_SCHEMA } from './schemas';
import { GodwitError } from '../errors';

export { SNAPSHOT_SCHEMA };

/** How long a snapshot is kept by default before `godwit snapshots prune` may drop it. */
export const DEFAULT_RETENTION = '14 days';

export interface SnapshotScope {
  migrationId: string;
  runId: string;
  stepId: string;
}

export interface SnapshotRecord {
  snapshotTable: string;
  migrationId: string;
  runId: string;
  stepId: string;
  ordinal: number;
  kind: SnapshotSpec['kind'];
  source: string;
  rowCount: number;
  checksum: string;
  createdAt: string;
  retainUntil: string;
  restoredAt: string | null;
}

/** Thrown when data restored from a snapshot does not match the snapshot. */
export class SnapshotMismatchError extends GodwitError {
  override readonly name = 'SnapshotMismatchError';
}

/** Deterministic per run, step and ordinal, so a retried step reuses the same name. */
export function snapshotTableName(scope: SnapshotScope, ordinal: number): string {
  const digest = createHash('sha256').update(`${scope.runId}\u0000${scope.stepId}\u0000${ordinal}`).digest('hex').slice(0, 16);
  return `s_${digest}`;
}

export function qualifiedSnapshot(name: string): string {
  return `${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(name)}`;
}

function selectList(spec: SnapshotSpec): string {
  if (spec.kind === 'table' || spec.columns === undefined) return '*';
  return [...spec.key, ...spec.columns.filter((c) => !spec.key.includes(c))].map(quoteIdent).join(', ');
}

/**
 * Copies what a destructive step will destroy, inside the caller's transaction and
 * after locking the table against writes (reads go on), so nothing written between
 * the copy and the step can be lost. Returns the snapshot table names by ordinal.
 */
export async function takeSnapshots(client: pg.ClientBase, scope: SnapshotScope, specs: readonly SnapshotSpec[], retention = DEFAULT_RETENTION): Promise<string[]> {
  const names: string[] = [];
  for (const [ordinal, spec] of specs.entries()) {
    if (spec.kind === 'changes') continue; // a change log, created empty by createChangeLog and filled as the step writes
    const source = `${quoteIdent(spec.schema)}.${quoteIdent(spec.table)}`;
    const name = snapshotTableName(scope, ordinal);
    await client.query(`lock table ${source} in share mode`);
    await client.query(`drop table if exists ${qualifiedSnapshot(name)}`);
    const where = spec.kind === 'columns' && spec.where ? ` where ${spec.where}` : '';
    await client.query(`create table ${qualifiedSnapshot(name)} as select ${selectList(spec)} from ${source}${where}`);
    const sum = await tableChecksum(client, SNAPSHOT_SCHEMA, name);
    await client.query(
      `insert into godwit.snapshots (snapshot_table, migration_id, run_id, step_id, ordinal, kind, source_schema, source_table,
                                     key_columns, columns, where_clause, row_count, checksum, retain_until)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now() + $14::interval)
       on conflict (snapshot_table) do update set row_count = excluded.row_count, checksum = excluded.checksum, created_at = now()`,
      [
        name,
        scope.migrationId,
        scope.runId,
        scope.stepId,
        ordinal,
        spec.kind,
        spec.schema,
        spec.table,
        spec.kind === 'columns' ? spec.key : [],
        spec.kind === 'columns' ? spec.columns : [],
        spec.kind === 'columns' ? (spec.where ?? null) : null,
        sum.rows,
        sum.checksum,
        retention,
      ],
    );
    names.push(name);
  }
  return names;
}

/** The name a step gives retired object N: unique per run, step and ordinal, so a retried step reuses it. */
export function retiredName(scope: SnapshotScope, ordinal: number): string {
  const digest = createHash('sha256').update(`${scope.runId}\u0000${scope.stepId}\u0000retired\u0000${ordinal}`).digest('hex').slice(0, 16);
  return `${RETIRED_COLUMN_PREFIX}${digest}`;
}

/**
 * Replaces `{{snapshot:N}}` in forward and inverse SQL with the snapshot tables of this run
 * and step, and `{{retired:N}}` with the quoted name of its retired object N.
 */
export function bindSnapshots(sql: string, scope: SnapshotScope): string {
  return sql
    .replace(/\{\{snapshot:(\d+)\}\}/g, (_m, n: string) => qualifiedSnapshot(snapshotTableName(scope, Number(n))))
    .replace(/\{\{retired:(\d+)\}\}/g, (_m, n: string) => quoteIdent(retiredName(scope, Number(n))));
}

/**
 * After an inverse restored data from the step's copies: the proof of each restore, against
 * its own copy.
 * - `columns` (a dropped or retyped column): every row the copy holds that still exists must
 *   have the copy's values again. Rows the application inserted since are not the copy's
 *   business, and a row it deleted stays deleted (counted as gone).
 * - `table` (a whole table put back): the table's checksum must equal the copy's. Exact only
 *   on a database nobody writes to meanwhile; planning says so where it falls back to this.
 */
/**
 * Before an inverse restores a column whose values the step rewrote (`migrated`): locks the
 * table (the restore's rewrite takes this lock anyway, in the same transaction) and counts,
 * per snapshot, the rows whose value is no longer the one the step wrote. The application
 * changed those since; the restore keeps them, and its proof expects exactly that many.
 */
export async function countChangedSince(client: pg.ClientBase, scope: SnapshotScope, specs: readonly SnapshotSpec[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const [ordinal, spec] of specs.entries()) {
    if (spec.kind !== 'columns' || spec.migrated === undefined) continue;
    const source = `${quoteIdent(spec.schema)}.${quoteIdent(spec.table)}`;
    await client.query(`lock table ${source} in access exclusive mode`);
    const { migrated } = spec;
    const keys = spec.key.map(quoteIdent).join(', ');
    const match = spec.key.map((k) => `t.${quoteIdent(k)} = w.${quoteIdent(k)}`).join(' and ');
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::float8 as n
         from ${source} t
         join (select ${keys}, (${migrated.expression})::${migrated.type} as godwit_wrote from ${qualifiedSnapshot(snapshotTableName(scope, ordinal))}) w on ${match}
        where t.${quoteIdent(migrated.column)}::text is distinct from w.godwit_wrote::text`,
    );
    out.set(ordinal, rows[0]?.n ?? 0);
  }
  return out;
}

export async function proveRestored(client: pg.ClientBase, scope: SnapshotScope, specs: readonly SnapshotSpec[], changedSince: ReadonlyMap<number, number> = new Map()): Promise<RestoreRecord[]> {
  const out: RestoreRecord[] = [];
  for (const [ordinal, spec] of specs.entries()) {
    if (spec.kind === 'changes') continue;
    const name = snapshotTableName(scope, ordinal);
    const source = `${spec.schema}.${spec.table}`;
    const { rows } = await client.query<{ checksum: string; row_count: string }>(
      'select checksum, row_count::text from godwit.snapshots where snapshot_table = $1',
      [name],
    );
    const recorded = rows[0];
    if (!recorded) throw new SnapshotMismatchError(`snapshot ${name} of ${source} is not in godwit.snapshots`);
    if (spec.kind === 'columns') {
      // The restored column (a retyped one: not the others its USING named, copied only to compute it).
      const cols = [...new Set([...spec.key, ...(spec.migrated ? [spec.migrated.column] : spec.columns)])];
      const match = spec.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' and ');
      const row = (alias: string) => `row(${cols.map((c) => `${alias}.${quoteIdent(c)}`).join(', ')})::text`;
      const { rows: c } = await client.query<{ rows: number; present: number; mismatched: number }>(
        `select count(*)::float8 as rows, count(t.ctid)::float8 as present,
                count(*) filter (where t.ctid is not null and ${row('t')} is distinct from ${row('s')})::float8 as mismatched
           from ${qualifiedSnapshot(name)} s left join ${quoteIdent(spec.schema)}.${quoteIdent(spec.table)} t on ${match}`,
      );
      const r = c[0]!;
      // Rows the application changed after the step keep its value: exactly those may differ.
      const kept = changedSince.get(ordinal) ?? 0;
      const unexplained = r.mismatched - kept;
      out.push({
        stepId: scope.stepId,
        ordinal,
        kind: 'columns',
        source: `${source} (${spec.migrated ? spec.migrated.column : spec.columns.join(', ')})`,
        rows: r.rows,
        restored: r.present - r.mismatched,
        kept: Math.min(kept, r.mismatched),
        gone: r.rows - r.present,
        equal: unexplained <= 0,
        detail: unexplained <= 0 ? null : `${unexplained} rows differ from snapshot ${name}`,
      });
    } else {
      const restored = await tableChecksum(client, spec.schema, spec.table);
      const equal = restored.checksum === recorded.checksum && String(restored.rows) === recorded.row_count;
      out.push({
        stepId: scope.stepId,
        ordinal,
        kind: 'table',
        source,
        rows: Number(recorded.row_count),
        restored: equal ? restored.rows : 0,
        kept: 0,
        gone: 0,
        equal,
        detail: equal
          ? null
          : `${restored.rows} rows with checksum ${restored.checksum}, snapshot ${name} has ${recorded.row_count} rows with ${recorded.checksum}`,
      });
    }
    await client.query('update godwit.snapshots set restored_at = now() where snapshot_table = $1', [name]);
  }
  return out;
}

/** proveRestored, throwing SnapshotMismatchError at the first restore that does not hold. */
export async function checkRestored(client: pg.ClientBase, scope: SnapshotScope, specs: readonly SnapshotSpec[]): Promise<void> {
  for (const r of await proveRestored(client, scope, specs)) {
    if (!r.equal) throw new SnapshotMismatchError(`data restored into ${r.source} does not match its snapshot: ${r.detail}`);
  }
}

export async function listSnapshots(client: pg.ClientBase): Promise<SnapshotRecord[]> {
  const { rows } = await client.query(
    `select snapshot_table, migration_id, run_id, step_id, ordinal, kind, source_schema || '.' || source_table as source,
            row_count::int, checksum, created_at, retain_until, restored_at
       from godwit.snapshots order by created_at, snapshot_table`,
  );
  return rows.map((r) => ({
    snapshotTable: r.snapshot_table,
    migrationId: r.migration_id,
    runId: r.run_id,
    stepId: r.step_id,
    ordinal: r.ordinal,
    kind: r.kind,
    source: r.source,
    rowCount: r.row_count,
    checksum: r.checksum,
    createdAt: (r.created_at as Date).toISOString(),
    retainUntil: (r.retain_until as Date).toISOString(),
    restoredAt: r.restored_at ? (r.restored_at as Date).toISOString() : null,
  }));
}

/**
 * Drops expired snapshots, never one that a migration which can still be rolled back
 * needs: its run is still open (not applied, rolled back, rejected or resolved), or it
 * is the latest run of a migration that is waiting in rollback_failed. Then purges the
 * retired columns and tables that are due (see purgeRetired): nothing else ever does.
 */
export async function pruneSnapshots(client: pg.ClientBase): Promise<{ dropped: string[]; kept: string[] } & PurgeOutcome> {
  const { rows } = await client.query<{ snapshot_table: string; prunable: boolean }>(
    `select s.snapshot_table,
            s.retain_until < now()
            and not exists (select 1 from godwit.migrations m
                             where m.run_id = s.run_id
                               and m.state not in ('applied', 'rolled_back', 'rejected', 'resolved_manually', 'reverted')) as prunable
       from godwit.snapshots s`,
  );
  const dropped: string[] = [];
  const kept: string[] = [];
  for (const r of rows) {
    if (!r.prunable) {
      kept.push(r.snapshot_table);
      continue;
    }
    await client.query('begin');
    try {
      await client.query(`drop table if exists ${qualifiedSnapshot(r.snapshot_table)}`);
      await client.query('delete from godwit.snapshots where snapshot_table = $1', [r.snapshot_table]);
      await client.query('commit');
      dropped.push(r.snapshot_table);
    } catch (err) {
      await client.query('rollback');
      throw err;
    }
  }
  return { dropped, kept, ...(await purgeRetired(client)) };
}
