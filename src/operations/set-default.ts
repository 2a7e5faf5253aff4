import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import type { ColumnModel } from '../db/schema-model';
import { expression, identifier, qualifiedName, strict } from './fields';
import { column, knowsPresence, relFromText, requireColumn, requireTable, type Rel } from './model';
import { fromCatalogNote } from './notes';
import { PlanError, Risk, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

export const setDefaultSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column'),
    default: expression('the new default value'),
  },
  'set_default: { table, column, default }',
);
export type SetDefaultSpec = z.output<typeof setDefaultSpec>;

/** Identity and generated columns have no default to set or drop. */
export function requireDefaultable(ctx: PlanContext, table: Rel, col: ColumnModel | undefined): void {
  if (col === undefined || !knowsPresence(ctx)) return;
  if (col.identity !== undefined) {
    throw new PlanError(`column ${column(table, col.name)} is an identity column, which takes its values from its sequence, not a default`, ctx.path, 'change the identity with an sql operation (ALTER COLUMN ... SET GENERATED / RESTART)');
  }
  if (col.generated !== undefined) {
    throw new PlanError(`column ${column(table, col.name)} is a generated column, which has no default`, ctx.path, 'remove the operation');
  }
}

/** `SET DEFAULT value`, or `DROP DEFAULT` for null. */
export function defaultSql(table: Rel, name: string, value: string | null): SqlAction {
  const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(name)}`;
  return { sql: value === null ? `${alter} DROP DEFAULT` : `${alter} SET DEFAULT ${value}`, transactional: true };
}

export const setDefault = {
  kind: 'set_default',
  plan(spec: SetDefaultSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    requireDefaultable(ctx, table, col);

    const draft: StepDraft = {
      kind: 'set_default',
      summary: `set_default ${column(table, spec.column)}`,
      forward: [defaultSql(table, spec.column, spec.default)],
      inverse: col === undefined ? null : [defaultSql(table, spec.column, col.default)],
      touches: [table.key],
      risk: Risk.low,
      lint: [],
    };
    if (col === undefined) draft.inverseNote = fromCatalogNote(`the current default of ${column(table, spec.column)}`);
    else col.default = spec.default;
    return [draft];
  },
} satisfies Operation<SetDefaultSpec>;
