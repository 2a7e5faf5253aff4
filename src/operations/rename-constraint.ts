import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { renameIndexInDefinition } from './definitions';
import { identifier, qualifiedName, strict } from './fields';
import { addIndex, getOwn, rel, relFromText, requireRelationAbsent, requireTable, uniq } from './model';
import { constraintDisplay, requireConstraint, requireConstraintAbsent, setConstraint } from './model-constraints';
import { PlanError, Risk, type Operation, type PlanContext } from './types';

export const renameConstraintSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    name: identifier('the current constraint name'),
    to: identifier('the new constraint name'),
  },
  'rename_constraint: { table, name, to }',
);
export type RenameConstraintSpec = z.output<typeof renameConstraintSpec>;

export const renameConstraint = {
  kind: 'rename_constraint',
  plan(spec: RenameConstraintSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    if (spec.name === spec.to) {
      throw new PlanError(`rename_constraint renames ${constraintDisplay(table, spec.name)} to the same name`, ctx.path, 'set to: to the new name, or remove the operation');
    }
    const model = requireTable(ctx, table);
    const c = requireConstraint(ctx, table, model, spec.name);
    requireConstraintAbsent(ctx, table, model, spec.to, 'pick another name, or drop the existing constraint first with drop_constraint');
    // Postgres renames the index of a primary key, unique or exclusion constraint with it.
    const from = c?.index === undefined ? undefined : rel(table.schema, c.index);
    const to = rel(table.schema, spec.to);
    if (from !== undefined) requireRelationAbsent(ctx, to, 'index', 'pick another name: the constraint index takes the name too');

    if (model !== undefined && c !== undefined) {
      delete model.constraints?.[c.name];
      setConstraint(model, { ...c, name: spec.to, ...(from !== undefined ? { index: spec.to } : {}) });
      if (from !== undefined && model.replicaIdentityIndex === from.name) model.replicaIdentityIndex = spec.to;
    }
    const index = from === undefined ? undefined : getOwn(ctx.schema.indexes, from.key);
    if (from !== undefined && index !== undefined) {
      delete ctx.schema.indexes[from.key];
      addIndex(ctx.schema, { ...index, name: spec.to, definition: renameIndexInDefinition(index.definition, spec.to) });
    }

    const renameSql = (a: string, b: string) => `ALTER TABLE ${table.sql} RENAME CONSTRAINT ${quoteIdent(a)} TO ${quoteIdent(b)}`;
    return [
      {
        kind: 'rename_constraint',
        summary: `rename_constraint ${constraintDisplay(table, spec.name)} to ${spec.to}`,
        forward: [{ sql: renameSql(spec.name, spec.to), transactional: true }],
        inverse: [{ sql: renameSql(spec.to, spec.name), transactional: true }],
        touches: uniq([table.key, ...(from !== undefined ? [from.key, to.key] : [])]),
        risk: Risk.low,
        lint: [],
      },
    ];
  },
} satisfies Operation<RenameConstraintSpec>;
