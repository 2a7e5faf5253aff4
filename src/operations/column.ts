/**
 * The column spec shared by create_table and add_column, and its SQL: one column
 * definition with its inline constraints, plus a COMMENT statement when asked.
 */
import { z } from 'zod';
import type { ColumnModel, IndexModel } from '../db/schema-model';
import { quoteIdent, quoteLiteral } from '../db/ident';
import { constraintPrefix, referencesClause } from './constraint';
import { choice, expression, flag, identifier, qualifiedName, referentialAction, sqlType, strict } from './fields';
import { constraintIndex } from './index-def';
import { relFromText, type Rel } from './model';
import { defaultIndexName } from './naming';

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
  /** `COMMENT ON COLUMN ...` when the spec has a comment. */
  comment?: string;
  primaryKey: boolean;
}

export function planColumn(table: Rel, c: ColumnSpec): ColumnPlan {
  const parts = [quoteIdent(c.name), c.type];
  const indexes: IndexModel[] = [];
  const refs: Rel[] = [];
  if (c.identity !== undefined) parts.push(`GENERATED ${c.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`);
  if (c.generated !== undefined) parts.push(`GENERATED ALWAYS AS (${c.generated}) STORED`);
  if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
  if (!c.nullable) parts.push('NOT NULL');
  if (c.primary_key !== undefined) {
    const name = c.primary_key.name ?? defaultIndexName(table.name, [], 'primary_key');
    parts.push(`${constraintPrefix(name)}PRIMARY KEY`);
    indexes.push(constraintIndex(table, name, [quoteIdent(c.name)], true));
  }
  if (c.unique !== undefined) {
    const name = c.unique.name ?? defaultIndexName(table.name, [c.name], 'unique');
    parts.push(`${constraintPrefix(name)}UNIQUE`);
    indexes.push(constraintIndex(table, name, [quoteIdent(c.name)], true));
  }
  if (c.check !== undefined) parts.push(`${constraintPrefix(c.check.name)}CHECK (${c.check.expression})`);
  if (c.references !== undefined) {
    const r = c.references;
    const target = relFromText(r.table);
    refs.push(target);
    parts.push(`${constraintPrefix(r.name)}${referencesClause(target, r.column === undefined ? undefined : [r.column], r)}`);
  }
  const primaryKey = c.primary_key !== undefined;
  const plan: ColumnPlan = {
    definition: parts.join(' '),
    model: {
      name: c.name,
      type: c.type,
      nullable: c.nullable && !primaryKey && c.identity === undefined,
      default: c.default ?? null,
    },
    indexes,
    references: refs,
    primaryKey,
  };
  if (c.comment !== undefined) plan.comment = `COMMENT ON COLUMN ${table.sql}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`;
  return plan;
}
