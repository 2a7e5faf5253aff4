import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { RETIRED_COLUMN_PREFIX } from '../db/schemas';
import type { ColumnModel, ConstraintModel, SchemaModel, TableModel } from '../db/schema-model';
import { mentionsColumn } from './definitions';
import { expression, identifier, qualifiedName, strict } from './fields';
import { column, forgetNewColumn, getOwn, isNewColumn, knowsPresence, relFromText, requireColumn, requireNotUsedByGenerated, requireTable, tableIndexes, uniq, type Rel } from './model';
import { constraintDisplay, constraintsOf, referencingForeignKeys, requireRowKey } from './model-constraints';
import { fromCatalogNote } from './notes';
import { restoreColumnSql } from './recreate';
import { columnsSnapshot, restoreByUpdateNote, rewriteRestoreProblem } from './restore';
import {
  alterColumnSql,
  columnGuardSql,
  columnRetireProblem,
  copyUnderLockNote,
  insertValue,
  lockSql,
  nullCheckSql,
  retiredForeignKeys,
  retiredNote,
  type InsertValue,
} from './retire';
import { PlanError, retiredPlaceholder, Risk, type LintFinding, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

export const dropColumnSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column to drop'),
    down: expression("the column's value for rows the application inserts while it is retired, e.g. \"''\" or \"0\"").optional(),
  },
  'drop_column: { table, column, down }',
);
export type DropColumnSpec = z.output<typeof dropColumnSpec>;

const tx = (sql: string): SqlAction => ({ sql, transactional: true });

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

/**
 * Renames the column out of the application's way. New rows get `down`, else its default, else
 * NULL: NOT NULL is relaxed for them when there is neither. The guard refuses what a real DROP
 * COLUMN would refuse. Rolling back renames it back and puts back what was relaxed, after
 * saying how many rows the application inserted without a value, if any.
 */
function retireSql(table: Rel, name: string, col: ColumnModel | undefined, down: string | undefined, value: InsertValue | undefined): { forward: SqlAction[]; inverse: SqlAction[] | null } {
  const retired = retiredPlaceholder(0);
  const forward = [lockSql(table), columnGuardSql(table, name), tx(`ALTER TABLE ${table.sql} RENAME COLUMN ${quoteIdent(name)} TO ${retired}`)];
  if (down !== undefined) forward.push(alterColumnSql(table, retired, `SET DEFAULT ${down}`));
  else if (value?.relaxNotNull === true) forward.push(alterColumnSql(table, retired, 'DROP NOT NULL'));
  if (col === undefined) return { forward, inverse: null };

  const back = tx(`ALTER TABLE ${table.sql} RENAME COLUMN ${retired} TO ${quoteIdent(name)}`);
  if (down !== undefined) return { forward, inverse: [back, alterColumnSql(table, quoteIdent(name), col.default === null ? 'DROP DEFAULT' : `SET DEFAULT ${col.default}`)] };
  // The count reads alongside the application's writes; only SET NOT NULL's own scan holds the rename's lock.
  if (value?.relaxNotNull === true) return { forward, inverse: [nullCheckSql(table, name), back, alterColumnSql(table, quoteIdent(name), 'SET NOT NULL')] };
  return { forward, inverse: [back] };
}

/** What the plan says about a retired column: what inserts get meanwhile, and what keeps applying to it. */
function retireLint(table: Rel, model: TableModel | undefined, columnName: string, down: string | undefined, value: InsertValue | undefined): LintFinding[] {
  const name = column(table, columnName);
  const meanwhile =
    value === undefined ? '' : down !== undefined ? `; rows inserted meanwhile get ${down}` : value.relaxNotNull ? '; it is made nullable meanwhile, so that inserts without it work' : value.sql !== null ? `; rows inserted meanwhile get its default ${value.sql}` : '';
  const lint = [
    retiredNote(
      `column ${name} is renamed to a retired name (${RETIRED_COLUMN_PREFIX}<16 hex>) instead of being dropped${meanwhile}`,
      'it is still there for Postgres: it shows in select *, positional INSERTs and ORM introspection, its indexes are still maintained and their names stay taken',
    ),
  ];
  if (value?.relaxNotNull === true) {
    lint.push({
      level: 'warning',
      code: 'not_null_relaxed',
      message: `${name} is NOT NULL without a default: rows the application inserts while it is retired have NULL in it, and rolling back stops in rollback_failed until they are filled; give drop_column a down (their value) to avoid that`,
    });
  }
  const on = constraintsOf(model).filter((c) => c.columns.includes(columnName));
  const fk = retiredForeignKeys(on);
  if (fk !== null) lint.push(fk);
  const checks = on.filter((c) => c.type === 'check');
  if (down !== undefined && checks.length > 0) {
    lint.push({ level: 'warning', code: 'down_checked', message: `check ${checks.map((c) => c.name).join(', ')} reads ${name}: rows inserted while it is retired get ${down}, which it must accept` });
  }
  return lint;
}

