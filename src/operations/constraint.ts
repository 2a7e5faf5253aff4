/**
 * The constraint spec (create_table's `constraints`, later add_constraint) and the
 * SQL clauses shared with inline column constraints.
 */
import { z } from 'zod';
import type { ConstraintModel, IndexModel } from '../db/schema-model';
import { quoteIdent } from '../db/ident';
import { choice, expression, flag, identifier, list, qualifiedName, referentialAction, strict, text, type ReferentialAction } from './fields';
import { constraintIndex } from './index-def';
import { relFromText, type Rel } from './model';
import { defaultCheckName, defaultForeignKeyName, defaultIndexName, expressionColumns, indexColumnNames } from './naming';

const actionSql: Record<ReferentialAction, string> = {
  cascade: 'CASCADE',
  restrict: 'RESTRICT',
  set_null: 'SET NULL',
  set_default: 'SET DEFAULT',
  no_action: 'NO ACTION',
};

export interface ReferenceOptions {
  match?: 'full' | 'simple' | undefined;
  on_delete?: ReferentialAction | undefined;
  on_update?: ReferentialAction | undefined;
  deferrable?: boolean | undefined;
  initially_deferred?: boolean | undefined;
}

/** `REFERENCES "s"."t" ("id") MATCH FULL ON DELETE CASCADE DEFERRABLE` */
export function referencesClause(target: Rel, columns: string[] | undefined, o: ReferenceOptions): string {
  let sql = `REFERENCES ${target.sql}`;
  if (columns !== undefined && columns.length > 0) sql += ` (${columns.map(quoteIdent).join(', ')})`;
  if (o.match !== undefined) sql += ` MATCH ${o.match.toUpperCase()}`;
  if (o.on_delete !== undefined) sql += ` ON DELETE ${actionSql[o.on_delete]}`;
  if (o.on_update !== undefined) sql += ` ON UPDATE ${actionSql[o.on_update]}`;
  if (o.initially_deferred === true) sql += ' DEFERRABLE INITIALLY DEFERRED';
  else if (o.deferrable === true) sql += ' DEFERRABLE';
  return sql;
}

/** `CONSTRAINT "name" ` when named, else nothing. */
export function constraintPrefix(name: string | undefined): string {
  return name === undefined ? '' : `CONSTRAINT ${quoteIdent(name)} `;
}

/** An index access method: btree, hash, gist, spgist, gin, brin, or an extension's. */
export const accessMethod = () =>
  text('an index access method, e.g. btree, gin or gist').check((ctx) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(ctx.value)) {
      ctx.issues.push({ code: 'custom', message: 'expected an access method name in lower case, e.g. btree, gin or gist', input: ctx.value });
    }
  });

