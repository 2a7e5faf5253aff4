import type pg from 'pg';
import type {
  ColumnModel,
  ConstraintModel,
  ConstraintType,
  EnumModel,
  GrantModel,
  IndexModel,
  SchemaModel,
  SequenceModel,
  TableModel,
  TriggerModel,
  ViewModel,
} from './schema-model';

import { GODWIT_SCHEMAS, RETIRED_COLUMN_PREFIX } from './schemas';

export { GODWIT_SCHEMAS };

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
  partition_of: string | null;
  inherits: string[] | null;
  comment: string | null;
  replica_identity: string;
  replica_identity_index: string | null;
  unlogged: boolean;
  options: string[] | null;
  columns: {
    name: string;
    type: string;
    nullable: boolean;
    default: string | null;
    identity: string;
    generated: string | null;
    collation: string | null;
    comment: string | null;
  }[];
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

/** Rows that belong to one table: constraints, sequences, triggers, grants. */
interface OfTable {
  table_schema: string;
  table_name: string;
}

interface ConstraintRow extends OfTable {
  name: string;
  type: string;
  definition: string;
  valid: boolean;
  columns: string[];
  ref_schema: string | null;
  ref_name: string | null;
  ref_columns: string[];
  index: string | null;
}

interface SequenceRow extends OfTable, SequenceModel {
  column: string;
}

interface TriggerRow extends OfTable {
  name: string;
  definition: string;
  enabled: string;
}

interface GrantRow extends OfTable, GrantModel {}

interface EnumRow {
  schema: string;
  name: string;
  values: string[];
}

interface ViewRow {
  schema: string;
  name: string;
  definition: string;
  options: string[] | null;
  comment: string | null;
}

function schemasSql(client: pg.ClientBase): string {
  return `select n.nspname as name from pg_namespace n where ${userSchemaSql(client, 'n.nspname')} order by 1`;
}

/** `schema.name` of relation alias `c` joined to namespace alias `n` (a SchemaModel key). */
const key = (n: string, c: string) => `${n}.nspname || '.' || ${c}.relname`;

function tablesSql(client: pg.ClientBase): string {
  // One row per table, its columns aggregated in attnum order; the left join keeps
  // tables without columns (`create table t ()`). Retired columns are left out: for
  // planning they are gone (their indexes and constraints stay, their names are taken).
  return `
select n.nspname as schema, c.relname as name, c.relkind = 'p' as partitioned,
       (select ${key('pn', 'p')} from pg_inherits i join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace
         where i.inhrelid = c.oid and c.relispartition) as partition_of,
       (select array_agg(${key('pn', 'p')} order by i.inhseqno) from pg_inherits i join pg_class p on p.oid = i.inhparent
          join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid and not c.relispartition) as inherits,
       obj_description(c.oid, 'pg_class') as comment,
       c.relreplident::text as replica_identity,
       (select ic.relname from pg_index i join pg_class ic on ic.oid = i.indexrelid
         where i.indrelid = c.oid and i.indisreplident) as replica_identity_index,
       c.relpersistence = 'u' as unlogged,
       c.reloptions as options,
       coalesce(json_agg(json_build_object(
         'name', a.attname,
         'type', format_type(a.atttypid, a.atttypmod),
         'nullable', not a.attnotnull,
         'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end,
         'identity', a.attidentity::text,
         'generated', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end,
         'collation', (select quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                         from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace join pg_type ty on ty.oid = a.atttypid
                        where co.oid = a.attcollation and a.attcollation <> ty.typcollation),
         'comment', col_description(c.oid, a.attnum)
       ) order by a.attnum) filter (where a.attnum is not null), '[]'::json) as columns
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and not starts_with(a.attname::text, ${client.escapeLiteral(RETIRED_COLUMN_PREFIX)})
  left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
 where c.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}
 group by n.nspname, c.oid
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

/** Column names of `attnums` (in their order) of relation `rel`. */
const attnames = (attnums: string, rel: string) =>
  `array(select a.attname::text from unnest(${attnums}) with ordinality u(attnum, ord)
          join pg_attribute a on a.attrelid = ${rel} and a.attnum = u.attnum order by u.ord)`;

function constraintsSql(client: pg.ClientBase): string {
  // NOT NULL is a column property here (pg_constraint holds it from Postgres 18 on, as 'n').
  return `
select n.nspname as table_schema, c.relname as table_name, k.conname as name, k.contype::text as type,
       pg_get_constraintdef(k.oid) as definition, k.convalidated as valid,
       ${attnames('k.conkey', 'k.conrelid')} as columns,
       rn.nspname as ref_schema, r.relname as ref_name,
       ${attnames('k.confkey', 'k.confrelid')} as ref_columns,
       case when k.contype in ('p', 'u', 'x') then ic.relname end as index
  from pg_constraint k
  join pg_class c on c.oid = k.conrelid
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_class r on r.oid = k.confrelid
  left join pg_namespace rn on rn.oid = r.relnamespace
  left join pg_class ic on ic.oid = k.conindid
 where k.contype in ('p', 'u', 'f', 'c', 'x') and c.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}
 order by 1, 2, 3`;
}

function sequencesSql(client: pg.ClientBase): string {
  // 'a': a serial column's sequence (OWNED BY); 'i': an identity column's.
  return `
