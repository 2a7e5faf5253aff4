import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { expression, friendly, identifier, qualifiedName, strict } from './fields';
import { column, isNewColumn, relFromText, requireColumn, requireTable } from './model';
import { requireRowKey, rowKey } from './model-constraints';
import { fromCatalogNote } from './notes';
import { changesLog } from './restore';
import { PlanError, Risk, type LintFinding, type Operation, type PlanContext, type StepDraft } from './types';

/** Rows per batch when the manifest gives no batch_size. */
export const DEFAULT_BATCH_SIZE = 1000;

export const backfillSpec = strict(
  {
    table: qualifiedName('the table to fill, e.g. users or billing.invoices'),
    set: z
      .record(identifier('a column name'), expression('the value to set, computed per row'), {
        error: friendly('a mapping of column: expression', 'e.g. { email_norm: "lower(email)" }'),
      })
      .check((ctx) => {
        if (Object.keys(ctx.value).length === 0) ctx.issues.push({ code: 'custom', message: 'set needs at least one column: expression', input: ctx.value });
      }),
    where: expression('which rows to fill, e.g. email_norm is null').optional(),
    batch_size: z
      .number({ error: friendly('a whole number of rows', 'how many rows to update per committed batch') })
      .int({ error: 'expected a whole number of rows' })
      .positive({ error: 'expected at least 1 row per batch' })
      .optional(),
  },
  'backfill: { table, set: { column: expression }, where, batch_size }',
);
export type BackfillSpec = z.output<typeof backfillSpec>;

export const backfill = {
  kind: 'backfill',
  plan(spec: BackfillSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const columns = Object.keys(spec.set);
    for (const name of columns) {
      const col = requireColumn(ctx, table, model, name);
      if (col?.generated !== undefined) throw new PlanError(`column ${column(table, name)} is generated: Postgres computes its values`, ctx.path, `remove ${name} from set`);
      if (col?.identity === 'always') {
        throw new PlanError(`column ${column(table, name)} is GENERATED ALWAYS AS IDENTITY and cannot be set`, ctx.path, `remove ${name} from set`);
      }
    }

    const assignments = Object.entries(spec.set).map(([name, value]) => `${quoteIdent(name)} = ${value}`);
    const what = columns.length === 1 ? column(table, columns[0] ?? '') : `${table.display} (${columns.join(', ')})`;
    const draft: StepDraft = {
      kind: 'backfill',
      summary: `backfill ${what}`,
      forward: [{ sql: `UPDATE ${table.sql} SET ${assignments.join(', ')}${spec.where === undefined ? '' : ` WHERE ${spec.where}`}`, transactional: true }],
      inverse: null,
      touches: [table.key],
      risk: Risk.medium,
      lint: [],
    };

    // Filling columns this migration added overwrites nothing worth keeping: their own
    // inverse (drop_column, drop_table) removes the values.
    const fillsNewColumns = columns.every((name) => isNewColumn(ctx, table.key, name));
    if (fillsNewColumns) {
      draft.inverse = [];
      draft.risk = Risk.low;
    } else if (model === undefined) {
      draft.inverseNote = fromCatalogNote(`the key of ${table.display}`);
    } else {
      const key = requireRowKey(ctx, table, model, columns, `the values this backfill overwrites`, 'backfill only columns added earlier in this manifest');
      // No copy of the table: each batch logs the rows it changes, before and after, in its
      // own statement. Rolling back puts back the old values batch by batch (an UPDATE: the
      // columns are live, and only the rows the backfill changed come back), and only where
      // a value is still the one the backfill wrote: the application's later writes win.
      draft.snapshots = [changesLog(table, key, columns, 'batches')];
      draft.inverse = [];
      draft.risk = Risk.high;
      draft.lint.push({
        level: 'warning',
        code: 'destructive',
        message: `overwrites ${what}; each batch logs the values it overwrites, and rolling back puts them back where the application has not changed them since`,
      });
    }

    const key = model === undefined ? undefined : rowKey(model, columns);
    const size = spec.batch_size ?? DEFAULT_BATCH_SIZE;
    const lint: LintFinding[] = draft.lint;
    if (key !== undefined) {
      draft.batch = { size, adaptive: spec.batch_size === undefined, key, update: { schema: table.schema, table: table.name, set: assignments.join(', '), ...(spec.where === undefined ? {} : { where: spec.where }) } };
    } else if (spec.batch_size !== undefined) {
      lint.push({ level: 'info', code: 'batch_size', message: `batch_size ${size} needs a key to batch by; ${table.display} has none known, so the update runs as one statement` });
    }
    return [draft];
  },
} satisfies Operation<BackfillSpec>;