/** An operator such as `=` or `&&` (exclusion constraints). */
const operator = () =>
  text('an operator, e.g. = or &&').check((ctx) => {
    const v = ctx.value;
    if (!/^[+\-*/<>=~!@#%^&|`?]+$/.test(v) || v.includes('--') || v.includes('/*')) {
      ctx.issues.push({ code: 'custom', message: 'expected an operator made of + - * / < > = ~ ! @ # % ^ & | ` ?, e.g. = or &&', input: ctx.value });
    }
  });

const columnList = (what: string) => list(identifier('a column name'), what, 1);

const exclusionElement = strict(
  {
    column: identifier('a column name').optional(),
    expression: expression('an expression').optional(),
    operator: operator(),
  },
  'an exclusion element: { column or expression, operator }',
).check((ctx) => {
  if ((ctx.value.column === undefined) === (ctx.value.expression === undefined)) {
    ctx.issues.push({ code: 'custom', message: 'give exactly one of column or expression', input: ctx.value });
  }
});

export const constraintKinds = ['check', 'unique', 'primary_key', 'foreign_key', 'exclude'] as const;

/** The fields of a constraint spec, shared by create_table's constraints and add_constraint. */
export const constraintShape = {
  name: identifier('the constraint name').optional(),
  check: expression('a CHECK expression').optional(),
  unique: strict(
    {
      columns: columnList('the unique columns'),
      include: list(identifier('a column name'), 'extra columns stored in the index').optional(),
      nulls_not_distinct: flag('treat NULLs as equal (Postgres 15+)').optional(),
    },
    'a unique constraint: { columns, include, nulls_not_distinct }',
  ).optional(),
  primary_key: strict(
    {
      columns: columnList('the primary key columns'),
      include: list(identifier('a column name'), 'extra columns stored in the index').optional(),
    },
    'a primary key: { columns, include }',
  ).optional(),
  foreign_key: strict(
    {
      columns: columnList('the referencing columns'),
      references: strict(
        {
          table: qualifiedName('the referenced table, e.g. users or billing.accounts'),
          columns: list(identifier('a column name'), 'the referenced columns (default: its primary key)').optional(),
        },
        'the referenced table: { table, columns }',
      ),
      on_delete: referentialAction('what happens on delete').optional(),
      on_update: referentialAction('what happens on update').optional(),
      match: choice(['full', 'simple'] as const, 'the MATCH type').optional(),
      deferrable: flag('whether the check can be deferred to commit').optional(),
      initially_deferred: flag('whether the check is deferred to commit by default').optional(),
    },
    'a foreign key: { columns, references: { table, columns }, on_delete, on_update, match, deferrable, initially_deferred }',
  ).optional(),
  exclude: strict(
    {
      method: accessMethod().optional(),
      elements: list(exclusionElement, 'the exclusion elements: [{ column or expression, operator }]', 1),
      where: expression('a predicate limiting the constraint to some rows').optional(),
    },
    'an exclusion constraint: { method, elements, where }',
  ).optional(),
};

/** A constraint spec has exactly one of its kinds. */
export function requireOneKind(ctx: { value: Partial<Record<(typeof constraintKinds)[number], unknown>>; issues: z.core.$ZodRawIssue[] }): void {
  const given = constraintKinds.filter((k) => ctx.value[k] !== undefined);
  if (given.length !== 1) {
    ctx.issues.push({
      code: 'custom',
      message: `a constraint needs exactly one of ${constraintKinds.join(', ')}; found ${given.length === 0 ? 'none' : given.join(', ')}`,
      input: ctx.value,
    });
  }
}

export const constraintSpec = strict(constraintShape, 'a table constraint: { name, and one of check, unique, primary_key, foreign_key, exclude }').check(requireOneKind);

export type ConstraintSpec = z.output<typeof constraintSpec>;

export interface ConstraintPlan {
  /** The clause inside CREATE TABLE (or after ADD): `CONSTRAINT "name" <definition>`. */
  sql: string;
  /** The constraint as the schema model keeps it (its definition without the name). */
  model: ConstraintModel;
  /** The index a primary key, unique or exclusion constraint creates. */
  index?: IndexModel;
  /** The table a foreign key references. */
  references?: Rel;
  /** Columns of the constrained table that the constraint names, for existence checks. */
  columns: string[];
  primaryKey: boolean;
}

export interface ConstraintContext {
  /** The table's columns, when known: an unnamed CHECK is named after the one it reads. */
  columns?: readonly string[];
  /** Whether a constraint name is already used on the table (then a number is added). */
  taken?: (name: string) => boolean;
  /** The primary key columns of a referenced table, when known. */
  primaryKeyOf?: (table: Rel) => string[] | undefined;
  /** ADD CONSTRAINT ... NOT VALID (check and foreign key only). */
  notValid?: boolean;
}

/** What each kind of constraint works out before the shared parts are assembled. */
interface Rendered {
  name: string;
  type: ConstraintModel['type'];
  definition: string;
  /** Columns that must exist on the table (including INCLUDE columns). */
  mentioned: string[];
  /** The constraint's own columns, as the model keeps them (conkey). */
  columns: string[];
  index?: IndexModel;
  references?: Rel;
  referencedColumns?: string[];
}

function render(table: Rel, spec: ConstraintSpec, options: ConstraintContext): Rendered {
  if (spec.check !== undefined) {
    const name = spec.name ?? defaultCheckName(table.name, spec.check, options.columns, options.taken);
    const read = options.columns === undefined ? [] : expressionColumns(spec.check, options.columns);
    return { name, type: 'check', definition: `CHECK (${spec.check})`, mentioned: [], columns: read };
  }
  if (spec.primary_key !== undefined) {
    const { columns, include } = spec.primary_key;
    const name = spec.name ?? defaultIndexName(table.name, [], 'primary_key');
    return {
      name,
      type: 'primary_key',
      definition: `PRIMARY KEY (${columns.map(quoteIdent).join(', ')})${includeClause(include)}`,
      mentioned: [...columns, ...(include ?? [])],
      columns,
      index: constraintIndex(table, name, columns.map(quoteIdent), true, { include }),
    };
  }
  if (spec.unique !== undefined) {
    const { columns, include, nulls_not_distinct } = spec.unique;
    const name = spec.name ?? defaultIndexName(table.name, columns, 'unique');
    const nulls = nulls_not_distinct === true ? 'NULLS NOT DISTINCT ' : '';
    return {
      name,
      type: 'unique',
      definition: `UNIQUE ${nulls}(${columns.map(quoteIdent).join(', ')})${includeClause(include)}`,
      mentioned: [...columns, ...(include ?? [])],
      columns,
      index: constraintIndex(table, name, columns.map(quoteIdent), true, { include, nullsNotDistinct: nulls_not_distinct }),
    };
  }
  if (spec.foreign_key !== undefined) {
    const fk = spec.foreign_key;
    const target = relFromText(fk.references.table);
    return {
      name: spec.name ?? defaultForeignKeyName(table.name, fk.columns, options.taken),
      type: 'foreign_key',
      definition: `FOREIGN KEY (${fk.columns.map(quoteIdent).join(', ')}) ${referencesClause(target, fk.references.columns, fk)}`,
      mentioned: fk.columns,
      columns: fk.columns,
      references: target,
      referencedColumns: fk.references.columns ?? options.primaryKeyOf?.(target) ?? [],
    };
  }
  if (spec.exclude !== undefined) {
    const ex = spec.exclude;
    const name = spec.name ?? defaultIndexName(table.name, indexColumnNames(ex.elements.map(asNamed)), 'exclude');
    const element = (e: (typeof ex.elements)[number]) => (e.column !== undefined ? quoteIdent(e.column) : `(${e.expression ?? ''})`);
    const method = ex.method === undefined ? '' : `USING ${quoteIdent(ex.method)} `;
    const where = ex.where === undefined ? undefined : `(${ex.where})`;
    const columns = ex.elements.flatMap((e) => (e.column !== undefined ? [e.column] : []));
    return {
      name,
      type: 'exclude',
      definition: `EXCLUDE ${method}(${ex.elements.map((e) => `${element(e)} WITH ${e.operator}`).join(', ')})${where === undefined ? '' : ` WHERE ${where}`}`,
      mentioned: columns,
      columns,
      index: constraintIndex(table, name, ex.elements.map(element), false, { method: ex.method, where }),
    };
  }
  // The spec schema guarantees exactly one kind; this is unreachable.
  throw new Error('constraint spec without a kind');
}

/**
 * Renders a table constraint. Every constraint gets its name written out (the one
 * Postgres would choose when the spec has none), so inverses and later steps know it.
 */
export function planConstraint(table: Rel, spec: ConstraintSpec, options: ConstraintContext = {}): ConstraintPlan {
  const r = render(table, spec, options);
  const definition = options.notValid === true ? `${r.definition} NOT VALID` : r.definition;
  const model: ConstraintModel = { name: r.name, type: r.type, definition, columns: r.columns, valid: options.notValid !== true };
  if (r.references !== undefined) model.references = { table: r.references.key, columns: r.referencedColumns ?? [] };
  if (r.index !== undefined) model.index = r.index.name;
  const plan: ConstraintPlan = { sql: `${constraintPrefix(r.name)}${definition}`, model, columns: r.mentioned, primaryKey: r.type === 'primary_key' };
  if (r.index !== undefined) plan.index = r.index;
  if (r.references !== undefined) plan.references = r.references;
  return plan;
}

function asNamed(e: { column?: string | undefined; expression?: string | undefined }): { column: string } | { expression: string } {
  return e.column !== undefined ? { column: e.column } : { expression: e.expression ?? '' };
}

function includeClause(include: string[] | undefined): string {
  return include === undefined || include.length === 0 ? '' : ` INCLUDE (${include.map(quoteIdent).join(', ')})`;
}
