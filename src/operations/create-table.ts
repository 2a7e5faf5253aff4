import { z } from 'zod';
import { quoteLiteral } from '../db/ident';
import type { ConstraintModel, IndexModel, TableModel } from '../db/schema-model';
import { columnSpec, planColumn } from './column';
import { constraintSpec, planConstraint, type ConstraintContext } from './constraint';
import { list, qualifiedName, strict } from './fields';
import { addIndex, getOwn, rel, relFromText, requireRelationAbsent, requireSchema, requireTable, setOwn, uniq, type Rel } from './model';
import { primaryKeyOf, setConstraint } from './model-constraints';
import { PlanError, Risk, type Operation, type PlanContext, type SqlAction } from './types';

export const createTableSpec = strict(
  {
    table: qualifiedName('the table to create, e.g. users or billing.invoices'),
    columns: list(columnSpec, 'the columns: [{ name, type, ... }]', 1),
    constraints: list(constraintSpec, 'table constraints: [{ name, check | unique | primary_key | foreign_key | exclude }]').optional(),
    comment: z.string({ error: () => 'expected a string (a comment on the table)' }).optional(),
  },
  'create_table: { table, columns, constraints, comment }',
);
export type CreateTableSpec = z.output<typeof createTableSpec>;

/** The primary key a create_table spec declares, inline or as a table constraint. */
function primaryKeyColumns(spec: CreateTableSpec): string[] | undefined {
  const inline = spec.columns.filter((c) => c.primary_key !== undefined).map((c) => c.name);
  if (inline.length > 0) return inline;
  return spec.constraints?.find((c) => c.primary_key !== undefined)?.primary_key?.columns;
}

export const createTable = {
  kind: 'create_table',
  plan(spec: CreateTableSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    requireSchema(ctx, table);
    requireRelationAbsent(ctx, table, 'table', 'pick another name, or drop the existing table first with drop_table');

    const model: TableModel = { schema: table.schema, name: table.name, columns: {} };
    const columnNames = spec.columns.map((c) => c.name);
    const constraints: ConstraintModel[] = [];
    const options: ConstraintContext = {
      columns: columnNames,
      taken: (name) => constraints.some((c) => c.name === name),
      primaryKeyOf: (target) => (target.key === table.key ? primaryKeyColumns(spec) : primaryKeyOf(ctx.schema, target)),
    };
    const definitions: string[] = [];
    const comments: SqlAction[] = [];
    const indexes: IndexModel[] = [];
    const referenced: Rel[] = [];
    let primaryKeys = 0;

    for (const [i, c] of spec.columns.entries()) {
      if (Object.hasOwn(model.columns, c.name)) {
        throw new PlanError(`column ${c.name} appears twice in columns`, `${ctx.path}.columns[${i}]`, 'give each column its own name');
      }
      const col = planColumn(table, c, options);
      setOwn(model.columns, c.name, col.model);
      constraints.push(...col.constraints);
      definitions.push(col.definition);
      indexes.push(...col.indexes);
      referenced.push(...col.references);
      if (col.primaryKey) primaryKeys++;
      if (col.comment !== undefined) comments.push({ sql: col.comment, transactional: true });
    }

    for (const [i, cs] of (spec.constraints ?? []).entries()) {
      const constraint = planConstraint(table, cs, options);
      const missing = constraint.columns.filter((name) => !Object.hasOwn(model.columns, name));
      if (missing.length > 0) {
        throw new PlanError(
          `constraint names column ${missing.join(', ')}, which is not in this table's columns`,
          `${ctx.path}.constraints[${i}]`,
          `columns of ${table.display}: ${Object.keys(model.columns).join(', ')}`,
        );
      }
      definitions.push(constraint.sql);
      constraints.push(constraint.model);
      if (constraint.index !== undefined) indexes.push(constraint.index);
      if (constraint.references !== undefined) referenced.push(constraint.references);
      if (constraint.primaryKey) primaryKeys++;
      for (const name of cs.primary_key?.columns ?? []) {
        const col = getOwn(model.columns, name);
        if (col !== undefined) col.nullable = false;
      }
    }
    if (primaryKeys > 1) {
      throw new PlanError(`table ${table.display} declares ${primaryKeys} primary keys`, ctx.path, 'a table has one primary key: for a composite key use constraints: [{ primary_key: { columns: [a, b] } }]');
    }
    const indexNames = new Set<string>();
    for (const index of indexes) {
      if (indexNames.has(index.name)) {
        throw new PlanError(`two constraints of ${table.display} would both be named ${index.name}`, ctx.path, 'drop the duplicate, or give one of them another name with name:');
      }
      indexNames.add(index.name);
      requireRelationAbsent(ctx, rel(index.schema, index.name), 'index', 'give the constraint another name with name:');
    }
    for (const target of referenced) {
      if (target.key !== table.key) requireTable(ctx, target);
    }

    const forward: SqlAction[] = [{ sql: `CREATE TABLE ${table.sql} (\n  ${definitions.join(',\n  ')}\n)`, transactional: true }];
    if (spec.comment !== undefined) forward.push({ sql: `COMMENT ON TABLE ${table.sql} IS ${quoteLiteral(spec.comment)}`, transactional: true });
    forward.push(...comments);

    const constraintNames = new Set<string>();
    for (const c of constraints) {
      if (constraintNames.has(c.name)) {
        throw new PlanError(`two constraints of ${table.display} would both be named ${c.name}`, ctx.path, 'drop the duplicate, or give one of them another name with name:');
      }
      constraintNames.add(c.name);
      setConstraint(model, c);
    }
    if (spec.comment !== undefined) model.comment = spec.comment;
    setOwn(ctx.schema.tables, table.key, model);
    for (const index of indexes) addIndex(ctx.schema, index);
    if (!ctx.schema.schemas.includes(table.schema)) ctx.schema.schemas.push(table.schema);
    ctx.newTables ??= new Set();
    ctx.newTables.add(table.key);

    return [
      {
        kind: 'create_table',
        summary: `create_table ${table.display}`,
        forward,
        inverse: [{ sql: `DROP TABLE ${table.sql}`, transactional: true }],
        touches: uniq([table.key, ...indexes.map((i) => `${i.schema}.${i.name}`), ...referenced.map((r) => r.key)]),
        risk: Risk.low,
        lint: [],
      },
    ];
  },
} satisfies Operation<CreateTableSpec>;
