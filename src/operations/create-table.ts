import { z } from 'zod';
import { quoteLiteral } from '../db/ident';
import type { IndexModel, TableModel } from '../db/schema-model';
import { columnSpec, planColumn } from './column';
import { constraintSpec, planConstraint } from './constraint';
import { list, qualifiedName, strict } from './fields';
import { addIndex, getOwn, rel, relFromText, requireRelationAbsent, requireSchema, requireTable, setOwn, uniq, type Rel } from './model';
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

export const createTable = {
  kind: 'create_table',
  plan(spec: CreateTableSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    requireSchema(ctx, table);
    requireRelationAbsent(ctx, table, 'table', 'pick another name, or drop the existing table first with drop_table');

    const model: TableModel = { schema: table.schema, name: table.name, columns: {} };
    const definitions: string[] = [];
    const comments: SqlAction[] = [];
    const indexes: IndexModel[] = [];
    const referenced: Rel[] = [];
    let primaryKeys = 0;

    for (const [i, c] of spec.columns.entries()) {
      if (Object.hasOwn(model.columns, c.name)) {
        throw new PlanError(`column ${c.name} appears twice in columns`, `${ctx.path}.columns[${i}]`, 'give each column its own name');
      }
      const col = planColumn(table, c);
      setOwn(model.columns, c.name, col.model);
      definitions.push(col.definition);
      indexes.push(...col.indexes);
      referenced.push(...col.references);
      if (col.primaryKey) primaryKeys++;
      if (col.comment !== undefined) comments.push({ sql: col.comment, transactional: true });
    }

    for (const [i, cs] of (spec.constraints ?? []).entries()) {
      const constraint = planConstraint(table, cs);
      const missing = constraint.columns.filter((name) => !Object.hasOwn(model.columns, name));
      if (missing.length > 0) {
        throw new PlanError(
          `constraint names column ${missing.join(', ')}, which is not in this table's columns`,
          `${ctx.path}.constraints[${i}]`,
          `columns of ${table.display}: ${Object.keys(model.columns).join(', ')}`,
        );
      }
      definitions.push(constraint.sql);
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