select tn.nspname as table_schema, t.relname as table_name, a.attname as column,
       sn.nspname as schema, sc.relname as name, format_type(s.seqtypid, null) as type,
       s.seqstart::text as start, s.seqincrement::text as increment, s.seqmin::text as min, s.seqmax::text as max,
       s.seqcache::text as cache, s.seqcycle as cycle
  from pg_depend d
  join pg_class sc on sc.oid = d.objid and sc.relkind = 'S'
  join pg_namespace sn on sn.oid = sc.relnamespace
  join pg_sequence s on s.seqrelid = sc.oid
  join pg_class t on t.oid = d.refobjid
  join pg_namespace tn on tn.oid = t.relnamespace
  join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
 where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
   and d.deptype in ('a', 'i') and t.relkind in ('r', 'p') and ${userSchemaSql(client, 'tn.nspname')}
 order by 1, 2, 3`;
}

function triggersSql(client: pg.ClientBase): string {
  // Internal triggers (those of foreign keys) come and go with their constraint.
  return `
select n.nspname as table_schema, c.relname as table_name, tg.tgname as name,
       pg_get_triggerdef(tg.oid) as definition, tg.tgenabled::text as enabled
  from pg_trigger tg
  join pg_class c on c.oid = tg.tgrelid
  join pg_namespace n on n.oid = c.relnamespace
 where not tg.tgisinternal and c.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}
 order by 1, 2, 3`;
}

function grantsSql(client: pg.ClientBase): string {
  // The owner's own privileges are implicit; only what was granted to others is kept.
  return `
select n.nspname as table_schema, c.relname as table_name,
       case when x.grantee = 0 then null else pg_get_userbyid(x.grantee)::text end as grantee,
       x.privilege_type as privilege, x.is_grantable as grantable
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 cross join lateral aclexplode(c.relacl) x
 where c.relkind in ('r', 'p') and x.grantee <> c.relowner and ${userSchemaSql(client, 'n.nspname')}
 order by 1, 2, 3, 4`;
}

function publicationsSql(client: pg.ClientBase): string {
  return `
select p.schemaname as table_schema, p.tablename as table_name, p.pubname as name
  from pg_publication_tables p
 where ${userSchemaSql(client, 'p.schemaname')}
 order by 1, 2, 3`;
}

function enumsSql(client: pg.ClientBase): string {
  return `
