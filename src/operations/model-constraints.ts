/**
 * Constraints in ctx.schema: lookups that throw PlanError with a hint, the foreign
 * keys that reference a table, and the row key a snapshot restores rows by.
 */
import type { ConstraintModel, SchemaModel, TableModel } from '../db/schema-model';
import { getOwn, knowsAbsence, knowsPresence, setOwn, type Rel } from './model';
import { didYouMean } from './suggest';
import { PlanError, type PlanContext } from './types';

/** `users.email_check` for messages. */
export function constraintDisplay(table: Rel, name: string): string {
  return `${table.display}.${name}`;
}

export function constraintsOf(model: TableModel | undefined): ConstraintModel[] {
  return model?.constraints === undefined ? [] : Object.values(model.constraints);
}

export function setConstraint(model: TableModel, constraint: ConstraintModel): void {
  setOwn((model.constraints ??= {}), constraint.name, constraint);
}

/** The constraint, or undefined when the model cannot tell; throws when it surely does not exist. */
export function requireConstraint(ctx: PlanContext, table: Rel, model: TableModel | undefined, name: string): ConstraintModel | undefined {
  if (model === undefined) return undefined;
  const found = getOwn(model.constraints ?? {}, name);
  if (found !== undefined) return found;
  if (!knowsAbsence(ctx, table.key)) return undefined;
  const names = constraintsOf(model).map((c) => c.name);
  throw new PlanError(
    `constraint ${constraintDisplay(table, name)} does not exist`,
    ctx.path,
    `${didYouMean(name, names).trim()} Constraints of ${table.display}: ${names.join(', ') || '(none)'}.`.trim(),
  );
}

export function requireConstraintAbsent(ctx: PlanContext, table: Rel, model: TableModel | undefined, name: string, hint: string): void {
  if (model === undefined || !knowsPresence(ctx)) return;
  if (getOwn(model.constraints ?? {}, name) !== undefined) {
    throw new PlanError(`constraint ${constraintDisplay(table, name)} already exists`, ctx.path, hint);
  }
}

/** Foreign keys of other tables (or of this one) that reference `tableKey`. */
export function referencingForeignKeys(schema: SchemaModel, tableKey: string): { table: TableModel; constraint: ConstraintModel }[] {
  const found: { table: TableModel; constraint: ConstraintModel }[] = [];
  for (const table of Object.values(schema.tables)) {
    for (const constraint of constraintsOf(table)) {
      if (constraint.type === 'foreign_key' && constraint.references?.table === tableKey) found.push({ table, constraint });
    }
  }
  return found;
}

/** The primary key columns of a table in the model, when known. */
export function primaryKeyOf(schema: SchemaModel, table: Rel): string[] | undefined {
  const model = getOwn(schema.tables, table.key);
  return constraintsOf(model).find((c) => c.type === 'primary_key')?.columns;
}

/**
 * Columns that identify each row of the table, to restore snapshot rows by: the primary
 * key, else the unique constraint over NOT NULL columns with the fewest columns. Keys
 * using a column of `avoid` (one whose values the step changes) are passed over.
 */
export function rowKey(model: TableModel, avoid: readonly string[] = []): string[] | undefined {
  const usable = (c: ConstraintModel) => c.columns.length > 0 && c.columns.every((name) => !avoid.includes(name));
  const constraints = constraintsOf(model);
  const primary = constraints.find((c) => c.type === 'primary_key' && usable(c));
  if (primary !== undefined) return primary.columns;
  const unique = constraints
    .filter((c) => c.type === 'unique' && usable(c) && c.columns.every((name) => getOwn(model.columns, name)?.nullable === false))
    .sort((a, b) => a.columns.length - b.columns.length || a.name.localeCompare(b.name));
  return unique[0]?.columns;
}

/**
 * The row key of `model` (see rowKey), or a PlanError saying the step needs one.
 * `restoring` says what would be restored (`the values of users.name`), `otherwise` how
 * else to make the step reversible.
 */
export function requireRowKey(
  ctx: PlanContext,
  table: Rel,
  model: TableModel,
  avoid: readonly string[],
  restoring: string,
  otherwise?: string,
): string[] {
  const key = rowKey(model, avoid);
  if (key !== undefined) return key;
  const but = avoid.length > 0 ? ` other than ${avoid.join(', ')}` : '';
  throw new PlanError(
    `${table.display} has no primary key or unique NOT NULL key${but}, so ${restoring} could not be restored on rollback`,
    ctx.path,
    `add a primary key first (add_constraint with primary_key)${otherwise === undefined ? '' : `, or ${otherwise}`}`,
  );
}
