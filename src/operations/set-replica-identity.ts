import { z } from 'zod';
import { choice, identifier, qualifiedName, strict } from './fields';
import { getOwn, knowsAbsence, rel, relFromText, requireTable, tableIndexes } from './model';
import { fromCatalogNote } from './notes';
import { replicaIdentitySql } from './recreate';
import { didYouMean } from './suggest';
import { PlanError, Risk, type LintFinding, type Operation, type PlanContext, type StepDraft } from './types';

export const setReplicaIdentitySpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    identity: choice(['default', 'full', 'nothing', 'index'] as const, 'what logical replication sends to identify a changed row'),
    index: identifier('with identity: index, the unique index to use').optional(),
  },
  'set_replica_identity: { table, identity, index }',
).check((ctx) => {
  const { identity, index } = ctx.value;
  if (identity === 'index' && index === undefined) {
    ctx.issues.push({ code: 'custom', message: 'identity: index needs index: the unique index to use', input: ctx.value, path: ['index'] });
  }
  if (identity !== 'index' && index !== undefined) {
    ctx.issues.push({ code: 'custom', message: `index: is only used with identity: index (this one is ${identity})`, input: ctx.value, path: ['index'] });
  }
});
export type SetReplicaIdentitySpec = z.output<typeof setReplicaIdentitySpec>;

export const setReplicaIdentity = {
  kind: 'set_replica_identity',
  plan(spec: SetReplicaIdentitySpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    if (spec.index !== undefined) {
      const index = getOwn(ctx.schema.indexes, rel(table.schema, spec.index).key);
      if (index === undefined && knowsAbsence(ctx, table.key)) {
        const names = tableIndexes(ctx.schema, table.key).map(([, i]) => i.name);
        throw new PlanError(
          `index ${spec.index} does not exist on ${table.display}`,
          ctx.path,
          `${didYouMean(spec.index, names).trim()} Indexes of ${table.display}: ${names.join(', ') || '(none)'}.`.trim(),
        );
      }
      if (index !== undefined && (index.table !== table.key || !index.unique)) {
        throw new PlanError(
          `index ${spec.index} cannot identify rows of ${table.display}: ${index.table !== table.key ? `it is an index of ${index.table}` : 'it is not unique'}`,
          ctx.path,
          'use a unique, non-partial index on NOT NULL columns of the table (its primary key index is one)',
        );
      }
    }

    const lint: LintFinding[] = [];
    if (spec.identity === 'full') {
      lint.push({ level: 'info', code: 'replica_identity_full', message: `every UPDATE and DELETE on ${table.display} writes the whole old row to the WAL` });
    }
    if (spec.identity === 'nothing') {
      lint.push({ level: 'warning', code: 'replica_identity_nothing', message: `UPDATE and DELETE on ${table.display} fail while the table is in a publication` });
    }

    const draft: StepDraft = {
      kind: 'set_replica_identity',
      summary: `set_replica_identity ${table.display} ${spec.identity}${spec.index !== undefined ? ` ${spec.index}` : ''}`,
      forward: [{ sql: replicaIdentitySql(table, spec.identity, spec.index), transactional: true }],
      inverse: null,
      touches: [table.key],
      risk: Risk.low,
      lint,
    };
    if (model === undefined) {
      draft.inverseNote = fromCatalogNote(`the current replica identity of ${table.display}`);
      return [draft];
    }
    draft.inverse = [{ sql: replicaIdentitySql(table, model.replicaIdentity ?? 'default', model.replicaIdentityIndex), transactional: true }];
    delete model.replicaIdentityIndex;
    if (spec.identity === 'default') delete model.replicaIdentity;
    else model.replicaIdentity = spec.identity;
    if (spec.index !== undefined) model.replicaIdentityIndex = spec.index;
    return [draft];
  },
} satisfies Operation<SetReplicaIdentitySpec>;
