/**
 * An in-memory model of the parts of a database schema that planning needs.
 * Built from the catalog by `introspectSchema` (src/db/introspect.ts) and evolved
 * step by step by each operation's planner, so a manifest that creates a table and
 * then adds a column to it plans correctly without touching a database.
 *
 * Keys are qualified names as `schema.name`, unquoted (e.g. `public.users`).
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
}

export interface TableModel {
  schema: string;
  name: string;
  columns: Record<string, ColumnModel>;
  /** True for a partitioned table (`PARTITION BY ...`); absent for an ordinary one. */
  partitioned?: boolean;
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

export interface SchemaModel {
  schemas: string[];
  tables: Record<string, TableModel>;
  indexes: Record<string, IndexModel>;
}

export function emptySchemaModel(): SchemaModel {
  return { schemas: ['public'], tables: {}, indexes: {} };
}

export function cloneSchemaModel(model: SchemaModel): SchemaModel {
  return structuredClone(model);
}
