import type { AddColumnSpec } from '../operations/add-column';
import type { CreateIndexSpec } from '../operations/create-index';
import type { CreateTableSpec } from '../operations/create-table';
import type { DropColumnSpec } from '../operations/drop-column';
import type { DropIndexSpec } from '../operations/drop-index';
import type { DropTableSpec } from '../operations/drop-table';
import type { RenameColumnSpec } from '../operations/rename-column';
import type { SqlSpec } from '../operations/sql';

/** A named SQL query that must return true (pre: before any step; post: after the last). */
export interface Check {
  name: string;
  sql: string;
}

/**
 * How a migration is run. Timeouts are Postgres setting values: `'5s'`, `'500ms'`,
 * `'2min'`; an integer in the manifest means milliseconds and is kept as `'<n>ms'`.
 * Defaults: approval `auto` (risk decides), bake_seconds `0` (no bake window),
 * lock_timeout `'5s'` (a DDL step waiting longer for its lock gives up and is
 * retried, instead of queueing the application's queries behind it),
 * statement_timeout `'0'` (no limit: index builds and big rewrites legitimately
 * run long; the lock timeout is what protects the application).
 */
export interface Policy {
  approval: 'auto' | 'required' | 'never';
  bake_seconds: number;
  lock_timeout: string;
  statement_timeout: string;
}

export const DEFAULT_POLICY: Policy = { approval: 'auto', bake_seconds: 0, lock_timeout: '5s', statement_timeout: '0' };

/** Each operation kind's spec, by the key it has in a manifest. */
export interface OperationSpecs {
  create_table: CreateTableSpec;
  drop_table: DropTableSpec;
  add_column: AddColumnSpec;
  drop_column: DropColumnSpec;
  rename_column: RenameColumnSpec;
  create_index: CreateIndexSpec;
  drop_index: DropIndexSpec;
  sql: SqlSpec;
}

export type OperationKind = keyof OperationSpecs;

/** One operation as written in the manifest: exactly one key, the kind. */
export type OperationSpec = { [K in OperationKind]: { [P in K]: OperationSpecs[K] } }[OperationKind];

export interface Manifest {
  id: string;
  description: string;
  operations: OperationSpec[];
  checks: { pre: Check[]; post: Check[] };
  policy: Policy;
}

export interface LoadedManifest {
  file: string;
  manifest: Manifest;
  /** `sha256:<hex>` over the manifest's canonical form (see canonical.ts). */
  checksum: string;
}
