/**
 * An in-memory model of the parts of a database schema that planning needs.
 * Built from the catalog by `introspectSchema` (src/db/introspect.ts) and evolved
 * step by step by each operation's planner, so a manifest that creates a table and
 * then adds a column to it plans correctly without touching a database.
 *
 * Keys are qualified names as `schema.name`, unquoted (e.g. `public.users`).
 *
 * The optional fields describe what a destructive step's inverse needs to recreate
 * what it drops (drop_table, drop_column, drop_constraint, drop_enum, drop_view) and
 * what a setting step's inverse needs to put back (comments, replica identity). They
 * are left out when empty or at their default, so a plain table reads as before.
 */
export interface ColumnModel {
  name: string;
  /** Type as `format_type` prints it, e.g. `character varying(200)`. */
  type: string;
  nullable: boolean;
  /** Default expression as `pg_get_expr` prints it, or null. */
  default: string | null;
  /** Set for identity columns (`GENERATED ALWAYS | BY DEFAULT AS IDENTITY`). */
  identity?: 'always' | 'by_default';
  /** Expression of a stored generated column; `default` is then null. */
  generated?: string;
  /** A collation other than the type's default, as SQL: `"C"`, `"public"."de_ci"`. */
  collation?: string;
  comment?: string;
}

/** A sequence owned by a column: a serial column's, or an identity column's own. */
export interface SequenceModel {
  schema: string;
  name: string;
  /** `smallint`, `integer` or `bigint`. */
  type: string;
  /** Numbers as text: they may not fit a JavaScript number. */
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
}

export const ConstraintType = {
  primary_key: 'primary_key',
  unique: 'unique',
  foreign_key: 'foreign_key',
  check: 'check',
  exclude: 'exclude',
} as const;
export type ConstraintType = (typeof ConstraintType)[keyof typeof ConstraintType];

export interface ConstraintModel {
  name: string;
  type: ConstraintType;
  /**
   * The constraint as `pg_get_constraintdef` prints it, without its name:
   * `CHECK ((n > 0))`, `UNIQUE (email)`, `FOREIGN KEY (user_id) REFERENCES public.users(id)`,
   * with ` NOT VALID` when it is not validated. `ALTER TABLE t ADD CONSTRAINT name <definition>`
   * recreates it (primary key and unique are recreated from their index instead, which
   * also keeps the index's storage parameters).
   */
  definition: string;
  /** The constrained columns in key order (for a check: the columns it reads). */
  columns: string[];
  valid: boolean;
  /** Foreign keys: the referenced table (key) and columns. */
  references?: { table: string; columns: string[] };
  /** Primary key, unique and exclude: the name of the index backing it (in the table's schema). */
  index?: string;
}

export interface TriggerModel {
  name: string;
  /** `CREATE TRIGGER ...` as `pg_get_triggerdef` prints it. */
  definition: string;
  /** `ALTER TABLE ... ENABLE/DISABLE TRIGGER` state; `origin` is the default. */
  enabled: 'origin' | 'disabled' | 'replica' | 'always';
}

/** One privilege granted on a table to a role other than its owner. */
export interface GrantModel {
  /** Role name, or null for PUBLIC. */
  grantee: string | null;
  /** `SELECT`, `INSERT`, `UPDATE`, ... */
  privilege: string;
  grantable: boolean;
}

export interface TableModel {
  schema: string;
  name: string;
  columns: Record<string, ColumnModel>;
  /** True for a partitioned table (`PARTITION BY ...`); absent for an ordinary one. */
  partitioned?: boolean;
  /** Set for a partition: the partitioned table's key. */
  partitionOf?: string;
  /** Set for a table that inherits from others (not partitions): their keys. */
  inherits?: string[];
  /** By name. Absent: none (in a model read from the database). */
  constraints?: Record<string, ConstraintModel>;
  /** Sequences owned by columns (serial and identity), by column name. */
  sequences?: Record<string, SequenceModel>;
  comment?: string;
  /** Absent means `default`. */
  replicaIdentity?: 'full' | 'nothing' | 'index';
  /** With replicaIdentity `index`: the index name (in the table's schema). */
  replicaIdentityIndex?: string;
  unlogged?: boolean;
  /** Storage parameters as the catalog keeps them: `fillfactor=70`. */
  options?: string[];
  /**
   * Why Postgres refuses to rewrite the table with ALTER COLUMN ... TYPE ... USING (a
   * column elsewhere stores its row type, a partition is a foreign table); absent when
   * it does not. Restores from snapshots then use an UPDATE (see operations/restore.ts).
   */
  rewriteBlocked?: string;
  /**
   * Publications that publish the table (FOR TABLE, FOR TABLES IN SCHEMA, FOR ALL TABLES).
   * Absent: none. Retiring a column of a published table would reach its subscribers.
   */
  publications?: string[];
  /** User triggers (not the internal ones of foreign keys), by name. */
  triggers?: Record<string, TriggerModel>;
  grants?: GrantModel[];
}

export interface IndexModel {
  schema: string;
  name: string;
  /** Qualified table key, `schema.table`. */
  table: string;
  /** Full `CREATE [UNIQUE] INDEX ...` statement as `pg_get_indexdef` prints it. */
  definition: string;
  unique: boolean;
  valid: boolean;
  /** True when the index backs a constraint (primary key, unique, exclude). */
  constraint: boolean;
}

export interface EnumModel {
  schema: string;
  name: string;
  /** Labels in sort order. */
  values: string[];
}

export interface ViewModel {
  schema: string;
  name: string;
  /** The query as `pg_get_viewdef` prints it, without the trailing semicolon. */
  definition: string;
  /** View options as the catalog keeps them: `security_barrier=true`, `check_option=local`. */
  options?: string[];
  comment?: string;
}

export interface SchemaModel {
  schemas: string[];
  tables: Record<string, TableModel>;
  indexes: Record<string, IndexModel>;
  /** Enum types. Absent: none known (offline, nothing created yet). */
  enums?: Record<string, EnumModel>;
  /** Plain views (not materialized). Absent: none known. */
  views?: Record<string, ViewModel>;
  /**
   * How big each table is, by qualified key, as the catalog estimates it (pg_class.reltuples,
   * pg_total_relation_size): for planning what a step that rewrites a table under its lock
   * costs the application. Absent offline and for tables created by the manifest.
   */
  sizes?: Record<string, { rows: number; bytes: number }>;
}

export function emptySchemaModel(): SchemaModel {
  return { schemas: ['public'], tables: {}, indexes: {} };
}

export function cloneSchemaModel(model: SchemaModel): SchemaModel {
  return structuredClone(model);
}
