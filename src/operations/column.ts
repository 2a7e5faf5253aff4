/**
 * The column spec shared by create_table and add_column, and its SQL: one column
 * definition with its inline constraints, plus a COMMENT statement when asked.
 */
import { z } from 'zod';
import type { ColumnModel, ConstraintModel, IndexModel } from '../db/schema-model';
import { quoteIdent, quoteLiteral } from '../db/ident';
import { constraintPrefix, referencesClause, type ConstraintContext } from './constraint';
import { choice, expression, flag, identifier, qualifiedName, referentialAction, sqlType, strict } from './fields';
import { constraintIndex } from './index-def';
import { relFromText, type Rel } from './model';
import { defaultCheckName, defaultForeignKeyName, defaultIndexName, expressionColumns } from './naming';

/** `true`, `{}` or `{ name }`; `false` means absent. */
const namedConstraint = (what: string) =>
  z.preprocess(
    (v) => (v === true ? {} : v === false ? undefined : v),
    strict({ name: identifier('the constraint name').optional() }, what, 'true or { name }').optional(),
  );

const checkConstraint = z.preprocess(
  (v) => (typeof v === 'string' ? { expression: v } : v),
  strict(
    {
      name: identifier('the constraint name').optional(),
      expression: expression('the CHECK expression'),
    },
    'a CHECK constraint on the column',
    'an expression or { name, expression }',
  ).optional(),
);

const references = strict(
  {
    name: identifier('the constraint name').optional(),
    table: qualifiedName('the referenced table, e.g. users or billing.accounts'),
    column: identifier('the referenced column (default: its primary key)').optional(),
    on_delete: referentialAction('what happens on delete').optional(),
    on_update: referentialAction('what happens on update').optional(),
    deferrable: flag('whether the check can be deferred to commit').optional(),
  },
  'a foreign key: { name, table, column, on_delete, on_update, deferrable }',
);

export const columnSpec = strict(
  {
    name: identifier('the column name'),
    type: sqlType(),
    nullable: flag('whether the column accepts NULL; default true').default(true),
    default: expression('the default value').optional(),
    identity: choice(['always', 'by_default'] as const, 'an identity column: always or by_default').optional(),
    generated: expression('the expression of a stored generated column').optional(),
    unique: namedConstraint('a unique constraint on the column'),
    primary_key: namedConstraint('make the column the primary key'),
    check: checkConstraint,
    references: references.optional(),
    comment: z.string({ error: () => 'expected a string (a comment on the column)' }).optional(),
  },
  'a column: { name, type, nullable, default, ... }',
).check((ctx) => {
  const c = ctx.value;
  const clash = (a: string, b: string) =>
    ctx.issues.push({ code: 'custom', message: `a column cannot have both ${a} and ${b}`, input: c });
  if (c.identity !== undefined && c.default !== undefined) clash('identity', 'default');
  if (c.identity !== undefined && c.generated !== undefined) clash('identity', 'generated');
  if (c.generated !== undefined && c.default !== undefined) clash('generated', 'default');
});

export type ColumnSpec = z.output<typeof columnSpec>;

export interface ColumnPlan {
  /** `"email" text NOT NULL ...` */
  definition: string;
  model: ColumnModel;
  /** Indexes created by inline primary_key / unique. */
  indexes: IndexModel[];
  /** Tables referenced by an inline foreign key. */
  references: Rel[];
  /** The inline constraints, as the schema model keeps them. */
  constraints: ConstraintModel[];
  /** `COMMENT ON COLUMN ...` when the spec has a comment. */
  comment?: string;
  primaryKey: boolean;
}

/**
 * One column definition with its inline constraints. Checks and foreign keys get their
 * name written out (the one Postgres would choose), like index-backed constraints, so
 * the model knows every constraint by name. `options.columns` are the table's columns
 * (an unnamed CHECK is named after the one column it reads).
 */
export function planColumn(table: Rel, c: ColumnSpec, options: ConstraintContext = {}): ColumnPlan {
  const parts = [quoteIdent(c.name), c.type];
  const indexes: IndexModel[] = [];
  const refs: Rel[] = [];
  const constraints: ConstraintModel[] = [];
  const column = quoteIdent(c.name);
  if (c.identity !== undefined) parts.push(`GENERATED ${c.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`);
  if (c.generated !== undefined) parts.push(`GENERATED ALWAYS AS (${c.generated}) STORED`);
  if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
  if (!c.nullable) parts.push('NOT NULL');
  if (c.primary_key !== undefined) {
    const name = c.primary_key.name ?? defaultIndexName(table.name, [], 'primary_key');
    parts.push(`${constraintPrefix(name)}PRIMARY KEY`);
    indexes.push(constraintIndex(table, name, [column], true));
    constraints.push({ name, type: 'primary_key', definition: `PRIMARY KEY (${column})`, columns: [c.name], valid: true, index: name });
  }
  if (c.unique !== undefined) {
    const name = c.unique.name ?? defaultIndexName(table.name, [c.name], 'unique');
    parts.push(`${constraintPrefix(name)}UNIQUE`);
    indexes.push(constraintIndex(table, name, [column], true));
    constraints.push({ name, type: 'unique', definition: `UNIQUE (${column})`, columns: [c.name], valid: true, index: name });
  }
  if (c.check !== undefined) {
    const columns = [...(options.columns ?? []), c.name];
    const name = c.check.name ?? defaultCheckName(table.name, c.check.expression, columns, options.taken);
    parts.push(`${constraintPrefix(name)}CHECK (${c.check.expression})`);
    constraints.push({ name, type: 'check', definition: `CHECK (${c.check.expression})`, columns: expressionColumns(c.check.expression, columns), valid: true });
  }
  if (c.references !== undefined) {
    const r = c.references;
    const target = relFromText(r.table);
    const name = r.name ?? defaultForeignKeyName(table.name, [c.name], options.taken);
    const clause = referencesClause(target, r.column === undefined ? undefined : [r.column], r);
    refs.push(target);
    parts.push(`${constraintPrefix(name)}${clause}`);
    const referenced = r.column !== undefined ? [r.column] : (options.primaryKeyOf?.(target) ?? []);
    constraints.push({ name, type: 'foreign_key', definition: `FOREIGN KEY (${column}) ${clause}`, columns: [c.name], valid: true, references: { table: target.key, columns: referenced } });
  }
  const primaryKey = c.primary_key !== undefined;
  const model: ColumnModel = {
    name: c.name,
    type: c.type,
    nullable: c.nullable && !primaryKey && c.identity === undefined,
    default: c.default ?? null,
  };
  if (c.identity !== undefined) model.identity = c.identity;
  if (c.generated !== undefined) model.generated = c.generated;
  if (c.comment !== undefined) model.comment = c.comment;
  const plan: ColumnPlan = { definition: parts.join(' '), model, indexes, references: refs, constraints, primaryKey };
  if (c.comment !== undefined) plan.comment = `COMMENT ON COLUMN ${table.sql}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`;
  return plan;
}
