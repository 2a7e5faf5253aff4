/**
 * The constraint spec (create_table's `constraints`, later add_constraint) and the
 * SQL clauses shared with inline column constraints.
 */
import { z } from 'zod';
import type { IndexModel } from '../db/schema-model';
import { quoteIdent } from '../db/ident';
import { choice, expression, flag, identifier, list, qualifiedName, referentialAction, strict, text, type ReferentialAction } from './fields';
import { constraintIndex } from './index-def';
import { relFromText, type Rel } from './model';
import { defaultIndexName, indexColumnNames } from './naming';

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

export const constraintSpec = strict(
  {
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
  },
  'a table constraint: { name, and one of check, unique, primary_key, foreign_key, exclude }',
).check((ctx) => {
  const given = constraintKinds.filter((k) => ctx.value[k] !== undefined);
  if (given.length !== 1) {
    ctx.issues.push({
      code: 'custom',
      message: `a constraint needs exactly one of ${constraintKinds.join(', ')}; found ${given.length === 0 ? 'none' : given.join(', ')}`,
      input: ctx.value,
    });
  }
});

export type ConstraintSpec = z.output<typeof constraintSpec>;

export interface ConstraintPlan {
  /** The clause inside CREATE TABLE (or after ADD). */
  sql: string;
  /** The index a primary key, unique or exclusion constraint creates. */
  index?: IndexModel;
  /** The table a foreign key references. */
  references?: Rel;
  /** Columns of the constrained table that the constraint names, for existence checks. */
  columns: string[];
  primaryKey: boolean;
}

/**
 * Renders a table constraint. Index-backed constraints (primary key, unique,
 * exclude) get Postgres' default name written out, so the index name is known.
 */
export function planConstraint(table: Rel, spec: ConstraintSpec): ConstraintPlan {
  if (spec.check !== undefined) {
    return { sql: `${constraintPrefix(spec.name)}CHECK (${spec.check})`, columns: [], primaryKey: false };
  }
  if (spec.primary_key !== undefined) {
    const { columns, include } = spec.primary_key;
    const name = spec.name ?? defaultIndexName(table.name, [], 'primary_key');
    const sql = `${constraintPrefix(name)}PRIMARY KEY (${columns.map(quoteIdent).join(', ')})${includeClause(include)}`;
    return { sql, index: constraintIndex(table, name, columns.map(quoteIdent), true), columns: [...columns, ...(include ?? [])], primaryKey: true };
  }
  if (spec.unique !== undefined) {
    const { columns, include, nulls_not_distinct } = spec.unique;
    const name = spec.name ?? defaultIndexName(table.name, columns, 'unique');
    const nulls = nulls_not_distinct === true ? 'NULLS NOT DISTINCT ' : '';
    const sql = `${constraintPrefix(name)}UNIQUE ${nulls}(${columns.map(quoteIdent).join(', ')})${includeClause(include)}`;
    return { sql, index: constraintIndex(table, name, columns.map(quoteIdent), true), columns: [...columns, ...(include ?? [])], primaryKey: false };
  }
  if (spec.foreign_key !== undefined) {
    const fk = spec.foreign_key;
    const target = relFromText(fk.references.table);
    const sql = `${constraintPrefix(spec.name)}FOREIGN KEY (${fk.columns.map(quoteIdent).join(', ')}) ${referencesClause(target, fk.references.columns, fk)}`;
    return { sql, references: target, columns: fk.columns, primaryKey: false };
  }
  if (spec.exclude !== undefined) {
    const ex = spec.exclude;
    const name = spec.name ?? defaultIndexName(table.name, indexColumnNames(ex.elements.map(asNamed)), 'exclude');
    const elements = ex.elements.map((e) => `${e.column !== undefined ? quoteIdent(e.column) : `(${e.expression ?? ''})`} WITH ${e.operator}`);
    const method = ex.method === undefined ? '' : `USING ${quoteIdent(ex.method)} `;
    const where = ex.where === undefined ? '' : ` WHERE (${ex.where})`;
    const sql = `${constraintPrefix(name)}EXCLUDE ${method}(${elements.join(', ')})${where}`;
    const indexElements = ex.elements.map((e) => (e.column !== undefined ? quoteIdent(e.column) : `(${e.expression ?? ''})`));
    const columns = ex.elements.flatMap((e) => (e.column !== undefined ? [e.column] : []));
    return { sql, index: constraintIndex(table, name, indexElements, false, ex.method), columns, primaryKey: false };
  }
  // The spec schema guarantees exactly one kind; this is unreachable.
  throw new Error('constraint spec without a kind');
}

function asNamed(e: { column?: string | undefined; expression?: string | undefined }): { column: string } | { expression: string } {
  return e.column !== undefined ? { column: e.column } : { expression: e.expression ?? '' };
}

function includeClause(include: string[] | undefined): string {
  return include === undefined || include.length === 0 ? '' : ` INCLUDE (${include.map(quoteIdent).join(', ')})`;
}
