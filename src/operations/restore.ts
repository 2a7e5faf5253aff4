/**
 * Snapshots and the inverse SQL that restores from them (see SnapshotSpec in types.ts).
 * A destructive step declares what to copy; its inverse names the copy with
 * `{{snapshot:N}}`, which the executor binds to the snapshot table.
 */
import { quoteIdent } from '../db/ident';
import type { Rel } from './model';
import { snapshotPlaceholder, type SnapshotSpec, type SqlAction } from './types';

/** Copy `columns` of every row (matching `where`) with the row key, to restore them by key. */
export function columnsSnapshot(table: Rel, key: string[], columns: string[], where?: string): SnapshotSpec {
  const spec: SnapshotSpec = { kind: 'columns', schema: table.schema, table: table.name, key, columns };
  if (where !== undefined) spec.where = where;
  return spec;
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
