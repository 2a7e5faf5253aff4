import { z } from 'zod';
import { qualifiedName, strict } from './fields';
import { getOwn, relFromText, requireTable, tableIndexes, uniq } from './model';
import { NO_SNAPSHOT_NOTE } from './notes';
import { Risk, type Operation, type PlanContext } from './types';

export const dropTableSpec = strict(
  { table: qualifiedName('the table to drop, e.g. users or billing.invoices') },
  'drop_table: { table }',
);
export type DropTableSpec = z.output<typeof dropTableSpec>;

export const dropTable = {
  kind: 'drop_table',
  plan(spec: DropTableSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    requireTable(ctx, table);
    const indexes = tableIndexes(ctx.schema, table.key).map(([key]) => key);

    if (getOwn(ctx.schema.tables, table.key) !== undefined) delete ctx.schema.tables[table.key];
    for (const key of indexes) delete ctx.schema.indexes[key];
    ctx.newTables?.delete(table.key);

    return [
      {
        kind: 'drop_table',
        summary: `drop_table ${table.display}`,
        forward: [{ sql: `DROP TABLE ${table.sql}`, transactional: true }],
        inverse: null,
        inverseNote: NO_SNAPSHOT_NOTE,
        touches: uniq([table.key, ...indexes]),
        risk: Risk.high,
        lint: [{ level: 'warning', code: 'destructive', message: `drops table ${table.display} and all its rows` }],
      },
    ];
  },
} satisfies Operation<DropTableSpec>;
