import type { SchemaModel } from '../db/schema-model';
import { GodwitError } from '../errors';

/** One SQL statement. `transactional: false` marks statements that cannot run
 * inside a transaction block (CREATE/DROP INDEX CONCURRENTLY). */
export interface SqlAction {
  sql: string;
  transactional: boolean;
}

export const Risk = { low: 'low', medium: 'medium', high: 'high' } as const;
export type Risk = (typeof Risk)[keyof typeof Risk];

export interface LintFinding {
  level: 'info' | 'warning' | 'error';
  code: string;
  message: string;
}

/**
 * How a non-transactional step finds out from the catalog whether it already ran,
 * so a retry after a crash neither runs it twice nor leaves an INVALID index behind.
 */
export type CatalogProbe =
  | { kind: 'index_exists'; schema: string; name: string }
  | { kind: 'index_absent'; schema: string; name: string };

/**
 * Data a destructive step copies into schema `godwit_snapshots` before it runs, in
 * the step's own transaction after locking the table against writes:
 * - `table`: the whole table (drop_table, an sql step without down);
 * - `columns`: the key columns plus `columns` (drop_column, alter_column_type
 *   without down_using, a backfill that overwrites values), restricted by `where`.
 * The inverse SQL names the copy with the placeholder `{{snapshot:N}}` (N indexes
 * `PlannedStep.snapshots`), which the executor replaces with the snapshot table's
 * quoted, qualified name.
 */
export type SnapshotSpec =
  | { kind: 'table'; schema: string; table: string }
  | { kind: 'columns'; schema: string; table: string; key: string[]; columns: string[]; where?: string; migrated?: MigratedValue }
  | ChangesSpec;

/**
 * What a step wrote into `column` of each row it copied: `(expression)::type`, where the
 * expression names the copy's columns (an ALTER ... TYPE's USING, or the column itself). A
 * rollback puts the copy's value back only where the row still holds that; elsewhere the
 * application has written the column since, and its value stays.
 */
export interface MigratedValue {
  column: string;
  type: string;
  expression: string;
}

/**
 * A change log instead of a copy: the step records the rows it changes, before and after,
 * as it changes them (a backfill in each batch's own statement; an sql step through
 * statement triggers with transition tables that fire only in the step's transaction). No
 * table is locked for a copy. The inverse puts back only those rows, and only where the
 * value is still the one the step wrote: the application's later writes win. `columns`
 * absent means every column (an sql step may insert and delete whole rows).
 */
export interface ChangesSpec {
  kind: 'changes';
  schema: string;
  table: string;
  key: string[];
  columns?: string[];
  /** How the changes are recorded: by the backfill's own batches, or by capture triggers around an sql step. */
  capture: 'batches' | 'triggers';
  /** The step's own inverse (an sql step's down) puts the rows back; the log only proves that it did. */
  proveOnly?: boolean;
  /**
   * A row trigger on the table that also writes to this log (a backfill's sync trigger): it
   * is dropped before the log is restored, so nothing is logged behind the restore.
   */
  trigger?: string;
}

/**
 * Destroy late: instead of dropping a column or table, the step renames it out of the
 * application's way (a column to `{{retired:N}}`, a table into schema `godwit_retired`),
 * and records it in `godwit.retired`. Rolling back renames it back: instant and exact.
 * The physical drop happens only once the migration is applied and its retention has
 * ended (`godwit snapshots prune`).
 */
export type RetireSpec = { kind: 'column'; schema: string; table: string; column: string } | { kind: 'table'; schema: string; table: string };

/** The placeholder forward and inverse SQL use for the name of retired object N. */
export function retiredPlaceholder(n: number): string {
  return `{{retired:${n}}}`;
}

/** The placeholder inverse SQL uses for snapshot N. */
export function snapshotPlaceholder(n: number): string {
  return `{{snapshot:${n}}}`;
}

/**
 * A planned step: pure data, JSON-serialisable (it travels through workflow history).
 * Inverse actions undo the forward actions; `inverse: []` means there is nothing to undo
 * on its own (an earlier step's inverse covers it: VALIDATE of a constraint its add step
 * drops, a backfill of a column its add_column drops); `inverse: null` means the step
 * cannot be rolled back (`inverseNote` says why and what would be needed). Inverse SQL
 * that restores data names the step's snapshots with `{{snapshot:N}}`.
 */
