import { z } from 'zod';
import { parseQualifiedName, quoteIdent, quoteQualified } from '../db/ident';
import type { IndexModel } from '../db/schema-model';
import { accessMethod } from './constraint';
import { choice, expression, flag, friendly, identifier, list, qualifiedName, strict } from './fields';
import { createIndexSql } from './index-def';
import { addIndex, isNewTable, rel, relFromText, requireColumn, requireRelationAbsent, requireTable } from './model';
import { defaultIndexName, indexColumnNames } from './naming';
import { Risk, type LintFinding, type Operation, type PlanContext } from './types';

/** A column name, or `{ column | expression, opclass, collation, order, nulls }`. */
export const indexColumnSpec = z.preprocess(
  (v) => (typeof v === 'string' ? { column: v } : v),
  strict(
    {
      column: identifier('a column name').optional(),
      expression: expression('an index expression, e.g. lower(email)').optional(),
      opclass: qualifiedName('an operator class, e.g. text_pattern_ops').optional(),
      collation: qualifiedName('a collation, e.g. C').optional(),
      order: choice(['asc', 'desc'] as const, 'the sort order').optional(),
      nulls: choice(['first', 'last'] as const, 'where NULLs sort').optional(),
    },
    'an index column',
    'a column name or { column | expression, opclass, collation, order, nulls }',
  ).check((ctx) => {
    if ((ctx.value.column === undefined) === (ctx.value.expression === undefined)) {
      ctx.issues.push({ code: 'custom', message: 'give exactly one of column or expression', input: ctx.value });
    }
  }),
);
export type IndexColumnSpec = z.output<typeof indexColumnSpec>;

/** `WITH (...)` parameters: lower-case names, values numbers, booleans or words. */
const storageSpec = z
  .record(z.string(), z.union([z.number(), z.boolean(), z.string()]), {
    error: friendly('a mapping of storage parameters', 'e.g. { fillfactor: 70 }'),
  })
  .check((ctx) => {
    for (const key of Object.keys(ctx.value)) {
      if (!/^[a-z][a-z0-9_]*$/.test(key)) {
        ctx.issues.push({ code: 'custom', message: `'${key}' is not a storage parameter name (lower-case letters, digits and _, e.g. fillfactor)`, input: ctx.value, path: [key] });
      }
    }
  });

export const createIndexSpec = strict(
  {
    table: qualifiedName('the indexed table, e.g. users or billing.invoices'),
    columns: list(indexColumnSpec, 'the indexed columns: [email] or [{ expression: lower(email) }]', 1),
    name: identifier('the index name (default: the name Postgres would choose)').optional(),
    unique: flag('whether the index is unique').optional(),
    method: accessMethod().optional(),
    where: expression('a predicate for a partial index').optional(),
    include: list(identifier('a column name'), 'extra columns stored in the index').optional(),
    storage: storageSpec.optional(),
    concurrently: flag('build without blocking writes (CREATE INDEX CONCURRENTLY)').optional(),
  },
  'create_index: { table, columns, name, unique, method, where, include, storage, concurrently }',
);
export type CreateIndexSpec = z.output<typeof createIndexSpec>;

/** Quotes an operator class or collation, which may be schema-qualified. */
function quoteMaybeQualified(text: string): string {
  const q = parseQualifiedName(text, '');
  return q.schema === '' ? quoteIdent(q.name) : quoteQualified(q);
}

export function renderIndexColumn(c: IndexColumnSpec): string {
  let sql = c.column !== undefined ? quoteIdent(c.column) : `(${c.expression ?? ''})`;
  if (c.collation !== undefined) sql += ` COLLATE ${quoteMaybeQualified(c.collation)}`;
  if (c.opclass !== undefined) sql += ` ${quoteMaybeQualified(c.opclass)}`;
  if (c.order !== undefined) sql += ` ${c.order.toUpperCase()}`;
  if (c.nulls !== undefined) sql += ` NULLS ${c.nulls.toUpperCase()}`;
  return sql;
}

export const createIndex = {
  kind: 'create_index',
  plan(spec: CreateIndexSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    for (const c of spec.columns) if (c.column !== undefined) requireColumn(ctx, table, model, c.column);
    for (const name of spec.include ?? []) requireColumn(ctx, table, model, name);

    const named = spec.columns.map((c) => (c.column !== undefined ? { column: c.column } : { expression: c.expression ?? '' }));
    const name = spec.name ?? defaultIndexName(table.name, indexColumnNames(named), 'index');
    const index = rel(table.schema, name);
    const concurrently = spec.concurrently === true;
    // An INVALID index of this name on this table is what an interrupted concurrent build
    // leaves behind; the executor drops it before building, so it is no conflict.
    const leftover = ctx.schema.indexes[index.key];
    const debris = concurrently && leftover !== undefined && !leftover.valid && !leftover.constraint && leftover.table === table.key;
    if (debris) delete ctx.schema.indexes[index.key];
    else requireRelationAbsent(ctx, index, 'index', 'give the index another name with name:, or drop the existing one first with drop_index');

    const statement = {
      name,
      table,
      unique: spec.unique,
      method: spec.method,
      elements: spec.columns.map(renderIndexColumn),
      include: spec.include,
      storage: spec.storage,
      where: spec.where,
    };

    const lint: LintFinding[] = [];
    if (debris) {
      lint.push({ level: 'info', code: 'invalid-index-rebuilt', message: `an INVALID index ${index.display} left by an interrupted build will be dropped and built again` });
    }
    let risk: Risk = Risk.low;
    if (!concurrently && !isNewTable(ctx, table.key)) {
      risk = Risk.medium;
      lint.push({
        level: 'warning',
        code: 'blocking_index_build',
        message: `building ${name} without concurrently blocks writes to ${table.display} until it finishes; set concurrently: true`,
      });
    }

    const model_: IndexModel = {
      schema: table.schema,
      name,
      table: table.key,
      definition: createIndexSql(statement),
      unique: spec.unique === true,
      valid: true,
      constraint: false,
    };
    addIndex(ctx.schema, model_);

    return [
      {
        kind: 'create_index',
        summary: `create_index ${name} on ${table.display}`,
        forward: [{ sql: createIndexSql({ ...statement, concurrently }), transactional: !concurrently }],
        inverse: [
          concurrently
            ? { sql: `DROP INDEX CONCURRENTLY IF EXISTS ${index.sql}`, transactional: false }
            : { sql: `DROP INDEX ${index.sql}`, transactional: true },
        ],
        touches: [table.key, index.key],
        risk,
        lint,
        ...(concurrently
          ? {
              probe: { kind: 'index_exists', schema: table.schema, name },
              inverseProbe: { kind: 'index_absent', schema: table.schema, name },
            }
          : {}),
      },
    ];
  },
} satisfies Operation<CreateIndexSpec>;
