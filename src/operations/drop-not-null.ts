import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { identifier, qualifiedName, strict } from './fields';
import { mentionsColumn } from './definitions';
import { column, getOwn, knowsPresence, relFromText, requireColumn, requireTable } from './model';
import { constraintsOf } from './model-constraints';
import { PlanError, Risk, type Operation, type PlanContext } from './types';

export const dropNotNullSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column that may hold NULL from now on'),
  },
  'drop_not_null: { table, column }',
);
export type DropNotNullSpec = z.output<typeof dropNotNullSpec>;

export const dropNotNull = {
  kind: 'drop_not_null',
  plan(spec: DropNotNullSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    const name = column(table, spec.column);
    if (col !== undefined && knowsPresence(ctx)) {
      if (col.nullable) throw new PlanError(`column ${name} already accepts NULL`, ctx.path, 'remove the operation (rolling it back would make the column NOT NULL)');
      if (col.identity !== undefined) throw new PlanError(`column ${name} is an identity column, which is always NOT NULL`, ctx.path, 'remove the operation');
      const key = constraintsOf(model).find((c) => c.type === 'primary_key' && c.columns.includes(spec.column));
      if (key !== undefined) {
        throw new PlanError(`column ${name} is in the primary key ${key.name}, which requires NOT NULL`, ctx.path, 'drop the primary key first with drop_constraint');
      }
      const identity = model?.replicaIdentity === 'index' ? getOwn(ctx.schema.indexes, `${table.schema}.${model.replicaIdentityIndex ?? ''}`) : undefined;
      if (identity !== undefined && mentionsColumn(identity.definition, spec.column)) {
        throw new PlanError(
          `column ${name} is in ${identity.name}, the replica identity index of ${table.display}, which requires NOT NULL`,
          ctx.path,
          'change the replica identity first with set_replica_identity',
        );
      }
    }
    if (col !== undefined) col.nullable = true;

    const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(spec.column)}`;
    return [
      {
        kind: 'drop_not_null',
        summary: `drop_not_null ${name}`,
        forward: [{ sql: `${alter} DROP NOT NULL`, transactional: true }],
        inverse: [{ sql: `${alter} SET NOT NULL`, transactional: true }],
        touches: [table.key],
        risk: Risk.low,
        lint: [
          {
            level: 'info',
            code: 'rollback_needs_no_nulls',
            message: `rolling back sets NOT NULL again, which scans ${table.display} and fails if NULLs were written into ${spec.column} since`,
          },
        ],
      },
    ];
  },
} satisfies Operation<DropNotNullSpec>;
