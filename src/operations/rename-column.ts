import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { identifier, qualifiedName, strict } from './fields';
import { column, relFromText, requireColumn, requireColumnAbsent, requireTable, setOwn, tableIndexes } from './model';
import { PlanError, Risk, type Operation, type PlanContext } from './types';

export const renameColumnSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    from: identifier('the current column name'),
    to: identifier('the new column name'),
  },
  'rename_column: { table, from, to }',
);
export type RenameColumnSpec = z.output<typeof renameColumnSpec>;

/**
 * Rewrites references to a renamed column in a model index definition, so a later
 * drop_index in the same manifest recreates the index with the column's new name.
 */
export function renameInDefinition(definition: string, from: string, to: string): string {
  const start = definition.search(/ USING | \(/);
  if (start === -1) return definition;
  const head = definition.slice(0, start);
  let body = definition.slice(start).replaceAll(`"${from.replaceAll('"', '""')}"`, quoteIdent(to));
  if (/^[a-z_][a-z0-9_$]*$/.test(from)) {
    body = body.replace(new RegExp(`(^|[^\\w$."])${from.replaceAll('$', '\\$')}(?=$|[^\\w$"(])`, 'g'), (_m, before: string) => `${before}${quoteIdent(to)}`);
  }
  return head + body;
}

export const renameColumn = {
  kind: 'rename_column',
  plan(spec: RenameColumnSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    if (spec.from === spec.to) {
      throw new PlanError(`rename_column renames ${column(table, spec.from)} to the same name`, ctx.path, 'set to: to the new name, or remove the operation');
    }
    const model = requireTable(ctx, table);
    const existing = requireColumn(ctx, table, model, spec.from);
    requireColumnAbsent(ctx, table, model, spec.to, 'pick another name, or drop the existing column first with drop_column');

    if (model !== undefined && existing !== undefined) {
      delete model.columns[spec.from];
      setOwn(model.columns, spec.to, { ...existing, name: spec.to });
    }
    for (const [, index] of tableIndexes(ctx.schema, table.key)) {
      index.definition = renameInDefinition(index.definition, spec.from, spec.to);
    }

    const renameSql = (from: string, to: string) => `ALTER TABLE ${table.sql} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`;
    return [
      {
        kind: 'rename_column',
        summary: `rename_column ${column(table, spec.from)} to ${spec.to}`,
        forward: [{ sql: renameSql(spec.from, spec.to), transactional: true }],
        inverse: [{ sql: renameSql(spec.to, spec.from), transactional: true }],
        touches: [table.key],
        risk: Risk.medium,
        lint: [
          {
            level: 'warning',
            code: 'breaks_clients',
            message: `application code that still uses ${column(table, spec.from)} fails once it is renamed; deploy code that handles both names first`,
          },
        ],
      },
    ];
  },
} satisfies Operation<RenameColumnSpec>;
