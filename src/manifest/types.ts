import type { Check, MigrationPolicy } from '../contract/migration';
import type { AddColumnSpec } from '../operations/add-column';
import type { AddConstraintSpec } from '../operations/add-constraint';
import type { AlterColumnTypeSpec } from '../operations/alter-column-type';
import type { BackfillSpec } from '../operations/backfill';
import type { CreateEnumSpec } from '../operations/create-enum';
import type { CreateIndexSpec } from '../operations/create-index';
import type { CreateTableSpec } from '../operations/create-table';
import type { CreateViewSpec } from '../operations/create-view';
import type { DropColumnSpec } from '../operations/drop-column';
import type { DropConstraintSpec } from '../operations/drop-constraint';
import type { DropDefaultSpec } from '../operations/drop-default';
import type { DropEnumSpec } from '../operations/drop-enum';
import type { DropIndexSpec } from '../operations/drop-index';
import type { DropNotNullSpec } from '../operations/drop-not-null';
import type { DropTableSpec } from '../operations/drop-table';
import type { DropViewSpec } from '../operations/drop-view';
import type { RenameColumnSpec } from '../operations/rename-column';
import type { RenameConstraintSpec } from '../operations/rename-constraint';
import type { RenameTableSpec } from '../operations/rename-table';
import type { SetCommentSpec } from '../operations/set-comment';
import type { SetDefaultSpec } from '../operations/set-default';
import type { SetNotNullSpec } from '../operations/set-not-null';
import type { SetReplicaIdentitySpec } from '../operations/set-replica-identity';
import type { SqlSpec } from '../operations/sql';

/** A manifest's checks and policy are the contract's Check and MigrationPolicy: the workflow gets them as they are. */
export type { Check };
export type Policy = MigrationPolicy;

export const DEFAULT_POLICY: Policy = { approval: 'auto', bake_seconds: 0, lock_timeout: '5s', statement_timeout: '0' };

/** Each operation kind's spec, by the key it has in a manifest. */
export interface OperationSpecs {
  create_table: CreateTableSpec;
  drop_table: DropTableSpec;
  rename_table: RenameTableSpec;
  add_column: AddColumnSpec;
  drop_column: DropColumnSpec;
  rename_column: RenameColumnSpec;
  alter_column_type: AlterColumnTypeSpec;
  set_not_null: SetNotNullSpec;
  drop_not_null: DropNotNullSpec;
  set_default: SetDefaultSpec;
  drop_default: DropDefaultSpec;
  set_comment: SetCommentSpec;
  set_replica_identity: SetReplicaIdentitySpec;
  create_index: CreateIndexSpec;
  drop_index: DropIndexSpec;
  add_constraint: AddConstraintSpec;
  drop_constraint: DropConstraintSpec;
  rename_constraint: RenameConstraintSpec;
  create_enum: CreateEnumSpec;
  drop_enum: DropEnumSpec;
  create_view: CreateViewSpec;
  drop_view: DropViewSpec;
  backfill: BackfillSpec;
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

const DURATION_UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A policy duration (`'5s'`, `'500ms'`, `'2min'`, as the manifest schema normalises them) in
 * milliseconds, or null when it is not one. Postgres reads a bare number as milliseconds for
 * lock_timeout and statement_timeout, so does this.
 */
export function durationMs(value: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|h|d)?$/.exec(value.replace(/\s+/g, ''));
  if (m === null) return null;
  return Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? 'ms'] ?? 1);
}
