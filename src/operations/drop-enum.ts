import { z } from 'zod';
import { createEnumSql, enumLabels } from './create-enum';
import { qualifiedName, strict } from './fields';
import { knowsPresence, relFromText } from './model';
import { columnsOfType, requireEnum } from './model-objects';
import { fromCatalogNote } from './notes';
import { PlanError, Risk, type Operation, type PlanContext, type StepDraft } from './types';

export const dropEnumSpec = strict(
  {
    name: qualifiedName('the enum type to drop, e.g. mood or billing.status'),
    values: enumLabels('its labels, in sort order: optional, used to recreate it on rollback when the plan is made offline').optional(),
  },
  'drop_enum: { name, values }',
);
export type DropEnumSpec = z.output<typeof dropEnumSpec>;

export const dropEnum = {
  kind: 'drop_enum',
  plan(spec: DropEnumSpec, ctx: PlanContext) {
    const name = relFromText(spec.name);
    const model = requireEnum(ctx, name);
    if (model !== undefined && spec.values !== undefined && model.values.join('\0') !== spec.values.join('\0')) {
      throw new PlanError(
        `enum type ${name.display} has the labels ${model.values.join(', ')}, not ${spec.values.join(', ')}`,
        ctx.path,
        'correct values: (it is only needed for an offline plan), or leave it out',
      );
    }
    const users = knowsPresence(ctx) ? columnsOfType(ctx.schema, name.key) : [];
    if (users.length > 0) {
      throw new PlanError(
        `enum type ${name.display} is used by column ${users.join(', ')}`,
        ctx.path,
        'change the type of those columns (alter_column_type) or drop them first',
      );
    }

    const values = model?.values ?? spec.values;
    const draft: StepDraft = {
      kind: 'drop_enum',
      summary: `drop_enum ${name.display}`,
      forward: [{ sql: `DROP TYPE ${name.sql}`, transactional: true }],
      inverse: values === undefined ? null : [{ sql: createEnumSql(name, values), transactional: true }],
      touches: [name.key],
      risk: Risk.medium,
      lint: [],
    };
    if (values === undefined) draft.inverseNote = `${fromCatalogNote(`enum type ${name.display}`)}; give values: to see it here`;
    if (model !== undefined) delete ctx.schema.enums?.[name.key];
    return [draft];
  },
} satisfies Operation<DropEnumSpec>;
