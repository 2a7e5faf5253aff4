/**
 * The registry of operation kinds and the manifest planner. Adding a kind: write
 * src/operations/<kind>.ts, add its spec type to OperationSpecs
 * (src/manifest/types.ts) and its entry here; the compiler checks both agree.
 */
import type { z } from 'zod';
import { cloneSchemaModel, emptySchemaModel, type SchemaModel } from '../db/schema-model';
import { durationMs, type Manifest, type OperationKind, type OperationSpec, type OperationSpecs } from '../manifest/types';
import { addColumn, addColumnSpec } from './add-column';
import { addConstraint, addConstraintSpec } from './add-constraint';
import { alterColumnType, alterColumnTypeSpec } from './alter-column-type';
import { backfill, backfillSpec } from './backfill';
import { createEnum, createEnumSpec } from './create-enum';
import { createIndex, createIndexSpec } from './create-index';
import { createTable, createTableSpec } from './create-table';
import { createView, createViewSpec } from './create-view';
import { dropColumn, dropColumnSpec } from './drop-column';
import { dropConstraint, dropConstraintSpec } from './drop-constraint';
import { dropDefault, dropDefaultSpec } from './drop-default';
import { dropEnum, dropEnumSpec } from './drop-enum';
import { dropIndex, dropIndexSpec } from './drop-index';
import { dropNotNull, dropNotNullSpec } from './drop-not-null';
import { dropTable, dropTableSpec } from './drop-table';
import { dropView, dropViewSpec } from './drop-view';
import { renameColumn, renameColumnSpec } from './rename-column';
import { renameConstraint, renameConstraintSpec } from './rename-constraint';
import { renameTable, renameTableSpec } from './rename-table';
import { SqlParserNotLoadedError, sqlParserLoaded } from './sql-parser';
import { setComment, setCommentSpec } from './set-comment';
import { setDefault, setDefaultSpec } from './set-default';
import { setNotNull, setNotNullSpec } from './set-not-null';
import { setReplicaIdentity, setReplicaIdentitySpec } from './set-replica-identity';
import { sql, sqlSpec } from './sql';
import type { Operation, PlanContext, PlannedStep } from './types';

export interface OperationEntry<Spec> {
  operation: Operation<Spec>;
  /** Validates and normalises the spec (defaults applied). */
  spec: z.ZodType<Spec>;
}

/** In the order of DESIGN.md's operation reference (error messages list them so). */
export const operationKinds: { [K in OperationKind]: OperationEntry<OperationSpecs[K]> } = {
  create_table: { operation: createTable, spec: createTableSpec },
  drop_table: { operation: dropTable, spec: dropTableSpec },
  rename_table: { operation: renameTable, spec: renameTableSpec },
  add_column: { operation: addColumn, spec: addColumnSpec },
  drop_column: { operation: dropColumn, spec: dropColumnSpec },
  rename_column: { operation: renameColumn, spec: renameColumnSpec },
  alter_column_type: { operation: alterColumnType, spec: alterColumnTypeSpec },
  set_not_null: { operation: setNotNull, spec: setNotNullSpec },
  drop_not_null: { operation: dropNotNull, spec: dropNotNullSpec },
  set_default: { operation: setDefault, spec: setDefaultSpec },
  drop_default: { operation: dropDefault, spec: dropDefaultSpec },
  set_comment: { operation: setComment, spec: setCommentSpec },
  set_replica_identity: { operation: setReplicaIdentity, spec: setReplicaIdentitySpec },
  create_index: { operation: createIndex, spec: createIndexSpec },
  drop_index: { operation: dropIndex, spec: dropIndexSpec },
  add_constraint: { operation: addConstraint, spec: addConstraintSpec },
  drop_constraint: { operation: dropConstraint, spec: dropConstraintSpec },
  rename_constraint: { operation: renameConstraint, spec: renameConstraintSpec },
  create_enum: { operation: createEnum, spec: createEnumSpec },
  drop_enum: { operation: dropEnum, spec: dropEnumSpec },
  create_view: { operation: createView, spec: createViewSpec },
  drop_view: { operation: dropView, spec: dropViewSpec },
  backfill: { operation: backfill, spec: backfillSpec },
  sql: { operation: sql, spec: sqlSpec },
};

