import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { renameColumnInConstraint, renameInDefinition } from './definitions';
import { identifier, qualifiedName, strict } from './fields';
import { column, forgetNewColumn, getOwn, isNewColumn, markNewColumn, relFromText, requireColumn, requireColumnAbsent, requireTable, setOwn, tableIndexes } from './model';
import { constraintsOf } from './model-constraints';
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

    // Everything the model stores by column name follows the rename, so later steps
    // (and the inverses they replay) use the new name.
    if (model !== undefined && existing !== undefined) {
      delete model.columns[spec.from];
      setOwn(model.columns, spec.to, { ...existing, name: spec.to });
      const seq = getOwn(model.sequences ?? {}, spec.from);
      if (seq !== undefined && model.sequences !== undefined) {
        delete model.sequences[spec.from];
        setOwn(model.sequences, spec.to, seq);
      }
      for (const c of constraintsOf(model)) renameColumnInConstraint(c, spec.from, spec.to, 'local');
    }
    for (const other of Object.values(ctx.schema.tables)) {
      for (const c of constraintsOf(other)) {
        if (c.type === 'foreign_key' && c.references?.table === table.key) renameColumnInConstraint(c, spec.from, spec.to, 'referenced');
      }
    }
    for (const [, index] of tableIndexes(ctx.schema, table.key)) {
      index.definition = renameInDefinition(index.definition, spec.from, spec.to);
    }
    if (isNewColumn(ctx, table.key, spec.from)) {
      forgetNewColumn(ctx, table.key, spec.from);
      markNewColumn(ctx, table.key, spec.to);
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
