import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { identifier, qualifiedName, strict } from './fields';
import { column, relFromText, requireColumn, requireTable, tableIndexes, uniq } from './model';
import { NO_SNAPSHOT_NOTE } from './notes';
import { Risk, type Operation, type PlanContext } from './types';

export const dropColumnSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column to drop'),
  },
  'drop_column: { table, column }',
);
export type DropColumnSpec = z.output<typeof dropColumnSpec>;

/** Whether an index definition mentions `name` as an identifier (quoted, or bare). */
export function mentionsColumn(definition: string, name: string): boolean {
  const using = definition.search(/ USING | \(/);
  const body = using === -1 ? definition : definition.slice(using);
  if (body.includes(`"${name.replaceAll('"', '""')}"`)) return true;
  if (!/^[a-z_][a-z0-9_$]*$/.test(name)) return false;
  return new RegExp(`(^|[^\\w$."])${name.replaceAll('$', '\\$')}($|[^\\w$"(])`).test(body);
}

export const dropColumn = {
  kind: 'drop_column',
  plan(spec: DropColumnSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    requireColumn(ctx, table, model, spec.column);

    // Postgres drops the indexes (and index-backed constraints) that use the column.
    const dependent = tableIndexes(ctx.schema, table.key)
      .filter(([, index]) => mentionsColumn(index.definition, spec.column))
      .map(([key]) => key);
    if (model !== undefined) delete model.columns[spec.column];
    for (const key of dependent) delete ctx.schema.indexes[key];

    return [
      {
        kind: 'drop_column',
        summary: `drop_column ${column(table, spec.column)}`,
        forward: [{ sql: `ALTER TABLE ${table.sql} DROP COLUMN ${quoteIdent(spec.column)}`, transactional: true }],
        inverse: null,
        inverseNote: NO_SNAPSHOT_NOTE,
        touches: uniq([table.key, ...dependent]),
        risk: Risk.high,
        lint: [{ level: 'warning', code: 'destructive', message: `drops column ${column(table, spec.column)} and its data` }],
      },
    ];
  },
} satisfies Operation<DropColumnSpec>;
