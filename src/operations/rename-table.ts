import { z } from 'zod';
import { parseQualifiedName, quoteIdent } from '../db/ident';
import { retargetTable } from './definitions';
import { qualifiedName, strict } from './fields';
import { getOwn, rel, relFromText, requireRelationAbsent, requireTable, setOwn, tableIndexes, type Rel } from './model';
import { constraintsOf } from './model-constraints';
import { PlanError, Risk, type Operation, type PlanContext } from './types';

export const renameTableSpec = strict(
  {
    from: qualifiedName('the table to rename, e.g. users or billing.invoices'),
    to: qualifiedName('the new name; the table stays in its schema'),
  },
  'rename_table: { from, to }',
);
export type RenameTableSpec = z.output<typeof renameTableSpec>;

/** Moves everything the model keys or names by the table (indexes, foreign keys, new-object sets). */
function renameInModel(ctx: PlanContext, from: Rel, to: Rel): void {
  const model = getOwn(ctx.schema.tables, from.key);
  if (model !== undefined) {
    delete ctx.schema.tables[from.key];
    setOwn(ctx.schema.tables, to.key, { ...model, name: to.name });
  }
  for (const [, index] of tableIndexes(ctx.schema, from.key)) {
    index.table = to.key;
    index.definition = retargetTable(index.definition, from, to);
  }
  for (const table of Object.values(ctx.schema.tables)) {
    for (const c of constraintsOf(table)) {
      if (c.references?.table !== from.key) continue;
      c.references.table = to.key;
      c.definition = retargetTable(c.definition, from, to);
    }
  }
  if (ctx.newTables?.delete(from.key) === true) ctx.newTables.add(to.key);
  const columns = ctx.newColumns?.get(from.key);
  if (columns !== undefined) {
    ctx.newColumns?.delete(from.key);
    ctx.newColumns?.set(to.key, columns);
  }
}

export const renameTable = {
  kind: 'rename_table',
  plan(spec: RenameTableSpec, ctx: PlanContext) {
    const from = relFromText(spec.from);
    const target = parseQualifiedName(spec.to, from.schema);
    if (target.schema !== from.schema) {
      throw new PlanError(
        `rename_table cannot move ${from.display} from schema ${from.schema} to schema ${target.schema}`,
        ctx.path,
        `give to: the new name within ${from.schema}; moving a table to another schema needs an sql operation (ALTER TABLE ... SET SCHEMA)`,
      );
    }
    const to = rel(target.schema, target.name);
    if (to.key === from.key) throw new PlanError(`rename_table renames ${from.display} to the same name`, ctx.path, 'set to: to the new name, or remove the operation');
    requireTable(ctx, from);
    requireRelationAbsent(ctx, to, 'table', 'pick another name, or drop the existing one first');
    renameInModel(ctx, from, to);

    const renameSql = (a: Rel, b: Rel) => `ALTER TABLE ${a.sql} RENAME TO ${quoteIdent(b.name)}`;
    return [
      {
        kind: 'rename_table',
        summary: `rename_table ${from.display} to ${to.name}`,
        forward: [{ sql: renameSql(from, to), transactional: true }],
        inverse: [{ sql: renameSql(to, from), transactional: true }],
        touches: [from.key, to.key],
        risk: Risk.medium,
        lint: [
          {
            level: 'warning',
            code: 'breaks_clients',
            message: `application code that still uses ${from.display} fails once it is renamed; deploy code that handles both names first (a view named ${from.name} can bridge the gap)`,
          },
        ],
      },
    ];
  },
} satisfies Operation<RenameTableSpec>;
