/**
 * Reading and evolving ctx.schema for planners: name resolution, existence checks
 * that throw PlanError with a hint, and safe record access (a column may be called
 * `__proto__`, so records are read with Object.hasOwn and written with defineProperty).
 */
import { displayName, parseQualifiedName, qualifiedKey, quoteIdent, quoteQualified } from '../db/ident';
import type { ColumnModel, IndexModel, SchemaModel, TableModel } from '../db/schema-model';
import { expressionColumns } from './naming';
import { didYouMean } from './suggest';
import { PlanError, type PlanContext } from './types';

/** A resolved relation name in every form a planner needs. */
export interface Rel {
  schema: string;
  name: string;
  /** `schema.name`, the SchemaModel key. */
  key: string;
  /** `"schema"."name"` */
  sql: string;
  /** `name`, or `schema.name` outside public. */
  display: string;
}

export function rel(schema: string, name: string): Rel {
  const q = { schema, name };
  return { schema, name, key: qualifiedKey(q), sql: quoteQualified(q), display: displayName(q) };
}

/** Resolves `users` / `billing.invoices` (already validated by the spec schema). */
export function relFromText(text: string): Rel {
  const q = parseQualifiedName(text);
  return rel(q.schema, q.name);
}

export function getOwn<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

export function column(table: Rel, name: string): string {
  return `${table.display}.${name}`;
}

/**
 * Whether the model can be trusted when it says something is absent: not offline
 * (then it only knows the tables this manifest created) and no `sql` step yet.
 */
export function knowsAbsence(ctx: PlanContext, tableKey?: string): boolean {
  if (ctx.afterRawSql === true) return false;
  if (ctx.offline !== true) return true;
  return tableKey !== undefined && (ctx.newTables?.has(tableKey) ?? false);
}

/** Whether the model can be trusted when it says something exists. */
export function knowsPresence(ctx: PlanContext): boolean {
  return ctx.afterRawSql !== true;
}

/** True when the table was created earlier in this manifest, so it has no rows. */
export function isNewTable(ctx: PlanContext, key: string): boolean {
  return ctx.newTables?.has(key) ?? false;
}

function tableNames(schema: SchemaModel, inSchema: string): string[] {
  return Object.values(schema.tables)
    .filter((t) => t.schema === inSchema)
    .map((t) => t.name);
}

/** The table, or undefined when the model cannot tell; throws when it surely does not exist. */
export function requireTable(ctx: PlanContext, table: Rel): TableModel | undefined {
  const found = getOwn(ctx.schema.tables, table.key);
  if (found !== undefined) return found;
  if (!knowsAbsence(ctx, table.key)) return undefined;
  const known = tableNames(ctx.schema, table.schema);
  throw new PlanError(
    `table ${table.display} does not exist`,
    ctx.path,
    `${didYouMean(table.name, known).trim()} Check the name, or create the table with a create_table operation before this one.`.trim(),
  );
}

/**
 * Throws when a table, view or index called `target` already exists (they share one
 * namespace). A table or view also makes a type of its name, so it and an enum of
 * that name cannot both exist; creating a `type` checks tables, views and enums.
 */
export function requireRelationAbsent(ctx: PlanContext, target: Rel, creating: 'table' | 'index' | 'view' | 'type', hint: string): void {
  if (!knowsPresence(ctx)) return;
  const existing: [string, boolean][] = [
    ['table', getOwn(ctx.schema.tables, target.key) !== undefined],
    ['view', getOwn(ctx.schema.views ?? {}, target.key) !== undefined],
    ['index', creating !== 'type' && getOwn(ctx.schema.indexes, target.key) !== undefined],
    ['type', creating !== 'index' && getOwn(ctx.schema.enums ?? {}, target.key) !== undefined],
  ];
  for (const [kind, exists] of existing) {
    if (!exists) continue;
    const what = kind === creating ? `${kind} ${target.display} already exists` : `${kind === 'index' ? 'an' : 'a'} ${kind} named ${target.display} already exists`;
    if (creating === 'type' && kind !== 'type') {
      throw new PlanError(`${what}, and its row type takes the name ${target.display}`, ctx.path, hint);
    }
    throw new PlanError(what, ctx.path, hint);
  }
}

/** The column, or undefined when the model cannot tell; throws when it surely does not exist. */
export function requireColumn(ctx: PlanContext, table: Rel, model: TableModel | undefined, name: string): ColumnModel | undefined {
  if (model === undefined) return undefined;
  const found = getOwn(model.columns, name);
  if (found !== undefined) return found;
  if (!knowsAbsence(ctx, table.key)) return undefined;
  const names = Object.keys(model.columns);
  throw new PlanError(
    `column ${column(table, name)} does not exist`,
    ctx.path,
    `${didYouMean(name, names).trim()} Columns of ${table.display}: ${names.join(', ') || '(none)'}.`.trim(),
  );
}

export function requireColumnAbsent(ctx: PlanContext, table: Rel, model: TableModel | undefined, name: string, hint: string): void {
  if (model === undefined || !knowsPresence(ctx)) return;
  if (getOwn(model.columns, name) !== undefined) {
    throw new PlanError(`column ${column(table, name)} already exists`, ctx.path, hint);
  }
}

export function tableIndexes(schema: SchemaModel, tableKey: string): [string, IndexModel][] {
  return Object.entries(schema.indexes).filter(([, index]) => index.table === tableKey);
}

export function addIndex(schema: SchemaModel, index: IndexModel): void {
  setOwn(schema.indexes, qualifiedKey(index), index);
}

/** Throws when the table's schema surely does not exist. */
export function requireSchema(ctx: PlanContext, table: Rel): void {
  if (ctx.schema.schemas.includes(table.schema) || !knowsAbsence(ctx)) return;
  throw new PlanError(
    `schema ${table.schema} does not exist`,
    ctx.path,
    `check the name, or create the schema first with an sql operation (up: CREATE SCHEMA ${quoteIdent(table.schema)})`,
  );
}

/** Distinct items, first occurrence order. */
export function uniq(items: string[]): string[] {
  return [...new Set(items)];
}

/** True when the column's values were all written by this migration (see PlanContext.newColumns). */
export function isNewColumn(ctx: PlanContext, tableKey: string, column: string): boolean {
  return isNewTable(ctx, tableKey) || (ctx.newColumns?.get(tableKey)?.has(column) ?? false);
}

export function markNewColumn(ctx: PlanContext, tableKey: string, column: string): void {
  ctx.newColumns ??= new Map();
  const columns = ctx.newColumns.get(tableKey) ?? new Set<string>();
  columns.add(column);
  ctx.newColumns.set(tableKey, columns);
}

export function forgetNewColumn(ctx: PlanContext, tableKey: string, column: string): void {
  ctx.newColumns?.get(tableKey)?.delete(column);
}

/** Throws when a generated column of the table computes its value from `name` (Postgres refuses the change). */
export function requireNotUsedByGenerated(ctx: PlanContext, table: Rel, model: TableModel | undefined, name: string, change: string): void {
  if (model === undefined || !knowsPresence(ctx)) return;
  const names = Object.keys(model.columns);
  const user = Object.values(model.columns).find((c) => c.name !== name && c.generated !== undefined && expressionColumns(c.generated, names).includes(name));
  if (user !== undefined) {
    throw new PlanError(
      `column ${column(table, name)} is used by the generated column ${column(table, user.name)}, so Postgres refuses to ${change} it`,
      ctx.path,
      `drop ${column(table, user.name)} first with drop_column (rolling back adds it again)`,
    );
  }
}
