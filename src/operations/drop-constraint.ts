import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { identifier, qualifiedName, strict } from './fields';
import { knowsPresence, rel, relFromText, requireTable, uniq } from './model';
import { constraintDisplay, referencingForeignKeys, requireConstraint } from './model-constraints';
import { fromCatalogNote } from './notes';
import { recreateConstraint, replicaIdentitySql, tx } from './recreate';
import { PlanError, Risk, type Operation, type PlanContext, type StepDraft } from './types';

export const dropConstraintSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    name: identifier('the constraint to drop'),
  },
  'drop_constraint: { table, name }',
);
export type DropConstraintSpec = z.output<typeof dropConstraintSpec>;

const sameColumns = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

export const dropConstraint = {
  kind: 'drop_constraint',
  plan(spec: DropConstraintSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const c = requireConstraint(ctx, table, model, spec.name);
    const name = constraintDisplay(table, spec.name);

    // A foreign key depends on the unique index of the key it references.
    if (c?.index !== undefined && knowsPresence(ctx)) {
      const dependent = referencingForeignKeys(ctx.schema, table.key).find(
        ({ constraint }) => constraint.name !== c.name && sameColumns(constraint.references?.columns ?? [], c.columns),
      );
      if (dependent !== undefined) {
        throw new PlanError(
          `constraint ${name} is referenced by foreign key ${constraintDisplay(rel(dependent.table.schema, dependent.table.name), dependent.constraint.name)}`,
          ctx.path,
          'drop that foreign key first with drop_constraint',
        );
      }
    }

    const index = c?.index === undefined ? undefined : rel(table.schema, c.index);
    const draft: StepDraft = {
      kind: 'drop_constraint',
      summary: `drop_constraint ${name}`,
      forward: [{ sql: `ALTER TABLE ${table.sql} DROP CONSTRAINT ${quoteIdent(spec.name)}`, transactional: true }],
      inverse: null,
      touches: uniq([table.key, ...(index !== undefined ? [index.key] : [])]),
      risk: Risk.medium,
      lint: [],
    };
    if (c === undefined || model === undefined) {
      draft.inverseNote = fromCatalogNote(`constraint ${name}`);
      return [draft];
    }
    draft.inverse = recreateConstraint(ctx.schema, table, c);
    if (c.index !== undefined && model.replicaIdentity === 'index' && model.replicaIdentityIndex === c.index) {
      draft.inverse.push(tx(replicaIdentitySql(table, 'index', c.index)));
    }
    if (c.references !== undefined && c.references.table !== table.key) draft.touches.push(c.references.table);

    delete model.constraints?.[c.name];
    if (index !== undefined) delete ctx.schema.indexes[index.key];
    return [draft];
  },
} satisfies Operation<DropConstraintSpec>;
