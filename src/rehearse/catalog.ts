import type pg from 'pg';
import { quoteIdent } from '../db/ident';
import { userSchemaSql } from '../db/introspect';

/** What copying rows needs to know of a table: its columns, and which ones can be written. */
export interface CopyTable {
  schema: string;
  name: string;
  /** Quoted and qualified. */
  qualified: string;
  /** `schema.name`, for people. */
  label: string;
  /** A partitioned table: read and written through the parent, its partitions are not listed. */
  partitioned: boolean;
  columns: CopyColumn[];
}

export interface CopyColumn {
  name: string;
  /** format_type of the column's type (a domain's own name). */
  type: string;
  /** The type a domain stands on (the column's own type otherwise), its category and kind. */
  baseType: string;
  category: string;
  /** e: enum, d: domain, b: base, c: composite, r: range. */
  kind: string;
  notNull: boolean;
  /** identity always/by default, or a default from a sequence (serial): left to the database when synthesizing. */
  generatedKey: boolean;
  /** A stored generated column: never written. */
  generated: boolean;
  /** Labels of an enum type (of the base type, for a domain over an enum). */
  enumLabels: string[] | null;
  /** varchar(n) / char(n): n; numeric(p, s): p and s. */
  maxLength: number | null;
  precision: number | null;
  scale: number | null;
}

/** A foreign key between two copied tables (both sides in column order). */
export interface CopyForeignKey {
  name: string;
  child: string;
  childColumns: string[];
  parent: string;
  parentColumns: string[];
}

export interface CopyCatalog {
  tables: CopyTable[];
  foreignKeys: CopyForeignKey[];
  sequences: { qualified: string }[];
}

export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * The user tables (not partitions, not extension members), their columns and the foreign keys
 * between them, in the order of their names. Only catalog reads: runs in the target's
 * read-only transaction as well as on the scratch database.
 */
export async function readCopyCatalog(client: pg.ClientBase): Promise<CopyCatalog> {
  const { rows: tables } = await client.query<{ oid: number; schema: string; name: string; partitioned: boolean }>(
    `select c.oid, n.nspname as schema, c.relname as name, c.relkind = 'p' as partitioned
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and ${userSchemaSql(client, 'n.nspname')}
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
      order by n.nspname, c.relname`,
  );
  const { rows: columns } = await client.query<{
    table_oid: number;
    name: string;
    type: string;
    base_type: string;
    category: string;
    kind: string;
    not_null: boolean;
    generated_key: boolean;
    generated: boolean;
    enum_labels: string[] | null;
    typmod: number;
    base_oid: number;
  }>(
    `select a.attrelid as table_oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            format_type(coalesce(nullif(t.typbasetype, 0), t.oid), case when t.typtype = 'd' then t.typtypmod else a.atttypmod end) as base_type,
            b.typcategory as category, t.typtype as kind,
            a.attnotnull or coalesce(t.typnotnull, false) as not_null,
            a.attidentity <> '' or coalesce(pg_get_expr(d.adbin, d.adrelid) like 'nextval(%', false) as generated_key,
            a.attgenerated <> '' as generated,
            (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = b.oid) as enum_labels,
            case when t.typtype = 'd' then t.typtypmod else a.atttypmod end as typmod, b.oid as base_oid
       from pg_attribute a
       join pg_type t on t.oid = a.atttypid
       join pg_type b on b.oid = coalesce(nullif(t.typbasetype, 0), t.oid)
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`,
    [tables.map((t) => t.oid)],
  );
  const { rows: fks } = await client.query<{ name: string; child: number; parent: number; child_columns: string[]; parent_columns: string[] }>(
    `select c.conname as name, c.conrelid as child, c.confrelid as parent,
            array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as child_columns,
            array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as parent_columns
       from pg_constraint c
      where c.contype = 'f' and c.conrelid = any($1::oid[]) and c.confrelid = any($1::oid[]) and c.conparentid = 0
      order by c.conname`,
    [tables.map((t) => t.oid)],
  );
  const { rows: sequences } = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'S' and ${userSchemaSql(client, 'n.nspname')} order by 1, 2`,
  );
  const byOid = new Map<number, CopyTable>();
  for (const t of tables) byOid.set(t.oid, { schema: t.schema, name: t.name, qualified: qualify(t.schema, t.name), label: `${t.schema}.${t.name}`, partitioned: t.partitioned, columns: [] });
  for (const c of columns) {
    const lengthType = /^(character varying|character|bit|bit varying)\b/.test(c.base_type);
    const numeric = c.base_type.startsWith('numeric');
    byOid.get(c.table_oid)!.columns.push({
      name: c.name,
      type: c.type,
      baseType: c.base_type,
      category: c.category,
      kind: c.kind,
      notNull: c.not_null,
      generatedKey: c.generated_key,
      generated: c.generated,
      enumLabels: c.enum_labels,
      maxLength: lengthType && c.typmod > 4 ? c.typmod - 4 : lengthType && c.typmod > 0 ? c.typmod : null,
      precision: numeric && c.typmod > 4 ? ((c.typmod - 4) >> 16) & 0xffff : null,
      scale: numeric && c.typmod > 4 ? (c.typmod - 4) & 0xffff : null,
    });
  }
  return {
    tables: [...byOid.values()],
    foreignKeys: fks.map((f) => ({ name: f.name, child: byOid.get(f.child)!.qualified, childColumns: f.child_columns, parent: byOid.get(f.parent)!.qualified, parentColumns: f.parent_columns })),
    sequences: sequences.map((s) => ({ qualified: qualify(s.schema, s.name) })),
  };
}

/**
 * Tables with the parents of their foreign keys first. A self-reference does not order a
 * table; a cycle between tables is broken where it is met (the rest of the order holds).
 */
export function parentsFirst(catalog: CopyCatalog): CopyTable[] {
  const parents = new Map<string, Set<string>>();
  for (const fk of catalog.foreignKeys) if (fk.child !== fk.parent) (parents.get(fk.child) ?? parents.set(fk.child, new Set()).get(fk.child)!).add(fk.parent);
  const byName = new Map(catalog.tables.map((t) => [t.qualified, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: CopyTable[] = [];
  const visit = (name: string) => {
    if (done.has(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const p of [...(parents.get(name) ?? [])].sort()) visit(p);
    visiting.delete(name);
    done.add(name);
    order.push(byName.get(name)!);
  };
  for (const t of catalog.tables) visit(t.qualified);
  return order;
}
