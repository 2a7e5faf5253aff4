/**
 * The registry of operation kinds and the manifest planner. Adding a kind: write
 * src/operations/<kind>.ts, add its spec type to OperationSpecs
 * (src/manifest/types.ts) and its entry here; the compiler checks both agree.
 */
import type { z } from 'zod';
import { cloneSchemaModel, emptySchemaModel, type SchemaModel } from '../db/schema-model';
import type { Manifest, OperationKind, OperationSpec, OperationSpecs } from '../manifest/types';
import { addColumn, addColumnSpec } from './add-column';
import { createIndex, createIndexSpec } from './create-index';
import { createTable, createTableSpec } from './create-table';
import { dropColumn, dropColumnSpec } from './drop-column';
import { dropIndex, dropIndexSpec } from './drop-index';
import { dropTable, dropTableSpec } from './drop-table';
import { renameColumn, renameColumnSpec } from './rename-column';
import { sql, sqlSpec } from './sql';
import type { Operation, PlanContext, PlannedStep } from './types';

export interface OperationEntry<Spec> {
  operation: Operation<Spec>;
  /** Validates and normalises the spec (defaults applied). */
  spec: z.ZodType<Spec>;
}

export const operationKinds: { [K in OperationKind]: OperationEntry<OperationSpecs[K]> } = {
  create_table: { operation: createTable, spec: createTableSpec },
  drop_table: { operation: dropTable, spec: dropTableSpec },
  add_column: { operation: addColumn, spec: addColumnSpec },
  drop_column: { operation: dropColumn, spec: dropColumnSpec },
  rename_column: { operation: renameColumn, spec: renameColumnSpec },
  create_index: { operation: createIndex, spec: createIndexSpec },
  drop_index: { operation: dropIndex, spec: dropIndexSpec },
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

/**
 * Plans every operation in order against a copy of `schema` (or an empty model for
 * an offline plan). Each planner evolves the model, so later operations see earlier
 * ones. Throws PlanError, with the operation's path, when an operation cannot apply.
 */
export function planManifest(manifest: Manifest, schema?: SchemaModel, options: PlanOptions = {}): PlannedStep[] {
  const ctx: PlanContext = {
    schema: schema === undefined ? emptySchemaModel() : cloneSchemaModel(schema),
    path: '',
    offline: options.offline ?? schema === undefined,
    newTables: new Set(),
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
  return steps;
}

export * from './types';
