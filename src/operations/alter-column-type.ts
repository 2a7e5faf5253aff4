import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import type { ColumnModel, SchemaModel, TableModel } from '../db/schema-model';
import { mentionsColumn, readIndexDefinition } from './definitions';
import { onlineProblem, planOnline } from './alter-column-type-online';
import { expression, flag, identifier, qualifiedName, sqlType, strict } from './fields';
import { column, isNewColumn, relFromText, requireColumn, requireNotUsedByGenerated, requireTable, tableIndexes, type Rel } from './model';
import { constraintsOf, requireRowKey } from './model-constraints';
import { expressionColumns } from './naming';
import { fromCatalogNote } from './notes';
import { columnType, tx } from './recreate';
import { columnsSnapshot, restoreByUpdateNote, rewriteFromSnapshot, rewriteRestoreProblem, updateFromSnapshot } from './restore';
import { PlanError, Risk, type LintFinding, type MigratedValue, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

export const alterColumnTypeSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column whose type changes'),
    type: sqlType(),
    using: expression('how to compute the new value from the old, e.g. age::bigint').optional(),
    down_using: expression('how to compute the old value from the new on rollback, e.g. age::integer').optional(),
    online: flag('true: a new column, filled in batches and swapped in under a brief lock; false: rewrite the table in place; absent: online when the rewrite would lock a big table').optional(),
  },
  'alter_column_type: { table, column, type, using, down_using, online }',
);
export type AlterColumnTypeSpec = z.output<typeof alterColumnTypeSpec>;

/**
 * Back to the old type with the old values from the snapshot, in one table rewrite:
 * `TYPE <old> USING <lookup in the snapshot by key>` (see rewriteFromSnapshot). The
 * default is taken off first and put back last, as a default of the new type may not
 * cast back; NOT NULL stays, the rewrite checks it.
 */
function rewriteBack(table: Rel, model: TableModel, col: ColumnModel, key: string[], migrated: MigratedValue): SqlAction[] {
  const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(col.name)}`;
  const rewrite = rewriteFromSnapshot(table, model, col, columnType(col), key, 0, migrated);
  if (col.default === null) return rewrite;
  return [tx(`${alter} DROP DEFAULT`), ...rewrite, tx(`${alter} SET DEFAULT ${col.default}`)];
}

/**
 * Where the table cannot be rewritten that way (rewriteRestoreProblem): back to the old
 * type by rewriting every value to NULL (no cast that could fail or lose anything), then
 * the old values from the snapshot with an UPDATE. NOT NULL and the default are taken off
 * first and put back last: a NULL would break the one, and a default of the new type may
 * not cast back.
 */
function updateBack(table: Rel, col: ColumnModel, key: string[]): SqlAction[] {
  const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(col.name)}`;
  const out: SqlAction[] = [];
  if (col.default !== null) out.push(tx(`${alter} DROP DEFAULT`));
  if (!col.nullable) out.push(tx(`${alter} DROP NOT NULL`));
  out.push(tx(`${alter} TYPE ${columnType(col)} USING NULL`), updateFromSnapshot(table, key, [col.name]));
  if (!col.nullable) out.push(tx(`${alter} SET NOT NULL`));
  if (col.default !== null) out.push(tx(`${alter} SET DEFAULT ${col.default}`));
  return out;
}

