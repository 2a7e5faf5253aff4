/**
 * Reading and evolving ctx.schema for planners: name resolution, existence checks
 * that throw PlanError with a hint, and safe record access (a column may be called
 * `__proto__`, so records are read with Object.hasOwn and written with defineProperty).
 */
import { displayName, parseQualifiedName, qualifiedKey, quoteIdent, quoteQualified } from '../db/ident';
import type { ColumnModel, IndexModel, SchemaModel, TableModel } from '../db/schema-model';
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

/** Throws when a table or index called `target` already exists (they share one namespace). */
export function requireRelationAbsent(ctx: PlanContext, target: Rel, creating: 'table' | 'index', hint: string): void {
  if (!knowsPresence(ctx)) return;
  if (getOwn(ctx.schema.tables, target.key) !== undefined) {
    const what = creating === 'table' ? `table ${target.display} already exists` : `a table named ${target.display} already exists`;
    throw new PlanError(what, ctx.path, hint);
  }
  if (getOwn(ctx.schema.indexes, target.key) !== undefined) {
    const what = creating === 'index' ? `index ${target.display} already exists` : `an index named ${target.display} already exists`;
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
