import type pg from 'pg';
import type { ColumnModel, IndexModel, SchemaModel, TableModel } from './schema-model';

/** Schemas Godwit creates in every target: its control tables and its snapshots. */
export const GODWIT_SCHEMAS = ['godwit', 'godwit_snapshots'] as const;

/** Postgres' own schemas. `pg_temp_*` and `pg_toast_temp_*` are caught by the `pg_` prefix,
 * which Postgres reserves for system schemas. */
export const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'] as const;

/** Schemas that introspection and the fingerprint never look into. */
export const EXCLUDED_SCHEMAS: readonly string[] = [...SYSTEM_SCHEMAS, ...GODWIT_SCHEMAS];

export function isUserSchema(name: string): boolean {
  return !EXCLUDED_SCHEMAS.includes(name) && !name.startsWith('pg_');
}

/** SQL literal of a string array, for the constants above (catalog queries run as simple queries). */
function textArrayLiteral(client: pg.ClientBase, values: readonly string[]): string {
  return `array[${values.map((v) => client.escapeLiteral(v)).join(', ')}]::text[]`;
}

/** SQL predicate: the schema name expression `nspname` is a user schema. */
export function userSchemaSql(client: pg.ClientBase, nspname: string): string {
  return `(${nspname} <> all(${textArrayLiteral(client, EXCLUDED_SCHEMAS)}) and ${nspname} !~ '^pg_')`;
}

/**
 * Runs read-only catalog queries with `search_path` set to `pg_catalog` alone, and returns
 * the rows of each.
 *
 * Why: `format_type`, `pg_get_expr`, `pg_get_indexdef`, `pg_get_viewdef`... print a name
 * unqualified when it is visible on the search path. With only pg_catalog on it, every user
 * object comes out schema-qualified (`nextval('public.users_id_seq'::regclass)`,
 * `public.mood`), so the output does not depend on the caller's session.
 *
 * The setting is made with `set_config(..., true)` (transaction-local) inside one
 * multi-statement query: outside a transaction block the statements share one implicit
 * transaction and the setting ends with it; inside the caller's transaction it is put back
 * to the caller's value by the last statement. Either way the caller's session is unchanged.
 */
export async function queryCatalog(client: pg.ClientBase, queries: readonly string[]): Promise<pg.QueryResultRow[][]> {
  const current = await client.query<{ path: string }>(`select current_setting('search_path') as path`);
  const previous = current.rows[0]?.path ?? '';
  const text = [
    `select set_config('search_path', 'pg_catalog', true)`,
    ...queries,
    `select set_config('search_path', ${client.escapeLiteral(previous)}, true)`,
  ].join(';\n');
  // A multi-statement simple query answers with one result per statement.
  const results = (await client.query(text)) as unknown as pg.QueryResult[];
  return results.slice(1, 1 + queries.length).map((r) => r.rows);
}

interface TableRow {
  schema: string;
  name: string;
  partitioned: boolean;
  columns: { name: string; type: string; nullable: boolean; default: string | null; identity: string; generated: string | null }[];
}

interface IndexRow {
  schema: string;
  name: string;
  table_schema: string;
  table_name: string;
  definition: string;
  unique: boolean;
  valid: boolean;
  constraint: boolean;
}

function schemasSql(client: pg.ClientBase): string {
  return `select n.nspname as name from pg_namespace n where ${userSchemaSql(client, 'n.nspname')} order by 1`;
}

function tablesSql(client: pg.ClientBase): string {
  // One row per table, its columns aggregated in attnum order; the left join keeps
  // tables without columns (`create table t ()`).
  return `
select n.nspname as schema, c.relname as name, c.relkind = 'p' as partitioned,
       coalesce(json_agg(json_build_object(
         'name', a.attname,
         'type', format_type(a.atttypid, a.atttypmod),
         'nullable', not a.attnotnull,
         'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end,
         'identity', a.attidentity::text,
         'generated', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end
       ) order by a.attnum) filter (where a.attnum is not null), '[]'::json) as columns
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
 where c.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}
 group by n.nspname, c.relname, c.relkind
 order by 1, 2`;
}

function indexesSql(client: pg.ClientBase): string {
  // An FK's conindid points at the *referenced* table's index, so only constraints of the
  // index's own table with an index of their own (p, u, x) count as "backed".
  return `
select n.nspname as schema, ic.relname as name, tn.nspname as table_schema, t.relname as table_name,
       pg_get_indexdef(i.indexrelid) as definition, i.indisunique as unique, i.indisvalid as valid,
       exists (select 1 from pg_constraint k
                where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p', 'u', 'x')) as constraint
  from pg_index i
  join pg_class ic on ic.oid = i.indexrelid
  join pg_namespace n on n.oid = ic.relnamespace
  join pg_class t on t.oid = i.indrelid
  join pg_namespace tn on tn.oid = t.relnamespace
 where t.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}
 order by 1, 2`;
}

function toColumn(row: TableRow['columns'][number]): ColumnModel {
  const column: ColumnModel = { name: row.name, type: row.type, nullable: row.nullable, default: row.default };
  if (row.identity === 'a') column.identity = 'always';
  if (row.identity === 'd') column.identity = 'by_default';
  if (row.generated !== null) column.generated = row.generated;
  return column;
}

/**
 * Reads the user schemas (see `isUserSchema`) into a `SchemaModel` in three catalog queries
 * sent as one round trip. Names of user objects inside types and expressions come out
 * schema-qualified (see `queryCatalog`).
 */
export async function introspectSchema(client: pg.ClientBase): Promise<SchemaModel> {
  const [schemaRows = [], tableRows = [], indexRows = []] = await queryCatalog(client, [
    schemasSql(client),
    tablesSql(client),
    indexesSql(client),
  ]);

  const tables: Record<string, TableModel> = {};
  for (const row of tableRows as TableRow[]) {
    const table: TableModel = { schema: row.schema, name: row.name, columns: {} };
    if (row.partitioned) table.partitioned = true;
    for (const col of row.columns) table.columns[col.name] = toColumn(col);
    tables[`${row.schema}.${row.name}`] = table;
  }

  const indexes: Record<string, IndexModel> = {};
  for (const row of indexRows as IndexRow[]) {
    indexes[`${row.schema}.${row.name}`] = {
      schema: row.schema,
      name: row.name,
      table: `${row.table_schema}.${row.table_name}`,
      definition: row.definition,
      unique: row.unique,
      valid: row.valid,
      constraint: row.constraint,
    };
  }

  return { schemas: schemaRows.map((r) => r.name as string), tables, indexes };
}