/** Back to the old type with the manifest's down_using, the old default set again as it was. */
function restoreWithDownUsing(table: Rel, col: ColumnModel, downUsing: string): SqlAction[] {
  const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(col.name)}`;
  if (col.default === null) return [tx(`${alter} TYPE ${columnType(col)} USING ${downUsing}`)];
  return [tx(`${alter} DROP DEFAULT`), tx(`${alter} TYPE ${columnType(col)} USING ${downUsing}`), tx(`${alter} SET DEFAULT ${col.default}`)];
}

/**
 * Postgres rewrites check constraints and index expressions over a column whose type
 * changes (`n >= 0` becomes `(n)::numeric >= (0)::numeric`), and changing the type
 * back does not undo that. Recreating them from their definitions before the change
 * makes the rollback exact; the fingerprint would otherwise (rightly) refuse it.
 */
function reinstateDependents(schema: SchemaModel, table: Rel, model: TableModel, columnName: string): SqlAction[] {
  const out: SqlAction[] = [];
  for (const c of constraintsOf(model)) {
    if (c.type !== 'check' || !c.columns.includes(columnName)) continue;
    out.push(tx(`ALTER TABLE ${table.sql} DROP CONSTRAINT ${quoteIdent(c.name)}, ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`));
  }
  for (const [, index] of tableIndexes(schema, table.key)) {
    if (index.constraint || !mentionsColumn(index.definition, columnName)) continue;
    out.push(tx(`DROP INDEX ${quoteIdent(index.schema)}.${quoteIdent(index.name)}`), tx(index.definition));
  }
  return out;
}

/** Why the column cannot be emptied (set to NULL) to restore it from a snapshot, or null. */
function snapshotRestoreProblem(schema: SchemaModel, table: Rel, model: TableModel, col: ColumnModel): string | null {
  if (col.identity !== undefined) return 'it is an identity column, which cannot hold NULL';
  const key = constraintsOf(model).find((c) => c.type === 'primary_key' && c.columns.includes(col.name));
  if (key !== undefined) return `it is in the primary key ${key.name}, which cannot hold NULL`;
  const indexes = tableIndexes(schema, table.key).filter(([, i]) => mentionsColumn(i.definition, col.name));
  const identity = indexes.find(([, i]) => model.replicaIdentity === 'index' && i.name === model.replicaIdentityIndex);
  if (identity !== undefined) return `it is in the replica identity index ${identity[1].name}, which cannot hold NULL`;
  const distinct = indexes.find(([, i]) => readIndexDefinition(i.definition).nullsNotDistinct);
  if (distinct !== undefined) return `it is in ${distinct[1].name}, which is NULLS NOT DISTINCT, so two NULLs would collide`;
  return null;
}

/**
 * Rewrite speed assumed for the estimate: ALTER COLUMN ... TYPE int → bigint of a 1M-row,
 * 102 MB table with its primary key took 1.43 s on this project's 2-core CI machine (load
 * average 3-5), about 70 MB/s. A faster disk rewrites faster; the order of magnitude is the point.
 */
const REWRITE_BYTES_PER_SECOND = 70 * 1024 * 1024;

/** How long an in-place rewrite of the table would hold its lock, in seconds, when its size is known. */
function rewriteSeconds(ctx: PlanContext, table: Rel): number | undefined {
  const size = ctx.schema.sizes?.[table.key];
  return size === undefined ? undefined : size.bytes / REWRITE_BYTES_PER_SECOND;
}

function estimateField(ctx: PlanContext, table: Rel): { estimate?: string } {
  const size = ctx.schema.sizes?.[table.key];
  if (size === undefined) return {};
  const seconds = size.bytes / REWRITE_BYTES_PER_SECOND;
  const mb = size.bytes / (1024 * 1024);
  return { estimate: `~${Math.round(size.rows).toLocaleString('en-US')} rows, ${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB: about ${seconds < 1 ? seconds.toFixed(2) : seconds.toFixed(1)} s` };
}

/** `; ~1,000,000 rows, 130 MB: about 1.3 s, during which every read and write of it waits`, or nothing offline. */
function rewriteEstimate(ctx: PlanContext, table: Rel): string {
  const { estimate } = estimateField(ctx, table);
  return estimate === undefined ? '' : ` (ACCESS EXCLUSIVE; ${estimate}, during which every read and write of it waits, whatever the lock_timeout)`;
}

/**
 * Whether the type changes online, and why (for the plan). `online: true` insists (and fails
 * the plan where it cannot), `online: false` refuses; otherwise the table's size decides: online
 * when the rewrite would hold its lock for half the lock_timeout or more (the estimate is for an
 * idle machine; a loaded one rewrites slower). An offline plan does not know the size.
 */
function onlineChoice(spec: AlterColumnTypeSpec, ctx: PlanContext, table: Rel, model: TableModel, col: ColumnModel): string | null {
  if (spec.online === false) return null;
  const problem = onlineProblem(ctx, table, model, col);
  if (spec.online === true) {
    if (problem === null) return 'online: true';
    throw new PlanError(`${column(table, col.name)} cannot change its type online: ${problem}`, ctx.path, 'leave out online: true to rewrite the table in place, under a lock for the length of the rewrite');
  }
  const seconds = rewriteSeconds(ctx, table);
  const budget = (ctx.lockTimeoutMs ?? 5000) / 1000;
  if (problem !== null || seconds === undefined || seconds < budget / 2) return null;
  const { estimate } = estimateField(ctx, table);
  return `in place it would rewrite ${estimate ?? 'the table'}, longer than half the lock_timeout of ${budget} s`;
}

export const alterColumnType = {
  kind: 'alter_column_type',
  plan(spec: AlterColumnTypeSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    requireNotUsedByGenerated(ctx, table, model, spec.column, 'change the type of');
    const name = column(table, spec.column);
    const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(spec.column)}`;

    if (model !== undefined && col !== undefined) {
      const why = onlineChoice(spec, ctx, table, model, col);
      if (why !== null) {
        const steps = planOnline(spec, ctx, table, model, col, why);
        col.type = spec.type;
        delete col.collation;
        return steps;
      }
    }
    const offlineNote: LintFinding[] =
      spec.online === false
        ? []
        : [{ level: 'info', code: 'online_type_change', message: `planned without the target's schema: against ${table.display} itself, ${name} may change type online (a new column swapped in under a brief lock) instead` }];

    const draft: StepDraft = {
      kind: 'alter_column_type',
      summary: `alter_column_type ${name} to ${spec.type}`,
      forward: [tx(`${alter} TYPE ${spec.type}${spec.using === undefined ? '' : ` USING ${spec.using}`}`)],
      inverse: null,
      touches: [table.key],
      risk: spec.down_using === undefined ? Risk.high : Risk.medium,
      lint: [
        {
          level: 'warning',
          code: 'table_rewrite',
          message: `changing the type may rewrite ${table.display} and rebuild its indexes while it is locked against reads and writes${rewriteEstimate(ctx, table)}`,
        },
      ],
      blocksWrites: { lock: 'ACCESS EXCLUSIVE', table: table.key, reason: 'ALTER COLUMN ... TYPE rewrites the table in place', ...estimateField(ctx, table) },
    };

    if (model === undefined || col === undefined) {
      draft.inverseNote = fromCatalogNote(`the current type of ${name}`);
      draft.lint.push(...offlineNote);
    } else if (col.generated !== undefined) {
      // Postgres computes a generated column's values again in the old type.
      draft.inverse = [tx(`${alter} TYPE ${columnType(col)}`), ...reinstateDependents(ctx.schema, table, model, col.name)];
    } else if (spec.down_using !== undefined) {
      draft.inverse = [...restoreWithDownUsing(table, col, spec.down_using), ...reinstateDependents(ctx.schema, table, model, col.name)];
    } else {
      const problem = snapshotRestoreProblem(ctx.schema, table, model, col);
      if (problem !== null) {
        throw new PlanError(`${name} cannot be restored from a snapshot on rollback: ${problem}`, ctx.path, `give down_using: how to compute the old ${col.type} value from the new one`);
      }
      if (isNewColumn(ctx, table.key, spec.column) && col.nullable) {
        // Its values exist only since this migration, which drops the column on rollback.
        draft.inverse = [tx(`${alter} TYPE ${columnType(col)} USING NULL`)];
      } else {
        const key = requireRowKey(ctx, table, model, [spec.column], `the old values of ${name}`, `give down_using: how to compute the old ${col.type} value from the new one`);
        const byUpdate = rewriteRestoreProblem(ctx.schema, table, model, col, key);
        // What the step writes, from the old values: the rollback tells the step's values from
        // the application's later ones by it. USING may name other columns: they are copied too.
        const migrated: MigratedValue = { column: spec.column, type: spec.type, expression: spec.using ?? quoteIdent(spec.column) };
        const read = spec.using === undefined ? [] : expressionColumns(spec.using, Object.keys(model.columns));
        const named = Object.keys(model.columns).filter((c) => c !== spec.column && !key.includes(c) && read.includes(c));
        draft.snapshots = [columnsSnapshot(table, key, [spec.column, ...named], undefined, byUpdate === null ? migrated : undefined)];
        if (byUpdate !== null) draft.lint.push(restoreByUpdateNote(name, byUpdate));
        const back = byUpdate === null ? rewriteBack(table, model, col, key, migrated) : updateBack(table, col, key);
        draft.inverse = [...back, ...reinstateDependents(ctx.schema, table, model, col.name)];
      }
    }

    if (col !== undefined) {
      col.type = spec.type;
      delete col.collation;
    }
    return [draft];
  },
} satisfies Operation<AlterColumnTypeSpec>;
