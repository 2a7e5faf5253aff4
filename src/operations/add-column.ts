import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { columnSpec, planColumn } from './column';
import { qualifiedName, strict } from './fields';
import { addIndex, column, isNewTable, markNewColumn, rel, relFromText, requireColumnAbsent, requireRelationAbsent, requireTable, setOwn, uniq } from './model';
import { constraintsOf, primaryKeyOf, requireConstraintAbsent, setConstraint } from './model-constraints';
import { Risk, type LintFinding, type Operation, type PlanContext, type SqlAction } from './types';

export const addColumnSpec = strict(
  {
    table: qualifiedName('the table to add the column to, e.g. users or billing.invoices'),
    column: columnSpec,
  },
  'add_column: { table, column: { name, type, ... } }',
);
export type AddColumnSpec = z.output<typeof addColumnSpec>;

export const addColumn = {
  kind: 'add_column',
  plan(spec: AddColumnSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const c = spec.column;
    requireColumnAbsent(ctx, table, model, c.name, 'pick another column name, or drop the existing column first with drop_column');
    const col = planColumn(table, c, {
      ...(model !== undefined ? { columns: Object.keys(model.columns) } : {}),
      taken: (name) => constraintsOf(model).some((k) => k.name === name),
      primaryKeyOf: (target) => (target.key === table.key && c.primary_key !== undefined ? [c.name] : primaryKeyOf(ctx.schema, target)),
    });
    for (const k of col.constraints) requireConstraintAbsent(ctx, table, model, k.name, 'give the constraint another name with name:');
    for (const index of col.indexes) requireRelationAbsent(ctx, rel(index.schema, index.name), 'index', 'give the constraint another name with name:');
    for (const target of col.references) if (target.key !== table.key) requireTable(ctx, target);

    const lint: LintFinding[] = [];
    let risk: Risk = Risk.low;
    if (!isNewTable(ctx, table.key)) {
      const mustHaveValue = !c.nullable || c.primary_key !== undefined;
      const filled = c.default !== undefined || c.identity !== undefined || c.generated !== undefined;
      if (mustHaveValue && !filled) {
        risk = Risk.medium;
        lint.push({
          level: 'error',
          code: 'not_null_without_default',
          message: `adding NOT NULL column ${column(table, c.name)} without a default will fail if the table has rows; add a default or backfill first`,
        });
      }
      if (c.unique !== undefined || c.primary_key !== undefined) {
        risk = Risk.medium;
        lint.push({
          level: 'warning',
          code: 'index_under_lock',
          message: `the ${c.primary_key !== undefined ? 'primary key' : 'unique constraint'} builds an index while ${table.display} is locked against reads and writes`,
        });
      }
      if (c.generated !== undefined) {
        risk = Risk.medium;
        lint.push({ level: 'warning', code: 'table_rewrite', message: `a stored generated column rewrites ${table.display} while it is locked against reads and writes` });
      }
    }

    const forward: SqlAction[] = [{ sql: `ALTER TABLE ${table.sql} ADD COLUMN ${col.definition}`, transactional: true }];
    if (col.comment !== undefined) forward.push({ sql: col.comment, transactional: true });

    if (model !== undefined) {
      setOwn(model.columns, c.name, col.model);
      for (const k of col.constraints) setConstraint(model, k);
    }
    for (const index of col.indexes) addIndex(ctx.schema, index);
    markNewColumn(ctx, table.key, c.name);

    return [
      {
        kind: 'add_column',
        summary: `add_column ${column(table, c.name)}`,
        forward,
        inverse: [{ sql: `ALTER TABLE ${table.sql} DROP COLUMN ${quoteIdent(c.name)}`, transactional: true }],
        touches: uniq([table.key, ...col.indexes.map((i) => `${i.schema}.${i.name}`), ...col.references.map((r) => r.key)]),
        risk,
        lint,
      },
    ];
  },
} satisfies Operation<AddColumnSpec>;
