import { z } from 'zod';
import { byteLength, MAX_IDENTIFIER_BYTES, quoteLiteral } from '../db/ident';
import { friendly, list, qualifiedName, strict } from './fields';
import { relFromText, requireRelationAbsent, requireSchema, setOwn, type Rel } from './model';
import { Risk, type Operation, type PlanContext } from './types';

/** An enum label: not empty, no NUL, at most 63 bytes (Postgres refuses longer ones). */
const label = z.string({ error: friendly('a string', 'an enum label') }).check((ctx) => {
  const v = ctx.value;
  const problem =
    v.length === 0 ? 'a label cannot be empty'
    : v.includes('\0') ? 'a label cannot contain a NUL character'
    : byteLength(v) > MAX_IDENTIFIER_BYTES ? `label is ${byteLength(v)} bytes long; Postgres allows at most ${MAX_IDENTIFIER_BYTES}`
    : null;
  if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: v });
});

/** Enum labels in order, each once. */
export const enumLabels = (what: string) =>
  list(label, what, 1).check((ctx) => {
    const seen = new Set<string>();
    for (const value of ctx.value) {
      if (seen.has(value)) ctx.issues.push({ code: 'custom', message: `the label '${value}' appears twice; each label of an enum is unique`, input: ctx.value });
      seen.add(value);
    }
  });

export const createEnumSpec = strict(
  {
    name: qualifiedName('the enum type to create, e.g. mood or billing.status'),
    values: enumLabels('the labels, in sort order'),
  },
  'create_enum: { name, values }',
);
export type CreateEnumSpec = z.output<typeof createEnumSpec>;

export function createEnumSql(name: Rel, values: string[]): string {
  return `CREATE TYPE ${name.sql} AS ENUM (${values.map(quoteLiteral).join(', ')})`;
}

export const createEnum = {
  kind: 'create_enum',
  plan(spec: CreateEnumSpec, ctx: PlanContext) {
    const name = relFromText(spec.name);
    requireSchema(ctx, name);
    // A table or view makes a type of its name too.
    requireRelationAbsent(ctx, name, 'type', 'pick another name, or drop the existing type first with drop_enum');
    setOwn((ctx.schema.enums ??= {}), name.key, { schema: name.schema, name: name.name, values: [...spec.values] });
    return [
      {
        kind: 'create_enum',
        summary: `create_enum ${name.display}`,
        forward: [{ sql: createEnumSql(name, spec.values), transactional: true }],
        inverse: [{ sql: `DROP TYPE ${name.sql}`, transactional: true }],
        touches: [name.key],
        risk: Risk.low,
        lint: [],
      },
    ];
  },
} satisfies Operation<CreateEnumSpec>;
