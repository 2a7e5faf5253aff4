import { z } from 'zod';
import { concurrentIndexDefinition } from './definitions';
import { qualifiedName, flag, strict } from './fields';
import { getOwn, knowsAbsence, relFromText, uniq } from './model';
import { didYouMean } from './suggest';
import { PlanError, Risk, type CatalogProbe, type LintFinding, type Operation, type PlanContext, type StepDraft } from './types';

export const dropIndexSpec = strict(
  {
    name: qualifiedName('the index to drop, e.g. users_email_idx or billing.invoices_due_idx'),
    concurrently: flag('drop without blocking reads and writes (DROP INDEX CONCURRENTLY)').optional(),
  },
  'drop_index: { name, concurrently }',
);
export type DropIndexSpec = z.output<typeof dropIndexSpec>;

export const dropIndex = {
  kind: 'drop_index',
  plan(spec: DropIndexSpec, ctx: PlanContext) {
    const index = relFromText(spec.name);
    const model = getOwn(ctx.schema.indexes, index.key);
    if (model === undefined && knowsAbsence(ctx)) {
      const known = Object.values(ctx.schema.indexes).filter((i) => i.schema === index.schema).map((i) => i.name);
      throw new PlanError(`index ${index.display} does not exist`, ctx.path, `${didYouMean(index.name, known).trim()} Check the name (schema-qualify it if it is not in public).`.trim());
    }
    if (model?.constraint === true) {
      throw new PlanError(
        `index ${index.display} belongs to a constraint (primary key, unique or exclusion) and cannot be dropped on its own`,
        ctx.path,
        'drop the constraint instead (drop_constraint), which drops its index',
      );
    }

    const concurrently = spec.concurrently === true;
    const lint: LintFinding[] = [];
    if (!concurrently) {
      lint.push({ level: 'warning', code: 'blocking_index_drop', message: `dropping ${index.display} without concurrently blocks reads and writes on its table; set concurrently: true` });
    }
    const draft: StepDraft = {
      kind: 'drop_index',
      summary: `drop_index ${index.display}`,
      forward: [{ sql: `DROP INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${index.sql}`, transactional: !concurrently }],
      inverse: null,
      touches: uniq([...(model !== undefined ? [model.table] : []), index.key]),
      risk: Risk.high,
      lint,
    };
    if (model !== undefined) {
      draft.inverse = [
        concurrently ? { sql: concurrentIndexDefinition(model.definition), transactional: false } : { sql: model.definition, transactional: true },
      ];
      delete ctx.schema.indexes[index.key];
    } else {
      draft.inverseNote = `the index is not in the offline schema model; its definition is read from the catalog (pg_get_indexdef) at apply time to build the inverse`;
    }
    if (concurrently) {
      const absent: CatalogProbe = { kind: 'index_absent', schema: index.schema, name: index.name };
      const exists: CatalogProbe = { kind: 'index_exists', schema: index.schema, name: index.name };
      draft.probe = absent;
      draft.inverseProbe = exists;
    }
    return [draft];
  },
} satisfies Operation<DropIndexSpec>;
