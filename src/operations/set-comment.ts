import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/ident';
import { identifier, qualifiedName, strict } from './fields';
import { column, relFromText, requireColumn, requireTable } from './model';
import { fromCatalogNote } from './notes';
import { Risk, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

export const setCommentSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column to comment on (leave out to comment on the table)').optional(),
    comment: z.string({ error: (iss) => (iss.input === undefined ? 'missing required field: expected a string, or null to remove the comment' : 'expected a string, or null to remove the comment') }).nullable(),
  },
  'set_comment: { table, column, comment }',
);
export type SetCommentSpec = z.output<typeof setCommentSpec>;

export const setComment = {
  kind: 'set_comment',
  plan(spec: SetCommentSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = spec.column === undefined ? undefined : requireColumn(ctx, table, model, spec.column);
    const target = spec.column === undefined ? `TABLE ${table.sql}` : `COLUMN ${table.sql}.${quoteIdent(spec.column)}`;
    const commentSql = (text: string | null | undefined): SqlAction => ({
      sql: `COMMENT ON ${target} IS ${text === null || text === undefined ? 'NULL' : quoteLiteral(text)}`,
      transactional: true,
    });

    // The model knows the current comment once it knows the table (and column).
    const known = spec.column === undefined ? model : col;
    const what = spec.column === undefined ? table.display : column(table, spec.column);
    const draft: StepDraft = {
      kind: 'set_comment',
      summary: `set_comment ${what}`,
      forward: [commentSql(spec.comment)],
      inverse: known === undefined ? null : [commentSql(known.comment)],
      touches: [table.key],
      risk: Risk.low,
      lint: [],
    };
    if (known === undefined) draft.inverseNote = fromCatalogNote(`the current comment on ${what}`);
    else if (spec.comment === null) delete known.comment;
    else known.comment = spec.comment;
    return [draft];
  },
} satisfies Operation<SetCommentSpec>;
