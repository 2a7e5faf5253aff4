/**
 * An sql step without a down is rolled back from whole-table snapshots of the tables it
 * writes: the TRUNCATE of the inverse empties them all at once (so foreign keys among
 * them do not stand in the way), then their rows go back, referenced tables first.
 * Restores data, not structure: SQL that also alters a table needs a down.
 */
import { constraintsOf, referencingForeignKeys } from './model-constraints';
import { getOwn, knowsPresence, rel, type Rel } from './model';
import { insertFromSnapshotSql, writableColumns } from './recreate';
import { PlanError, snapshotPlaceholder, type PlanContext, type SqlAction } from './types';

export function restoreTables(ctx: PlanContext, tables: Rel[]): SqlAction[] {
  const order = referencedFirst(ctx, tables);
  const inserts = order.map((table) => {
    const model = knowsPresence(ctx) ? getOwn(ctx.schema.tables, table.key) : undefined;
    const columns = model === undefined ? undefined : writableColumns(model);
    return { sql: insertFromSnapshotSql(table, columns, snapshotPlaceholder(tables.indexOf(table))), transactional: true };
  });
  return [{ sql: `TRUNCATE ${tables.map((t) => t.sql).join(', ')}`, transactional: true }, ...inserts];
}

/** `tables` with each table after the tables (among them) its foreign keys reference. */
export function referencedFirst(ctx: PlanContext, tables: Rel[]): Rel[] {
  const keys = new Set(tables.map((t) => t.key));
  const parents = (t: Rel) =>
    constraintsOf(getOwn(ctx.schema.tables, t.key)).flatMap((c) =>
      c.type === 'foreign_key' && c.references !== undefined && c.references.table !== t.key && keys.has(c.references.table) ? [c.references.table] : [],
    );
  const done: Rel[] = [];
  const visiting = new Set<string>();
  const visit = (t: Rel) => {
    if (done.includes(t) || visiting.has(t.key)) return;
    visiting.add(t.key);
    for (const p of parents(t)) {
      const parent = tables.find((x) => x.key === p);
      if (parent !== undefined) visit(parent);
    }
    done.push(t);
  };
  tables.forEach(visit);
  return done;
}

/** `touches` is trusted, but a foreign key from a table outside it would make the TRUNCATE of the rollback fail. */
export function requireReferencesTouched(ctx: PlanContext, tables: Rel[]): void {
  if (!knowsPresence(ctx)) return;
  const keys = new Set(tables.map((t) => t.key));
  for (const table of tables) {
    const outside = referencingForeignKeys(ctx.schema, table.key).find(({ table: other }) => !keys.has(`${other.schema}.${other.name}`));
    if (outside !== undefined) {
      const from = rel(outside.table.schema, outside.table.name);
      throw new PlanError(
        `${table.display} is referenced by foreign key ${from.display}.${outside.constraint.name}, so rolling back this step (TRUNCATE ${table.display}, then its rows from the snapshot) would fail`,
        ctx.path,
        `add ${from.display} to touches, or give down: SQL that undoes this step`,
      );
    }
  }
}

/** A foreign key action that writes the referencing table when the referenced row changes. */
const WRITING_ACTION = /\bON (?:DELETE|UPDATE) (?:CASCADE|SET NULL|SET DEFAULT)\b/i;

export interface SnapshotSet {
  /** The tables the SQL writes, then the tables that reference them (transitively). */
  tables: Rel[];
  /** Tables added because they reference a written one. */
  referencing: Rel[];
  /** What the model shows a snapshot of these tables would not undo (triggers, views written through...). */
  unknown: string[];
}

/**
 * The tables to snapshot for SQL that writes `written`, as far as the model knows them.
 * Tables that reference a written one are added: a cascading foreign key may change
 * them, and the TRUNCATE of the rollback must include them in any case.
 */
export function snapshotSet(ctx: PlanContext, written: Rel[]): SnapshotSet {
  if (!knowsPresence(ctx)) return { tables: written, referencing: [], unknown: [] };
  const tables = [...written];
  // Tables whose rows this SQL may change: the written ones and those a foreign key action cascades to.
  const changed = new Set(written.map((t) => t.key));
  for (let i = 0; i < tables.length; i++) {
    const table = tables[i]!;
    for (const { table: other, constraint } of referencingForeignKeys(ctx.schema, table.key)) {
      const from = rel(other.schema, other.name);
      if (changed.has(table.key) && WRITING_ACTION.test(constraint.definition)) changed.add(from.key);
      if (!tables.some((t) => t.key === from.key)) tables.push(from);
    }
  }
  const unknown: string[] = [];
  for (const table of written) {
    if (getOwn(ctx.schema.views ?? {}, table.key) !== undefined) unknown.push(`write through view ${table.display}`);
  }
  for (const table of tables) {
    const model = getOwn(ctx.schema.tables, table.key);
    if (model === undefined) continue;
    if (changed.has(table.key)) {
      for (const trigger of Object.values(model.triggers ?? {})) {
        // Replica triggers and disabled ones do not fire in an ordinary session.
        if (trigger.enabled === 'origin' || trigger.enabled === 'always') unknown.push(`trigger ${trigger.name} on ${table.display}`);
      }
    }
    const children = Object.values(ctx.schema.tables).filter((t) => t.inherits?.includes(table.key) === true);
    if (children.length > 0) {
      // SELECT * FROM a parent reads its children's rows too, so they would come back into the parent.
      unknown.push(`${table.display}, a table with inheritance children (${children.map((c) => rel(c.schema, c.name).display).join(', ')})`);
    }
  }
  return { tables, referencing: tables.slice(written.length), unknown };
}
