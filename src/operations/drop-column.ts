import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import type { ConstraintModel, SchemaModel, TableModel } from '../db/schema-model';
import { mentionsColumn } from './definitions';
import { identifier, qualifiedName, strict } from './fields';
import { column, forgetNewColumn, getOwn, isNewColumn, knowsPresence, relFromText, requireColumn, requireNotUsedByGenerated, requireTable, tableIndexes, uniq, type Rel } from './model';
import { constraintDisplay, constraintsOf, referencingForeignKeys, requireRowKey } from './model-constraints';
import { fromCatalogNote } from './notes';
import { restoreColumnSql } from './recreate';
import { columnsSnapshot, restoreByUpdateNote, rewriteRestoreProblem } from './restore';
import { PlanError, Risk, type Operation, type PlanContext, type StepDraft } from './types';

export const dropColumnSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column to drop'),
  },
  'drop_column: { table, column }',
);
export type DropColumnSpec = z.output<typeof dropColumnSpec>;

/** Constraints and indexes that Postgres drops together with the column. */
function dependents(schema: SchemaModel, table: Rel, model: TableModel | undefined, name: string): { constraints: ConstraintModel[]; indexes: string[] } {
  const indexDefinition = (c: ConstraintModel) => (c.index === undefined ? undefined : getOwn(schema.indexes, `${table.schema}.${c.index}`)?.definition);
  // A check's or foreign key's columns are exact (conkey); an index-backed constraint may
  // also use the column in an expression, which only its index definition shows.
  const constraints = constraintsOf(model).filter((c) => {
    if (c.columns.includes(name)) return true;
    const index = indexDefinition(c);
    return index !== undefined && mentionsColumn(index, name);
  });
  const owned = new Set(constraints.flatMap((c) => (c.index === undefined ? [] : [`${table.schema}.${c.index}`])));
  const indexes = tableIndexes(schema, table.key)
    .filter(([key, index]) => !owned.has(key) && mentionsColumn(index.definition, name))
    .map(([key]) => key);
  return { constraints, indexes };
}

export const dropColumn = {
  kind: 'drop_column',
  plan(spec: DropColumnSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    requireNotUsedByGenerated(ctx, table, model, spec.column, 'drop');

    // A foreign key that references the column needs its key, which goes with the column.
    if (knowsPresence(ctx)) {
      for (const { table: other, constraint } of referencingForeignKeys(ctx.schema, table.key)) {
        const ownColumn = other === model && constraint.columns.includes(spec.column);
        if (!ownColumn && constraint.references?.columns.includes(spec.column) === true) {
          throw new PlanError(
            `column ${column(table, spec.column)} is referenced by foreign key ${constraintDisplay(relFromText(`${other.schema}.${other.name}`), constraint.name)}`,
            ctx.path,
            'drop that constraint first with drop_constraint (rolling back re-adds it)',
          );
        }
      }
    }

    const dropped = dependents(ctx.schema, table, model, spec.column);
    const draft: StepDraft = {
      kind: 'drop_column',
      summary: `drop_column ${column(table, spec.column)}`,
      forward: [{ sql: `ALTER TABLE ${table.sql} DROP COLUMN ${quoteIdent(spec.column)}`, transactional: true }],
      inverse: null,
      touches: uniq([
        table.key,
        ...dropped.indexes,
        ...dropped.constraints.flatMap((c) => (c.index === undefined ? [] : [`${table.schema}.${c.index}`])),
      ]),
      risk: Risk.high,
      lint: [{ level: 'warning', code: 'destructive', message: `drops column ${column(table, spec.column)} and its data` }],
    };

    if (model === undefined || col === undefined) {
      draft.inverseNote = fromCatalogNote(`column ${column(table, spec.column)}`);
    } else {
      // Values written by this migration need no snapshot: rolling back drops them anyway.
      const keep = col.generated === undefined && !isNewColumn(ctx, table.key, spec.column);
      const key = keep ? requireRowKey(ctx, table, model, [spec.column], `the values of ${column(table, spec.column)}`) : undefined;
      let rewrite = false;
      if (key !== undefined) {
        draft.snapshots = [columnsSnapshot(table, key, [spec.column])];
        const problem = rewriteRestoreProblem(ctx.schema, table, model, col, key);
        rewrite = problem === null;
        if (problem !== null) draft.lint.push(restoreByUpdateNote(column(table, spec.column), problem));
      }
      draft.inverse = restoreColumnSql(ctx.schema, table, model, col, { ...(key !== undefined ? { key, rewrite } : {}), ...dropped });
    }

    if (model !== undefined) {
      delete model.columns[spec.column];
      if (model.sequences !== undefined) delete model.sequences[spec.column];
      for (const c of dropped.constraints) {
        delete model.constraints?.[c.name];
        if (c.index !== undefined) delete ctx.schema.indexes[`${table.schema}.${c.index}`];
      }
    }
    for (const key of dropped.indexes) delete ctx.schema.indexes[key];
    forgetNewColumn(ctx, table.key, spec.column);
    return [draft];
  },
} satisfies Operation<DropColumnSpec>;