select n.nspname as schema, t.typname as name,
       array(select e.enumlabel::text from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as values
  from pg_type t
  join pg_namespace n on n.oid = t.typnamespace
 where t.typtype = 'e' and ${userSchemaSql(client, 'n.nspname')}
 order by 1, 2`;
}

function viewsSql(client: pg.ClientBase): string {
  return `
select n.nspname as schema, c.relname as name, pg_get_viewdef(c.oid) as definition, c.reloptions as options,
       obj_description(c.oid, 'pg_class') as comment
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 where c.relkind = 'v' and ${userSchemaSql(client, 'n.nspname')}
 order by 1, 2`;
}

/**
 * Tables Postgres refuses to rewrite with ALTER COLUMN ... TYPE ... USING, with the reason:
 * a column of a table or materialized view stores the table's row type (directly, or in an
 * array, domain, range or composite type of it: Postgres follows the same dependencies), or
 * a partition is a foreign table. A rollback then restores column values by UPDATE instead.
 */
function rewriteBlockersSql(client: pg.ClientBase): string {
  return `
with recursive uses(root, typ) as (
  select c.oid, c.reltype from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}
  union
  select u.root, x.typ
    from uses u
   cross join lateral (
     select d.objid as typ from pg_depend d
      where d.refclassid = 'pg_type'::regclass and d.refobjid = u.typ and d.classid = 'pg_type'::regclass
     union all
     select r.reltype from pg_depend d join pg_class r on r.oid = d.objid
      where d.refclassid = 'pg_type'::regclass and d.refobjid = u.typ and d.classid = 'pg_class'::regclass
        and d.objsubid > 0 and r.relkind not in ('r', 'm', 'p') and r.reltype <> 0
   ) x
)
select n.nspname as table_schema, c.relname as table_name,
       min(format('column %s.%s.%s stores its row type', rn.nspname, r.relname, a.attname)) as reason
  from uses u
  join pg_class c on c.oid = u.root
  join pg_namespace n on n.oid = c.relnamespace
  join pg_depend d on d.refclassid = 'pg_type'::regclass and d.refobjid = u.typ and d.classid = 'pg_class'::regclass and d.objsubid > 0
  join pg_class r on r.oid = d.objid and r.relkind in ('r', 'm', 'p')
  join pg_namespace rn on rn.oid = r.relnamespace
  join pg_attribute a on a.attrelid = r.oid and a.attnum = d.objsubid
 group by n.nspname, c.relname
