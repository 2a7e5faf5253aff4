import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { RETIRED_SCHEMA } from '../db/schemas';
import type { IndexModel, SequenceModel, TableModel } from '../db/schema-model';
import { qualifiedName, strict } from './fields';
import { getOwn, isNewTable, knowsPresence, rel, relFromText, requireTable, tableIndexes, uniq, type Rel } from './model';
import { constraintDisplay, constraintsOf, referencingForeignKeys } from './model-constraints';
import { fromCatalogNote } from './notes';
import { recreateProblem, recreateTableSql } from './recreate';
import { lockSql, retiredForeignKeys, retiredNote, tableGuardSql } from './retire';
import { PlanError, retiredPlaceholder, Risk, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

export const dropTableSpec = strict(
  { table: qualifiedName('the table to drop, e.g. users or billing.invoices') },
  'drop_table: { table }',
);
export type DropTableSpec = z.output<typeof dropTableSpec>;

const tx = (sql: string): SqlAction => ({ sql, transactional: true });

/** Sequences the table's columns own (serial and identity): SET SCHEMA moves them with it (Postgres keeps them in the table's schema). */
function ownedSequences(model: TableModel): SequenceModel[] {
  const seen = new Set<string>();
  return Object.values(model.sequences ?? {}).filter((s) => !seen.has(`${s.schema}.${s.name}`) && seen.add(`${s.schema}.${s.name}`));
}

/**
 * Moves the table into schema godwit_retired under its retired name. Its indexes and owned
 * sequences move with it, so they are renamed first (to retired names `{{retired:1}}`...,
 * after the table's own `{{retired:0}}`, unrecorded: they go with the table): two retired
 * tables may well both have a `users_pkey`. Rolling back moves it back and renames all of
 * them back; constraints follow their index's name.
 */
function retireSql(table: Rel, indexes: IndexModel[], sequences: SequenceModel[]): { forward: SqlAction[]; inverse: SqlAction[] } {
  const retired = retiredPlaceholder(0);
  const inSchema = (name: string) => `${quoteIdent(table.schema)}.${name}`;
  const renames = [
    ...indexes.map((i, n) => ({ kind: 'INDEX', name: i.name, retired: retiredPlaceholder(1 + n) })),
    ...sequences.map((s, n) => ({ kind: 'SEQUENCE', name: s.name, retired: retiredPlaceholder(1 + indexes.length + n) })),
  ];
  return {
    forward: [
      lockSql(table),
      tableGuardSql(table),
      ...renames.map((r) => tx(`ALTER ${r.kind} ${inSchema(quoteIdent(r.name))} RENAME TO ${r.retired}`)),
      tx(`ALTER TABLE ${table.sql} RENAME TO ${retired}`),
      tx(`ALTER TABLE ${inSchema(retired)} SET SCHEMA ${quoteIdent(RETIRED_SCHEMA)}`),
    ],
    inverse: [
      tx(`ALTER TABLE ${quoteIdent(RETIRED_SCHEMA)}.${retired} SET SCHEMA ${quoteIdent(table.schema)}`),
      tx(`ALTER TABLE ${inSchema(retired)} RENAME TO ${quoteIdent(table.name)}`),
      ...renames.map((r) => tx(`ALTER ${r.kind} ${inSchema(r.retired)} RENAME TO ${quoteIdent(r.name)}`)),
    ],
  };
}

export const dropTable = {
  kind: 'drop_table',
  plan(spec: DropTableSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    if (knowsPresence(ctx)) {
      const from = referencingForeignKeys(ctx.schema, table.key).find(({ table: other }) => other !== model);
      if (from !== undefined) {
        throw new PlanError(
          `table ${table.display} is referenced by foreign key ${constraintDisplay(rel(from.table.schema, from.table.name), from.constraint.name)}`,
          ctx.path,
          'drop that constraint first with drop_constraint (rolling back re-adds it), or drop the referencing table first',
        );
      }
    }
    const children = Object.values(ctx.schema.tables).filter((t) => t.inherits?.includes(table.key) === true);
    if (knowsPresence(ctx) && children.length > 0) {
      throw new PlanError(
        `table ${table.display} has inheritance children (${children.map((t) => rel(t.schema, t.name).display).join(', ')}), so DROP TABLE would refuse it`,
        ctx.path,
        'drop the children first with drop_table, or detach them with an sql operation (ALTER TABLE child NO INHERIT parent)',
      );
    }
    const indexes = tableIndexes(ctx.schema, table.key);

    const draft: StepDraft = {
      kind: 'drop_table',
      summary: `drop_table ${table.display}`,
      forward: [tx(`DROP TABLE ${table.sql}`)],
      inverse: null,
      touches: uniq([table.key, ...indexes.map(([key]) => key)]),
      risk: Risk.high,
      lint: [],
    };
    const retire = (m: TableModel | undefined) => {
      const { forward, inverse } = retireSql(table, indexes.map(([, i]) => i), m === undefined ? [] : ownedSequences(m));
      draft.forward = forward;
      draft.inverse = inverse;
      draft.retire = [{ kind: 'table', schema: table.schema, table: table.name }];
      const outgoing = constraintsOf(m).filter((c) => c.type === 'foreign_key' && c.references?.table !== table.key);
      const fk = retiredForeignKeys(outgoing);
      draft.lint.push(
        { level: 'warning', code: 'destructive', message: `drops table ${table.display}: the application loses it at once, its rows go when it is purged` },
        retiredNote(
          `table ${table.display} is moved into schema ${RETIRED_SCHEMA} under a retired name, its indexes and sequences renamed with it, instead of being dropped`,
          `it keeps its disk space${fk === null ? '' : ' and its foreign keys to other tables'}`,
        ),
        ...(fk === null ? [] : [fk]),
      );
    };

    const destructive = { level: 'warning', code: 'destructive', message: `drops table ${table.display} and all its rows` } as const;
    const problem = model === undefined ? null : recreateProblem(model);
    if (model === undefined) {
      retire(undefined);
      draft.inverse = null;
      draft.inverseNote = fromCatalogNote(`table ${table.display}`);
    } else if (problem !== null) {
      draft.inverseNote = `table ${table.display} cannot be recreated on rollback: ${problem}`;
      draft.lint.push(destructive, { level: 'error', code: 'not_restorable', message: `rolling back cannot restore ${table.display}: ${problem}` });
    } else if (isNewTable(ctx, table.key)) {
      // A table this migration created holds only rows it wrote: its own inverse drops it.
      draft.lint.push(destructive);
      draft.inverse = recreateTableSql(ctx.schema, table, model);
    } else {
      retire(model);
    }

    if (getOwn(ctx.schema.tables, table.key) !== undefined) delete ctx.schema.tables[table.key];
    for (const [key] of indexes) delete ctx.schema.indexes[key];
    ctx.newTables?.delete(table.key);
    ctx.newColumns?.delete(table.key);
    return [draft];
  },
} satisfies Operation<DropTableSpec>;