export interface PlannedStep {
  /** Stable within a migration: `<1-based index>-<kind>`, e.g. `2-add_column`. */
  id: string;
  index: number;
  kind: string;
  /** One line for humans and the Temporal UI: `add_column public.users.email_norm`. */
  summary: string;
  forward: SqlAction[];
  inverse: SqlAction[] | null;
  inverseNote?: string;
  /** Qualified objects the step reads or writes: `public.users`, `public.users_email_idx`. */
  touches: string[];
  risk: Risk;
  lint: LintFinding[];
  probe?: CatalogProbe;
  /** What to copy before the forward SQL runs, so the inverse can restore it. */
  snapshots?: SnapshotSpec[];
  /** Columns and tables the step retires instead of dropping them (destroy late). */
  retire?: RetireSpec[];
  /**
   * The step holds a lock that blocks the application's writes for as long as a whole-table
   * operation takes (an in-place ALTER ... TYPE): named in `godwit plan` with an estimate.
   */
  blocksWrites?: { lock: string; table: string; reason: string; estimate?: string };
  /** Like `probe`, for a non-transactional inverse (undoing a CONCURRENTLY step). */
  inverseProbe?: CatalogProbe;
  /**
   * A backfill the executor runs in committed batches: `size` rows at a time, in
   * order of the row key `key` (keyset pagination), each batch committing with its
   * progress in the step ledger. `forward` holds the same UPDATE as one statement,
   * for `godwit plan` and for readers.
   */
  batch?: {
    size: number;
    /**
     * The executor picks each batch's size for the throttle's batch_ms, starting small;
     * false or absent (a manifest's batch_size, plans from before) keeps `size`.
     */
    adaptive?: boolean;
    key: string[];
    /**
     * Backfill `sync: true`: the function and trigger that keep the columns in step on the
     * application's writes (logging them to the step's change log, `{{snapshot:0}}`), created
     * with the change log before the first batch. The batches switch it off for their own writes.
     */
    sync?: SqlAction[];
    /** The UPDATE in parts, so the executor can run it a keyset batch at a time. */
    update?: { schema: string; table: string; set: string; where?: string };
  };
}

/** Thrown when a spec cannot be planned against the schema (missing table, duplicate column...). */
export class PlanError extends GodwitError {
  override readonly name = 'PlanError';
  constructor(
    message: string,
    /** Path inside the manifest, e.g. `operations[2].add_column`. */
    readonly path: string,
    /** What to do about it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** What an operation's planner returns: its actions (without id/index, which the
 * manifest planner assigns) and the schema as it is after the step. */
export type StepDraft = Omit<PlannedStep, 'id' | 'index'>;

export interface PlanContext {
  schema: SchemaModel;
  /** Path of this operation in the manifest, for errors. */
  path: string;
  /**
   * True when `schema` is not the real database (offline `godwit plan` starts from
   * emptySchemaModel): the model cannot tell that an object is absent, so checks
   * like "table does not exist" are skipped, except for tables this manifest created.
   */
  offline?: boolean;
  /**
   * Set once an `sql` step has been planned: its effect on the schema is unknown,
   * so from then on existence checks are skipped.
   */
  afterRawSql?: boolean;
  /** Qualified keys of tables created earlier in this manifest: still empty, so
   * row-dependent lint (NOT NULL without default, blocking index builds) does not apply. */
  newTables?: Set<string>;
  /**
   * Columns added by add_column earlier in this manifest, by qualified table key. Their
   * values exist only since this migration, so a step that overwrites them (backfill,
   * alter_column_type) has nothing to snapshot: rolling back drops the column anyway.
   */
  newColumns?: Map<string, Set<string>>;
  /**
   * The manifest's policy.lock_timeout in milliseconds: how long a step may make the
   * application wait. A type change whose in-place rewrite would lock the table for a good
   * part of it takes the online path instead (see alter-column-type-online.ts).
   */
  lockTimeoutMs?: number;
}

/**
 * One operation kind. Each lives in its own file under src/operations and is
 * declared as `export const addColumn = { ... } satisfies Operation<AddColumnSpec>`.
 */
export interface Operation<Spec> {
  kind: string;
  /** Plans forward and inverse SQL; mutates `ctx.schema` to the schema after the step. */
  plan(spec: Spec, ctx: PlanContext): StepDraft[];
}