union all
select n.nspname, c.relname, min(format('its partition %s.%s is a foreign table', fn.nspname, f.relname))
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 cross join lateral pg_partition_tree(c.oid) t
  join pg_class f on f.oid = t.relid and f.relkind = 'f'
  join pg_namespace fn on fn.oid = f.relnamespace
 where c.relkind = 'p' and ${userSchemaSql(client, 'n.nspname')}
 group by n.nspname, c.relname
 order by 1, 2, 3`;
}

/** Sets an own property even for a name like `__proto__`, which plain assignment would not. */
function put<T>(record: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
}

function toColumn(row: TableRow['columns'][number]): ColumnModel {
  const column: ColumnModel = { name: row.name, type: row.type, nullable: row.nullable, default: row.default };
  if (row.identity === 'a') column.identity = 'always';
  if (row.identity === 'd') column.identity = 'by_default';
  if (row.generated !== null) column.generated = row.generated;
  if (row.collation !== null) column.collation = row.collation;
  if (row.comment !== null) column.comment = row.comment;
  return column;
}

function toTable(row: TableRow): TableModel {
  const table: TableModel = { schema: row.schema, name: row.name, columns: {} };
  if (row.partitioned) table.partitioned = true;
  if (row.partition_of !== null) table.partitionOf = row.partition_of;
  if (row.inherits !== null) table.inherits = row.inherits;
  for (const col of row.columns) put(table.columns, col.name, toColumn(col));
  if (row.comment !== null) table.comment = row.comment;
  if (row.replica_identity === 'f') table.replicaIdentity = 'full';
  if (row.replica_identity === 'n') table.replicaIdentity = 'nothing';
  if (row.replica_identity === 'i') {
    table.replicaIdentity = 'index';
    if (row.replica_identity_index !== null) table.replicaIdentityIndex = row.replica_identity_index;
  }
  if (row.unlogged) table.unlogged = true;
  if (row.options !== null && row.options.length > 0) table.options = row.options;
  return table;
}

const CONSTRAINT_TYPES: Record<string, ConstraintType> = { p: 'primary_key', u: 'unique', f: 'foreign_key', c: 'check', x: 'exclude' };
const TRIGGER_STATES: Record<string, TriggerModel['enabled']> = { O: 'origin', D: 'disabled', R: 'replica', A: 'always' };

function toConstraint(row: ConstraintRow): ConstraintModel {
  const constraint: ConstraintModel = {
    name: row.name,
    type: CONSTRAINT_TYPES[row.type] ?? 'check',
    definition: row.definition,
    columns: row.columns,
    valid: row.valid,
  };
  if (row.ref_schema !== null && row.ref_name !== null) constraint.references = { table: `${row.ref_schema}.${row.ref_name}`, columns: row.ref_columns };
  if (row.index !== null) constraint.index = row.index;
  return constraint;
}

function toView(row: ViewRow): ViewModel {
  const view: ViewModel = { schema: row.schema, name: row.name, definition: row.definition.trim().replace(/;$/, '') };
  if (row.options !== null && row.options.length > 0) view.options = row.options;
  if (row.comment !== null) view.comment = row.comment;
  return view;
}

/**
 * Reads the user schemas (see `isUserSchema`) into a `SchemaModel` in one round trip of
 * catalog queries. Names of user objects inside types and expressions come out
 * schema-qualified (see `queryCatalog`).
 */
export async function introspectSchema(client: pg.ClientBase): Promise<SchemaModel> {
  const [schemaRows = [], tableRows = [], indexRows = [], constraintRows = [], sequenceRows = [], triggerRows = [], grantRows = [], enumRows = [], viewRows = [], blockerRows = [], publicationRows = []] =
    await queryCatalog(client, [
      schemasSql(client),
      tablesSql(client),
      indexesSql(client),
      constraintsSql(client),
      sequencesSql(client),
      triggersSql(client),
      grantsSql(client),
      enumsSql(client),
      viewsSql(client),
      rewriteBlockersSql(client),
      publicationsSql(client),
    ]);

  const tables: Record<string, TableModel> = {};
  for (const row of tableRows as TableRow[]) put(tables, `${row.schema}.${row.name}`, toTable(row));
  const tableOf = (row: OfTable) => {
    const k = `${row.table_schema}.${row.table_name}`;
    return Object.hasOwn(tables, k) ? tables[k] : undefined;
  };

  for (const row of constraintRows as ConstraintRow[]) {
    const table = tableOf(row);
    if (table !== undefined) put((table.constraints ??= {}), row.name, toConstraint(row));
  }
  for (const row of sequenceRows as SequenceRow[]) {
    const table = tableOf(row);
    const { schema, name, type, start, increment, min, max, cache, cycle } = row;
    if (table !== undefined) put((table.sequences ??= {}), row.column, { schema, name, type, start, increment, min, max, cache, cycle });
  }
  for (const row of triggerRows as TriggerRow[]) {
    const table = tableOf(row);
    if (table !== undefined) put((table.triggers ??= {}), row.name, { name: row.name, definition: row.definition, enabled: TRIGGER_STATES[row.enabled] ?? 'origin' });
  }
  for (const row of grantRows as GrantRow[]) {
    const table = tableOf(row);
    if (table !== undefined) (table.grants ??= []).push({ grantee: row.grantee, privilege: row.privilege, grantable: row.grantable });
  }
  for (const row of publicationRows as (OfTable & { name: string })[]) {
    const table = tableOf(row);
    if (table !== undefined) (table.publications ??= []).push(row.name);
  }
  for (const row of blockerRows as (OfTable & { reason: string })[]) {
    const table = tableOf(row);
    if (table !== undefined) table.rewriteBlocked ??= row.reason;
  }

  const indexes: Record<string, IndexModel> = {};
  for (const row of indexRows as IndexRow[]) {
    put(indexes, `${row.schema}.${row.name}`, {
      schema: row.schema,
      name: row.name,
      table: `${row.table_schema}.${row.table_name}`,
      definition: row.definition,
      unique: row.unique,
      valid: row.valid,
      constraint: row.constraint,
    });
  }

  const enums: Record<string, EnumModel> = {};
  for (const row of enumRows as EnumRow[]) put(enums, `${row.schema}.${row.name}`, { schema: row.schema, name: row.name, values: row.values });
  const views: Record<string, ViewModel> = {};
  for (const row of viewRows as ViewRow[]) put(views, `${row.schema}.${row.name}`, toView(row));

  const sizes: Record<string, { rows: number; bytes: number }> = {};
  const { rows: sizeRows } = await client.query<{ schema: string; name: string; rows: number; bytes: number }>(
    `select n.nspname as schema, c.relname as name, greatest(c.reltuples, 0)::float8 as rows, pg_total_relation_size(c.oid)::float8 as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and ${userSchemaSql(client, 'n.nspname')}`,
  );
  for (const r of sizeRows) put(sizes, `${r.schema}.${r.name}`, { rows: r.rows, bytes: r.bytes });
  return { schemas: schemaRows.map((r) => r.name as string), tables, indexes, enums, views, sizes };
}