export const dropColumn = {
  kind: 'drop_column',
  plan(spec: DropColumnSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    const name = column(table, spec.column);
    requireNotUsedByGenerated(ctx, table, model, spec.column, 'drop');

    // A foreign key that references the column needs its key, which goes with the column.
    if (knowsPresence(ctx)) {
      for (const { table: other, constraint } of referencingForeignKeys(ctx.schema, table.key)) {
        const ownColumn = other === model && constraint.columns.includes(spec.column);
        if (!ownColumn && constraint.references?.columns.includes(spec.column) === true) {
          throw new PlanError(
            `column ${name} is referenced by foreign key ${constraintDisplay(relFromText(`${other.schema}.${other.name}`), constraint.name)}`,
            ctx.path,
            'drop that constraint first with drop_constraint (rolling back re-adds it)',
          );
        }
      }
    }
    if (spec.down !== undefined && col !== undefined && (col.identity !== undefined || col.generated !== undefined)) {
      throw new PlanError(
        `column ${name} is ${col.identity !== undefined ? 'an identity' : 'a generated'} column: Postgres computes its value for new rows, so down does not apply`,
        ctx.path,
        'remove down',
      );
    }

    const dropped = dependents(ctx.schema, table, model, spec.column);
    const draft: StepDraft = {
      kind: 'drop_column',
      summary: `drop_column ${name}`,
      forward: [],
      inverse: null,
      touches: [table.key],
      risk: Risk.high,
      lint: [],
    };
    const retire = (value: InsertValue | undefined) => {
      const { forward, inverse } = retireSql(table, spec.column, col, spec.down, value);
      draft.forward = forward;
      draft.inverse = inverse;
      draft.retire = [{ kind: 'column', schema: table.schema, table: table.name, column: spec.column }];
      draft.lint.push(
        { level: 'warning', code: 'destructive', message: `drops column ${name}: the application loses it at once, its data goes when it is purged` },
        ...retireLint(table, model, spec.column, spec.down, value),
      );
    };

    if (model === undefined || col === undefined) {
      retire(undefined);
      // The catalog also decides whether NOT NULL is relaxed, or the column copied instead of retired.
      draft.inverseNote = `${fromCatalogNote(`column ${name}`)}, and whether it can be retired at all (copy_under_lock says when not)`;
    } else {
      const value = insertValue(col, spec.down);
      // Values written by this migration need keeping neither way: rolling back drops them anyway.
      const fresh = isNewColumn(ctx, table.key, spec.column);
      const problem = fresh ? null : columnRetireProblem(ctx.schema, table, model, col, value);
      if (!fresh && problem === null) {
        retire(value);
      } else {
        draft.forward = [tx(`ALTER TABLE ${table.sql} DROP COLUMN ${quoteIdent(spec.column)}`)];
        draft.touches = uniq([table.key, ...dropped.indexes, ...dropped.constraints.flatMap((c) => (c.index === undefined ? [] : [`${table.schema}.${c.index}`]))]);
        draft.lint.push({ level: 'warning', code: 'destructive', message: `drops column ${name} and its data` });
        const keep = !fresh && col.generated === undefined;
        const key = keep ? requireRowKey(ctx, table, model, [spec.column], `the values of ${name}`) : undefined;
        let rewrite = false;
        if (key !== undefined && problem !== null) {
          draft.snapshots = [columnsSnapshot(table, key, [spec.column])];
          draft.lint.push(copyUnderLockNote(`column ${name}`, table, problem, ctx.schema.sizes?.[table.key]));
          draft.blocksWrites = { lock: 'SHARE', table: table.key, reason: `copies the values of ${name} into a snapshot before dropping it` };
          const byUpdate = rewriteRestoreProblem(ctx.schema, table, model, col, key);
          rewrite = byUpdate === null;
          if (byUpdate !== null) draft.lint.push(restoreByUpdateNote(name, byUpdate));
        } else if (problem !== null) {
          draft.lint.push({ level: 'info', code: 'not_retired', message: `column ${name} cannot be retired: ${problem}. It is dropped, and rolling back adds it again: Postgres computes its values` });
        }
        draft.inverse = restoreColumnSql(ctx.schema, table, model, col, { ...(key !== undefined ? { key, rewrite } : {}), ...dropped });
      }
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