export const knownKinds = Object.keys(operationKinds) as OperationKind[];

export function isOperationKind(kind: string): kind is OperationKind {
  return Object.hasOwn(operationKinds, kind);
}

/** The kind and spec of one manifest operation. */
export function operationEntry(op: OperationSpec): { kind: OperationKind; spec: OperationSpecs[OperationKind] } {
  const [kind, spec] = Object.entries(op)[0] as [OperationKind, OperationSpecs[OperationKind]];
  return { kind, spec };
}

function planOne<K extends OperationKind>(kind: K, spec: OperationSpecs[K], ctx: PlanContext) {
  return operationKinds[kind].operation.plan(spec, ctx);
}

export interface PlanOptions {
  /**
   * The schema is not the real database (default: true when no schema is given),
   * so checks that an object is absent are skipped. See PlanContext.offline.
   */
  offline?: boolean;
}

function lockTimeoutOf(manifest: Manifest): { lockTimeoutMs?: number } {
  const ms = manifest.policy === undefined ? null : durationMs(manifest.policy.lock_timeout);
  return ms === null ? {} : { lockTimeoutMs: ms };
}

/**
 * Plans every operation in order against a copy of `schema` (or an empty model for
 * an offline plan). Each planner evolves the model, so later operations see earlier
 * ones. Throws PlanError, with the operation's path, when an operation cannot apply.
 * Reading `sql` steps, and the index and constraint definitions in the model, needs the SQL
 * parser: await loadSqlParser() first (it throws SqlParserNotLoadedError otherwise).
 */
export function planManifest(manifest: Manifest, schema?: SchemaModel, options: PlanOptions = {}): PlannedStep[] {
  return planManifestWithModel(manifest, schema, options).steps;
}

/**
 * planManifest, also returning the schema as the plan leaves it (`schema` itself is not
 * changed): a directory's later manifests are planned against it, as they would find the
 * database once the earlier ones are applied.
 */
export function planManifestWithModel(manifest: Manifest, schema?: SchemaModel, options: PlanOptions = {}): { steps: PlannedStep[]; after: SchemaModel } {
  const ctx: PlanContext = {
    schema: schema === undefined ? emptySchemaModel() : cloneSchemaModel(schema),
    path: '',
    offline: options.offline ?? schema === undefined,
    newTables: new Set(),
    newColumns: new Map(),
    ...lockTimeoutOf(manifest),
  };
  const steps: PlannedStep[] = [];
  manifest.operations.forEach((op, i) => {
    const { kind, spec } = operationEntry(op);
    ctx.path = `operations[${i}].${kind}`;
    for (const draft of planOne(kind, spec, ctx)) {
      const index = steps.length + 1;
      steps.push({ id: `${index}-${draft.kind}`, index, ...draft });
    }
  });
  return { steps, after: ctx.schema };
}

/**
 * Whether planning `manifest` offline (against an empty model) reads SQL with the parser:
 * its `sql` steps, and the definitions of indexes and constraints that it creates and then
 * renames something in, or drops a column of. Then await loadSqlParser() first. Planning is
 * pure and takes well under a millisecond, so the latter is found by trying.
 */
export function needsSqlParser(manifest: Manifest): boolean {
  if (manifest.operations.some((op) => operationEntry(op).kind === 'sql')) return true;
  if (sqlParserLoaded()) return false;
  try {
    planManifest(manifest, emptySchemaModel(), { offline: true });
    return false;
  } catch (err) {
    return err instanceof SqlParserNotLoadedError;
  }
}

export * from './types';
export { loadSqlParser, SqlParserNotLoadedError, SqlSyntaxError } from './sql-parser';
export { writtenTables, type TableName, type WrittenTables } from './sql-tables';
