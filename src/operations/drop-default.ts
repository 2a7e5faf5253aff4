import { z } from 'zod';
import { identifier, qualifiedName, strict } from './fields';
import { column, knowsPresence, relFromText, requireColumn, requireTable } from './model';
import { fromCatalogNote } from './notes';
import { requireDefaultable, defaultSql } from './set-default';
import { PlanError, Risk, type Operation, type PlanContext, type StepDraft } from './types';

export const dropDefaultSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column whose default to drop'),
  },
  'drop_default: { table, column }',
);
export type DropDefaultSpec = z.output<typeof dropDefaultSpec>;

export const dropDefault = {
  kind: 'drop_default',
  plan(spec: DropDefaultSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    requireDefaultable(ctx, table, col);
    if (col?.default === null && knowsPresence(ctx)) {
      throw new PlanError(`column ${column(table, spec.column)} has no default`, ctx.path, 'remove the operation');
    }

    const draft: StepDraft = {
      kind: 'drop_default',
      summary: `drop_default ${column(table, spec.column)}`,
      forward: [defaultSql(table, spec.column, null)],
      inverse: col === undefined ? null : [defaultSql(table, spec.column, col.default)],
      touches: [table.key],
      risk: Risk.low,
      lint: [],
    };
    if (col === undefined) draft.inverseNote = fromCatalogNote(`the current default of ${column(table, spec.column)}`);
    else col.default = null;
    return [draft];
  },
} satisfies Operation<DropDefaultSpec>;
