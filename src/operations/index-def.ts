/**
 * Index statements. One builder serves create_index's forward SQL and the
 * `definition` recorded in the schema model (which drop_index replays as its
 * inverse), so the two cannot drift apart.
 */
import type { IndexModel } from '../db/schema-model';
import { quoteIdent, quoteLiteral } from '../db/ident';
import type { Rel } from './model';

export interface IndexStatement {
  name: string;
  table: Rel;
  unique?: boolean;
  concurrently?: boolean;
  method?: string;
  /** Rendered index elements: `"email"`, `(lower(email)) DESC NULLS LAST`. */
  elements: string[];
  include?: string[] | undefined;
  /** Unique indexes: NULLS NOT DISTINCT (Postgres 15+). */
  nullsNotDistinct?: boolean | undefined;
  storage?: Record<string, number | boolean | string>;
  where?: string;
}

export function renderStorage(storage: Record<string, number | boolean | string>): string {
  // Storage parameter names are validated as lower-case words, so they are written bare.
  const items = Object.entries(storage).map(([key, value]) => `${key} = ${renderStorageValue(value)}`);
  return `WITH (${items.join(', ')})`;
}

function renderStorageValue(value: number | boolean | string): string {
  return typeof value === 'string' ? quoteLiteral(value) : String(value);
}

export function createIndexSql(s: IndexStatement): string {
  let sql = `CREATE ${s.unique === true ? 'UNIQUE ' : ''}INDEX ${s.concurrently === true ? 'CONCURRENTLY ' : ''}`;
  sql += `${quoteIdent(s.name)} ON ${s.table.sql}`;
  if (s.method !== undefined) sql += ` USING ${quoteIdent(s.method)}`;
  sql += ` (${s.elements.join(', ')})`;
  if (s.include !== undefined && s.include.length > 0) sql += ` INCLUDE (${s.include.map(quoteIdent).join(', ')})`;
  if (s.nullsNotDistinct === true) sql += ' NULLS NOT DISTINCT';
  if (s.storage !== undefined && Object.keys(s.storage).length > 0) sql += ` ${renderStorage(s.storage)}`;
  if (s.where !== undefined) sql += ` WHERE ${s.where}`;
  return sql;
}

export interface ConstraintIndexOptions {
  method?: string | undefined;
  include?: string[] | undefined;
  nullsNotDistinct?: boolean | undefined;
  where?: string | undefined;
}

/** The model entry for an index that a constraint (primary key, unique, exclude) creates. */
export function constraintIndex(table: Rel, name: string, elements: string[], unique: boolean, options: ConstraintIndexOptions = {}): IndexModel {
  return {
    schema: table.schema,
    name,
    table: table.key,
    definition: createIndexSql({ name, table, unique, elements, ...options }),
    unique,
    valid: true,
    constraint: true,
  };
}
