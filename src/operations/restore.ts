/**
 * Snapshots and the inverse SQL that restores from them (see SnapshotSpec in types.ts).
 * A destructive step declares what to copy; its inverse names the copy with
 * `{{snapshot:N}}`, which the executor binds to the snapshot table.
 */
import { quoteIdent, quoteLiteral } from '../db/ident';
import { SNAPSHOT_SCHEMA } from '../db/schemas';
import type { ColumnModel, SchemaModel, TableModel } from '../db/schema-model';
import { getOwn, type Rel } from './model';
import { snapshotPlaceholder, type ChangesSpec, type LintFinding, type MigratedValue, type SnapshotSpec, type SqlAction } from './types';

/** Copy `columns` of every row (matching `where`) with the row key, to restore them by key. */
export function columnsSnapshot(table: Rel, key: string[], columns: string[], where?: string, migrated?: MigratedValue): SnapshotSpec {
  const spec: SnapshotSpec = { kind: 'columns', schema: table.schema, table: table.name, key, columns };
  if (where !== undefined) spec.where = where;
  if (migrated !== undefined) spec.migrated = migrated;
  return spec;
}

/** A change log of `table` keyed by `key`: of `columns` (a backfill), or of whole rows (an sql step). */
export function changesLog(table: Rel, key: string[], columns: string[] | undefined, capture: ChangesSpec['capture']): ChangesSpec {
  return { kind: 'changes', schema: table.schema, table: table.name, key, ...(columns === undefined ? {} : { columns }), capture };
}

export function tableSnapshot(table: Rel): SnapshotSpec {
  return { kind: 'table', schema: table.schema, table: table.name };
}

/**
 * `UPDATE t AS t SET "c" = s."c" FROM {{snapshot:N}} AS s WHERE t."id" = s."id"`: puts
 * back the snapshot's values of `columns` in the rows it copied, matched by key.
 */
export function updateFromSnapshot(table: Rel, key: string[], columns: string[], n = 0): SqlAction {
  const set = columns.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ');
  const match = key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  return { sql: `UPDATE ${table.sql} AS t SET ${set} FROM ${snapshotPlaceholder(n)} AS s WHERE ${match}`, transactional: true };
}

/**
 * Why the values of `col` cannot be put back by rewriting `table` (see rewriteFromSnapshot),
 * so an UPDATE has to do it; null when the rewrite works. Postgres refuses to rewrite a
 * table whose row type a stored column uses, or with a foreign table among its partitions
 * (introspection records both as `rewriteBlocked`). A table with inheritance children
 * shares its snapshot with their rows, whose keys need not be unique across the hierarchy,
 * so the snapshot could not be given its key.
 */
export function rewriteRestoreProblem(schema: SchemaModel, table: Rel, model: TableModel, col: ColumnModel, key: readonly string[]): string | null {
  if (model.rewriteBlocked !== undefined) return `Postgres cannot rewrite ${table.display}: ${model.rewriteBlocked}`;
  const children = Object.values(schema.tables).filter((t) => t.inherits?.includes(table.key) === true);
  if (children.length > 0) {
    return `${table.display} has inheritance children (${children.map((t) => t.name).join(', ')}) whose rows its snapshot holds too, and their keys need not be unique across them`;
  }
  for (const k of key) {
    const type = getOwn(model.columns, k)?.type;
    if (type === undefined) return `the type of its key column ${k} is not known`;
    // A function's argument and return types take no COLLATE (a type a manifest spelled may carry one).
    if (/\bcollate\b/i.test(type)) return `the type ${type} of its key column ${k} names a collation`;
  }
  if (/\bcollate\b/i.test(col.type)) return `its type ${col.type} names a collation`;
  return null;
}

/** Says that rolling back restores `what` (`users.bio`) with an UPDATE, and why not by a rewrite. */
export function restoreByUpdateNote(what: string, problem: string): LintFinding {
  return {
    level: 'info',
    code: 'restore_by_update',
    message: `rolling back puts back the values of ${what} with an UPDATE of every row, not one table rewrite: ${problem}`,
  };
}

