import { z } from 'zod';
import { qualifiedName, strict } from './fields';
import { getOwn, isNewTable, knowsPresence, rel, relFromText, requireTable, tableIndexes, uniq } from './model';
import { constraintDisplay, referencingForeignKeys } from './model-constraints';
import { fromCatalogNote } from './notes';
import { recreateProblem, recreateTableSql } from './recreate';
import { tableSnapshot } from './restore';
import { PlanError, Risk, snapshotPlaceholder, type Operation, type PlanContext, type StepDraft } from './types';

export const dropTableSpec = strict(
  { table: qualifiedName('the table to drop, e.g. users or billing.invoices') },
  'drop_table: { table }',
);
export type DropTableSpec = z.output<typeof dropTableSpec>;

export const dropTable = {
  kind: 'drop_table',
  plan(spec: DropTableSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    if (knowsPresence(ctx)) {
      const from = referencingForeignKeys(ctx.schema, table.key).find(({ table: other }) => other !== model);
      if (from !== undefined) {
        throw new PlanError(
          `table ${table.display} is referenced by foreign key ${constraintDisplay(rel(from.table.schema, from.table.name), from.constraint.name)}`,
          ctx.path,
          'drop that constraint first with drop_constraint (rolling back re-adds it), or drop the referencing table first',
        );
      }
    }
    const indexes = tableIndexes(ctx.schema, table.key).map(([key]) => key);

    const draft: StepDraft = {
      kind: 'drop_table',
      summary: `drop_table ${table.display}`,
      forward: [{ sql: `DROP TABLE ${table.sql}`, transactional: true }],
      inverse: null,
      touches: uniq([table.key, ...indexes]),
      risk: Risk.high,
      lint: [{ level: 'warning', code: 'destructive', message: `drops table ${table.display} and all its rows` }],
    };
    const problem = model === undefined ? null : recreateProblem(model);
    if (model === undefined) {
      draft.inverseNote = fromCatalogNote(`table ${table.display}`);
    } else if (problem !== null) {
      draft.inverseNote = `table ${table.display} cannot be recreated on rollback: ${problem}`;
      draft.lint.push({ level: 'error', code: 'not_restorable', message: `rolling back cannot restore ${table.display}: ${problem}` });
    } else {
      // A table this migration created holds only rows it wrote: its own inverse drops it.
      const keepRows = !isNewTable(ctx, table.key);
      if (keepRows) draft.snapshots = [tableSnapshot(table)];
      draft.inverse = recreateTableSql(ctx.schema, table, model, keepRows ? snapshotPlaceholder(0) : undefined);
    }

    if (getOwn(ctx.schema.tables, table.key) !== undefined) delete ctx.schema.tables[table.key];
    for (const key of indexes) delete ctx.schema.indexes[key];
    ctx.newTables?.delete(table.key);
    ctx.newColumns?.delete(table.key);
    return [draft];
  },
} satisfies Operation<DropTableSpec>;