/** FNV-1a, 32 bits, in hex: a short name-safe digest (planning is pure: no node:crypto). */
function digest(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Puts back the snapshot's values of one column with a single table rewrite instead of an
 * UPDATE of every row: the snapshot gets its key (a primary key index), a function looks a
 * row's value up in it by key, and `ALTER COLUMN ... TYPE <its type> USING <function>(key)`
 * rewrites the table with every row's value in place (ALTER TYPE's USING may not hold a
 * subquery, hence the function). Rows the snapshot does not have get NULL, as they would
 * from the UPDATE into a column that is NULL.
 *
 * Against the UPDATE: one new heap and one build of each index instead of a new version of
 * every row and an entry in every index for each; no dead rows left for vacuum; and no user
 * trigger fires, so a trigger cannot change what the restore puts back. It holds ACCESS
 * EXCLUSIVE, like the ADD COLUMN or ALTER TYPE that comes before it in the same transaction.
 *
 * Every statement runs in the compensation's transaction: the snapshot's key and the
 * function are rolled back with it when it fails, so a retry starts from an unkeyed
 * snapshot, and the function is dropped before it commits, so it never outlives the
 * transaction on a pooled connection. NOT NULL is checked by the rewrite itself.
 * Arguments and result are typed as the model has the key columns and the column (a
 * function drops a type's modifier, varchar(200) -> varchar; the rewrite casts the result
 * to the column's full type, which leaves a value that came from that column as it was).
 * `type` is the column's type with its collation (columnType); only use this where
 * rewriteRestoreProblem found nothing.
 */
export function rewriteFromSnapshot(table: Rel, model: TableModel, col: ColumnModel, type: string, key: readonly string[], n = 0, migrated?: MigratedValue): SqlAction[] {
  const snapshot = snapshotPlaceholder(n);
  // In the snapshots' schema, which Godwit owns, rather than pg_temp: a role without the
  // TEMP privilege (often revoked from PUBLIC) can still roll back.
  const fn = `${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(`godwit_restore_${digest(`${table.key}\u0000${col.name}\u0000${n}`)}`)}`;
  const keys = key.map(quoteIdent).join(', ');
  const match = key.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ');
  const tx = (sql: string): SqlAction => ({ sql, transactional: true });
  const keyTypes = key.map((k) => getOwn(model.columns, k)?.type ?? '');
  if (migrated === undefined) {
    const signature = `${fn}(${keyTypes.join(', ')})`;
    const body = `SELECT ${quoteIdent(col.name)} FROM ${snapshot} WHERE ${match}`;
    return [
      tx(`ALTER TABLE ${snapshot} ADD PRIMARY KEY (${keys})`),
      tx(`CREATE FUNCTION ${signature} RETURNS ${col.type} LANGUAGE sql STABLE AS ${quoteLiteral(body)}`),
      tx(`ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(col.name)} TYPE ${type} USING ${fn}(${keys})`),
      tx(`DROP FUNCTION ${signature}`),
    ];
  }
  // The column still holds values (its type changed). The snapshot's value goes back only
  // where the row still holds what the step wrote from it; a row the snapshot does not have
  // (inserted since), or whose value the application has changed since, keeps its value,
  // cast back to the old type. One probe of the snapshot's key per row: the rewrite calls
  // this for every row under its lock. The step's expression names the snapshot's columns.
  const current = `$${key.length + 1}`;
  const signature = `${fn}(${[...keyTypes, migrated.type].join(', ')})`;
  const probe = key.map((k, i) => `s.${quoteIdent(k)} = $${i + 1}`).join(' AND ');
  const body =
    `SELECT CASE WHEN s.${quoteIdent(key[0]!)} IS NOT NULL AND ${current}::text IS NOT DISTINCT FROM (${migrated.expression})::${migrated.type}::text ` +
    `THEN s.${quoteIdent(col.name)} ELSE ${current}::${col.type} END ` +
    `FROM (VALUES (1)) AS godwit_one (godwit_x) LEFT JOIN ${snapshot} AS s ON ${probe}`;
  return [
    tx(`ALTER TABLE ${snapshot} ADD PRIMARY KEY (${keys})`),
    tx(`CREATE FUNCTION ${signature} RETURNS ${col.type} LANGUAGE sql STABLE AS ${quoteLiteral(body)}`),
    tx(`ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(col.name)} TYPE ${type} USING ${fn}(${keys}, ${quoteIdent(col.name)})`),
    tx(`DROP FUNCTION ${signature}`),
  ];
}
