import { createHash } from 'node:crypto';
import type pg from 'pg';
import { GODWIT_SCHEMAS, queryCatalog, userSchemaSql } from './introspect';
import { RETIRED_COLUMN_PREFIX } from './schemas';

/**
 * A canonical description of the user schemas: one line per object, sorted, and the
 * sha256 over those lines. Two databases with the same schema have the same hash,
 * whatever their data, physical layout, statistics or creation history. A rollback is
 * proven when the fingerprint after it equals the one before the migration.
 */
export interface SchemaFingerprint {
  /** `sha256:<hex>` over `entries.join('\n')`. */
  hash: string;
  /** Sorted; each `<object key>: <attr>=<value> ...`, e.g.
   * `column public.users.email: type=text nullable=true default=null`. */
  entries: string[];
}

/*
 * Each section returns rows of (key text, attrs json). Attribute order in json_build_object
 * is kept, so it is the order of the entry. An attribute whose name ends in `?` is optional:
 * it is left out when null (e.g. the collation of a column that uses its type's default),
 * so the common case stays short. Everything else is always printed, null as `null`.
 *
 * Left out on purpose, because it is not schema or because it differs between two
 * identical schemas: OIDs, attnum (column position: a rolled-back drop_column re-adds the
 * column at the end), relfilenode, toast tables, reltuples/relpages and pg_statistic,
 * sequence values, indisclustered (set by CLUSTER), relispopulated, attstattarget and
 * attoptions (only planner statistics settings are valid there, and the Postgres build on
 * our CI machine stamps every column with a per-creation `pg_attver` option),
 * internal triggers (their names embed OIDs), implicit array and row types, and the
 * members of extensions (the extension's name and version stand for them).
 */

/** `quote_ident(schema) || '.' || quote_ident(name)` */
function qualified(nsp: string, name: string): string {
  return `quote_ident(${nsp}) || '.' || quote_ident(${name})`;
}

/** Privileges as sorted aclitems; a null ACL is spelled out as the default one, so that a
 * GRANT followed by the matching REVOKE reads the same as never granting. */
function acl(aclExpr: string, objectType: string, owner: string): string {
  return `to_json(array(select x::text from unnest(coalesce(${aclExpr}, acldefault('${objectType}', ${owner}))) x order by 1))`;
}

/** Sorted `key=value` options (reloptions, ftoptions), or null when there are none. */
function options(expr: string): string {
  return `case when ${expr} is not null and cardinality(${expr}) > 0 then to_json(array(select o from unnest(${expr}) o order by 1)) end`;
}

function notExtensionMember(catalog: string, oid: string): string {
  return `not exists (select 1 from pg_depend e where e.classid = '${catalog}'::regclass and e.objid = ${oid} and e.deptype = 'e')`;
}

function sections(client: pg.ClientBase): string[] {
  const user = (nsp: string) => userSchemaSql(client, nsp);
  const godwitSchemas = `array[${GODWIT_SCHEMAS.map((s) => client.escapeLiteral(s)).join(', ')}]::text[]`;
  const relationIsOurs = `${user('n.nspname')} and ${notExtensionMember('pg_class', 'c.oid')}`;

  const schemas = `
select 'schema ' || quote_ident(n.nspname) as key,
       json_build_object('owner', pg_get_userbyid(n.nspowner), 'acl', ${acl('n.nspacl', 'n', 'n.nspowner')}) as attrs
  from pg_namespace n
 where ${user('n.nspname')}`;

  const tables = `
select 'table ' || ${qualified('n.nspname', 'c.relname')},
       json_build_object(
         'kind', case c.relkind when 'r' then 'table' when 'p' then 'partitioned' when 'f' then 'foreign' end,
         'persistence', case c.relpersistence when 'p' then 'permanent' when 'u' then 'unlogged' else 'temporary' end,
         'partition_key?', case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end,
         'partition_of?', (select ${qualified('pn.nspname', 'p.relname')} from pg_inherits i
                             join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace
                            where i.inhrelid = c.oid and c.relispartition),
         'partition_bound?', case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end,
         'inherits?', (select json_agg(${qualified('pn.nspname', 'p.relname')} order by i.inhseqno) from pg_inherits i
                         join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace
                        where i.inhrelid = c.oid and not c.relispartition),
         'replica_identity', case c.relreplident when 'd' then 'default' when 'f' then 'full' when 'n' then 'nothing' when 'i' then 'index' end,
         'row_security?', case when c.relforcerowsecurity then 'forced' when c.relrowsecurity then 'enabled' end,
         'access_method?', (select amname from pg_am where oid = c.relam and amname <> 'heap'),
         'tablespace?', (select spcname from pg_tablespace where oid = c.reltablespace),
         'options?', ${options('c.reloptions')},
         'server?', (select s.srvname from pg_foreign_table ft join pg_foreign_server s on s.oid = ft.ftserver where ft.ftrelid = c.oid),
         'foreign_options?', (select ${options('ft.ftoptions')} from pg_foreign_table ft where ft.ftrelid = c.oid),
         'owner', pg_get_userbyid(c.relowner),
         'acl', ${acl('c.relacl', 'r', 'c.relowner')})
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'f') and ${relationIsOurs}`;

  const columns = `
select 'column ' || ${qualified('n.nspname', 'c.relname')} || '.' || quote_ident(a.attname),
       json_build_object(
         'type', format_type(a.atttypid, a.atttypmod),
         'collation?', (select ${qualified('cn.nspname', 'co.collname')} from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace
                         where co.oid = a.attcollation and a.attcollation <> t.typcollation),
         'nullable', not a.attnotnull,
         'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end,
         'identity?', case a.attidentity when 'a' then 'always' when 'd' then 'by_default' end,
         'generated?', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end,
         'storage?', case when a.attstorage <> t.typstorage then a.attstorage::text end,
         'compression?', case when a.attcompression in ('p', 'l') then a.attcompression::text end,
         'acl?', case when cardinality(a.attacl) > 0 then to_json(array(select x::text from unnest(a.attacl) x order by 1)) end)
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  join pg_type t on t.oid = a.atttypid
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where c.relkind in ('r', 'p', 'f') and a.attnum > 0 and not a.attisdropped and ${relationIsOurs}`;

  const indexes = `
select 'index ' || ${qualified('n.nspname', 'ic.relname')},
       json_build_object(
         'table', ${qualified('n.nspname', 'c.relname')},
         'definition', pg_get_indexdef(i.indexrelid),
         'valid', i.indisvalid,
         'partition_of?', (select ${qualified('pn.nspname', 'p.relname')} from pg_inherits h
                             join pg_class p on p.oid = h.inhparent join pg_namespace pn on pn.oid = p.relnamespace
                            where h.inhrelid = ic.oid),
         'replica_identity?', case when i.indisreplident then true end,
         'tablespace?', (select spcname from pg_tablespace where oid = ic.reltablespace))
  from pg_index i
  join pg_class ic on ic.oid = i.indexrelid
  join pg_class c on c.oid = i.indrelid
  join pg_namespace n on n.oid = c.relnamespace
 where ${relationIsOurs}`;

  const constraints = `
select 'constraint ' || ${qualified('n.nspname', 'c.relname')} || '.' || quote_ident(k.conname),
       json_build_object(
         'type', case k.contype when 'p' then 'primary_key' when 'u' then 'unique' when 'f' then 'foreign_key'
                                when 'c' then 'check' when 'x' then 'exclude' when 't' then 'trigger' end,
         'definition', pg_get_constraintdef(k.oid),
         'valid', k.convalidated,
         'deferrable', k.condeferrable,
         'deferred', k.condeferred)
  from pg_constraint k
  join pg_class c on c.oid = k.conrelid
  join pg_namespace n on n.oid = c.relnamespace
 where ${relationIsOurs}`;

  const views = `
select case c.relkind when 'v' then 'view ' else 'materialized view ' end || ${qualified('n.nspname', 'c.relname')},
       json_build_object(
         'definition', pg_get_viewdef(c.oid),
         'options?', ${options('c.reloptions')},
         'owner', pg_get_userbyid(c.relowner),
         'acl', ${acl('c.relacl', 'r', 'c.relowner')})
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('v', 'm') and ${relationIsOurs}`;

  // Only the definition of a sequence, never its state (last_value, is_called): that is data.
  const sequences = `
select 'sequence ' || ${qualified('n.nspname', 'c.relname')},
       json_build_object(
         'type', format_type(s.seqtypid, null),
         'start', s.seqstart::text,
         'increment', s.seqincrement::text,
         'min', s.seqmin::text,
         'max', s.seqmax::text,
         'cache', s.seqcache::text,
         'cycle', s.seqcycle,
         'persistence?', case when c.relpersistence = 'u' then 'unlogged' end,
         'owned_by', (select ${qualified('tn.nspname', 't.relname')} || '.' || quote_ident(a.attname)
                        from pg_depend d
                        join pg_class t on t.oid = d.refobjid
                        join pg_namespace tn on tn.oid = t.relnamespace
                        join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
                       where d.classid = 'pg_class'::regclass and d.objid = c.oid
                         and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0 and d.deptype in ('a', 'i')),
         'identity?', (select true from pg_depend d
                        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'i'),
         'owner', pg_get_userbyid(c.relowner),
         'acl', ${acl('c.relacl', 's', 'c.relowner')})
  from pg_sequence s
  join pg_class c on c.oid = s.seqrelid
  join pg_namespace n on n.oid = c.relnamespace
 where ${relationIsOurs}`;

  // User-visible types only: the implicit array type of every type and the row type of every
  // table are created and dropped with their owner, so they would only repeat it.
  const typeIsOurs = `${user('n.nspname')} and ${notExtensionMember('pg_type', 't.oid')}
   and not exists (select 1 from pg_type arr where arr.typarray = t.oid)`;

  const types = `
select 'type ' || ${qualified('n.nspname', 't.typname')},
       json_build_object(
         'kind', case t.typtype when 'e' then 'enum' when 'c' then 'composite' when 'r' then 'range' when 'b' then 'base' end,
         'labels?', case when t.typtype = 'e' then
                      (select json_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) end,
         'attributes?', case when t.typtype = 'c' then
                      (select json_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) order by a.attnum)
                         from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) end,
         'subtype?', (select format_type(r.rngsubtype, null) from pg_range r where r.rngtypid = t.oid),
         'owner', pg_get_userbyid(t.typowner),
         'acl', ${acl('t.typacl', 'T', 't.typowner')})
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
 where t.typtype in ('e', 'c', 'r', 'b')
   and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
   and ${typeIsOurs}`;

  const domains = `
select 'domain ' || ${qualified('n.nspname', 't.typname')},
       json_build_object(
         'base', format_type(t.typbasetype, t.typtypmod),
         'not_null', t.typnotnull,
         'default', pg_get_expr(t.typdefaultbin, 0),
         'collation?', (select ${qualified('cn.nspname', 'co.collname')} from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace
                         where co.oid = t.typcollation and t.typcollation <> (select typcollation from pg_type where oid = t.typbasetype)),
         'owner', pg_get_userbyid(t.typowner),
         'acl', ${acl('t.typacl', 'T', 't.typowner')})
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
 where t.typtype = 'd' and ${typeIsOurs}`;

  const domainConstraints = `
select 'domain constraint ' || ${qualified('n.nspname', 't.typname')} || '.' || quote_ident(k.conname),
       json_build_object('definition', pg_get_constraintdef(k.oid), 'valid', k.convalidated)
  from pg_constraint k
  join pg_type t on t.oid = k.contypid
  join pg_namespace n on n.oid = t.typnamespace
 where ${typeIsOurs}`;

  // pg_get_functiondef refuses aggregates, so they are described from pg_aggregate.
  const functions = `
select case p.prokind when 'p' then 'procedure ' when 'a' then 'aggregate ' else 'function ' end
         || ${qualified('n.nspname', 'p.proname')} || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       json_build_object(
         'definition?', case when p.prokind <> 'a' then pg_get_functiondef(p.oid) end,
         'aggregate?', (select concat_ws(' ', 'sfunc=' || g.aggtransfn::text, 'stype=' || format_type(g.aggtranstype, null),
                                         'finalfunc=' || nullif(g.aggfinalfn, 0)::regproc::text,
                                         'combinefunc=' || nullif(g.aggcombinefn, 0)::regproc::text,
                                         'initcond=' || g.agginitval, 'kind=' || g.aggkind::text)
                          from pg_aggregate g where g.aggfnoid = p.oid),
         'owner', pg_get_userbyid(p.proowner),
         'acl', ${acl('p.proacl', 'f', 'p.proowner')})
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where ${user('n.nspname')} and ${notExtensionMember('pg_proc', 'p.oid')}`;

  // Internal triggers (foreign keys' RI triggers) are named after OIDs and come and go with
  // their constraint, which is fingerprinted itself.
  const triggers = `
select 'trigger ' || ${qualified('n.nspname', 'c.relname')} || '.' || quote_ident(tg.tgname),
       json_build_object(
         'definition', pg_get_triggerdef(tg.oid),
         'enabled', case tg.tgenabled when 'O' then 'origin' when 'D' then 'disabled' when 'R' then 'replica' when 'A' then 'always' end)
  from pg_trigger tg
  join pg_class c on c.oid = tg.tgrelid
  join pg_namespace n on n.oid = c.relnamespace
 where not tg.tgisinternal and ${relationIsOurs}`;

  const policies = `
select 'policy ' || ${qualified('n.nspname', 'c.relname')} || '.' || quote_ident(pol.polname),
       json_build_object(
         'command', case pol.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end,
         'permissive', pol.polpermissive,
         'roles', to_json(array(select case when r = 0 then 'public' else pg_get_userbyid(r) end from unnest(pol.polroles) r order by 1)),
         'using', pg_get_expr(pol.polqual, pol.polrelid),
         'with_check', pg_get_expr(pol.polwithcheck, pol.polrelid))
  from pg_policy pol
  join pg_class c on c.oid = pol.polrelid
  join pg_namespace n on n.oid = c.relnamespace
 where ${relationIsOurs}`;

  // A view's own _RETURN rule is its definition, already in the view entry.
  const rules = `
select 'rule ' || ${qualified('n.nspname', 'c.relname')} || '.' || quote_ident(r.rulename),
       json_build_object('definition', pg_get_ruledef(r.oid), 'enabled', r.ev_enabled::text)
  from pg_rewrite r
  join pg_class c on c.oid = r.ev_class
  join pg_namespace n on n.oid = c.relnamespace
 where r.rulename <> '_RETURN' and ${relationIsOurs}`;

  const statisticsObjects = `
select 'statistics object ' || ${qualified('n.nspname', 's.stxname')},
       json_build_object('definition', pg_get_statisticsobjdef(s.oid), 'owner', pg_get_userbyid(s.stxowner))
  from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace
 where ${user('n.nspname')}`;

  // Extensions are database-wide; those installed into pg_catalog (plpgsql) count too,
  // only Godwit's own schemas are left out.
  const extensions = `
select 'extension ' || quote_ident(x.extname),
       json_build_object('version', x.extversion, 'schema', quote_ident(n.nspname))
  from pg_extension x join pg_namespace n on n.oid = x.extnamespace
 where n.nspname <> all(${godwitSchemas})`;

  // pg_identify_object names any commented object. Objects created after initdb have OIDs
  // from 16384 up (FirstNormalObjectId); filtering on it first skips the ~5000 comments
  // on built-ins cheaply. Schemas are the exception: `public` is created by initdb.
  const comments = `
select 'comment on ' || regexp_replace(o.type, '^.* column$', 'column') || ' ' || o.identity,
       json_build_object('text', d.description)
  from pg_description d
 cross join lateral pg_identify_object(d.classoid, d.objoid, d.objsubid) o
 where (d.objoid >= 16384 or d.classoid = 'pg_namespace'::regclass)
   and ((o.schema is not null and ${user('o.schema')}) or (o.type = 'schema' and ${user('o.identity')}))
   and not exists (select 1 from pg_depend e where e.classid = d.classoid and e.objid = d.objoid and e.deptype = 'e')`;

  return [
    schemas, tables, columns, indexes, constraints, views, sequences, types, domains, domainConstraints,
    functions, triggers, policies, rules, statisticsObjects, extensions, comments,
  ];
}

type AttrValue = string | number | boolean | null | AttrValue[];

/** A bare value cannot be mistaken for a quoted string, an array, or the next attribute. */
const BARE = /^[^\s"[\]=]+$/;

function renderValue(value: AttrValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (Array.isArray(value)) return JSON.stringify(value);
  if (BARE.test(value) && value !== 'null' && value !== 'true' && value !== 'false') return value;
  return JSON.stringify(value);
}

function renderEntry(key: string, attrs: Record<string, AttrValue>): string {
  const parts: string[] = [];
  for (const [rawName, value] of Object.entries(attrs)) {
    const optional = rawName.endsWith('?');
    if (optional && value === null) continue;
    parts.push(`${optional ? rawName.slice(0, -1) : rawName}=${renderValue(value)}`);
  }
  return `${key}: ${parts.join(' ')}`;
}

/**
 * Reads the canonical schema description of every user schema (all but the system schemas
 * and Godwit's own, see `introspect.ts`) in one round trip of catalog queries.
 */
export async function schemaFingerprint(client: pg.ClientBase): Promise<SchemaFingerprint> {
  const all = sections(client);
  const union = all.map((sql) => `(${sql.trim()})`).join('\nunion all\n');
  const [rows = []] = await queryCatalog(client, [union]);
  const entries = rows
    .map((r) => renderEntry(r.key as string, r.attrs as Record<string, AttrValue>))
    .filter((entry) => !mentionsRetired(entry))
    .sort();
  return { hash: hashEntries(entries), entries };
}

/**
 * What a migration retired is, for the schema, already gone: a retired column (named with
 * RETIRED_COLUMN_PREFIX), and whatever names it or a retired table: its indexes, constraints,
 * comment, owned sequence, a statistics object left behind in the table's old schema. So the
 * fingerprint after a drop_column is the one a real DROP COLUMN would leave, purging it later
 * changes nothing (`godwit verify` sees no drift), and rolling back gives the one before.
 */
function mentionsRetired(entry: string): boolean {
  return entry.includes(RETIRED_COLUMN_PREFIX);
}

export function hashEntries(entries: readonly string[]): string {
  return `sha256:${createHash('sha256').update(entries.join('\n')).digest('hex')}`;
}

/** Index of the `: ` that ends an entry's key, skipping quoted identifiers. */
function keyEnd(entry: string): number {
  let quoted = false;
  for (let i = 0; i < entry.length - 1; i++) {
    const ch = entry[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === ':' && entry[i + 1] === ' ') return i;
  }
  return entry.length;
}

/** Splits `a=1 b="x y" c=["p","q"]` into ordered [name, raw value] pairs. */
function parseAttrs(text: string): [string, string][] {
  const attrs: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ') i++;
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq);
    let j = eq + 1;
    let depth = 0;
    let inString = false;
    for (; j < text.length; j++) {
      const ch = text[j];
      if (inString) {
        if (ch === '\\') j++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '[') depth++;
      else if (ch === ']') depth--;
      else if (ch === ' ' && depth === 0) break;
    }
    attrs.push([name, text.slice(eq + 1, j)]);
    i = j;
  }
  return attrs;
}

const SHOWN_VALUE_MAX = 80;

function display(raw: string | undefined): string {
  if (raw === undefined) return '(none)';
  return raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
}

function describeChange(before: string, after: string): string {
  const was = new Map(parseAttrs(before));
  const now = new Map(parseAttrs(after));
  const names = [...now.keys(), ...[...was.keys()].filter((n) => !now.has(n))];
  const changes: string[] = [];
  for (const name of names) {
    const a = now.get(name);
    const b = was.get(name);
    if (a === b) continue;
    const [shownA, shownB] = [display(a), display(b)];
    changes.push(
      shownA.length > SHOWN_VALUE_MAX || shownB.length > SHOWN_VALUE_MAX || shownA.includes('\n') || shownB.includes('\n')
        ? `${name} changed`
        : `${name} ${shownA}, was ${shownB}`,
    );
  }
  return changes.join('; ');
}

function byKey(fp: SchemaFingerprint): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of fp.entries) {
    const end = keyEnd(entry);
    map.set(entry.slice(0, end), entry.slice(end + 2));
  }
  return map;
}

/**
 * What changed from `before` to `after`, one line per object, sorted by object:
 * `column public.users.email: type text, was character varying(200)`,
 * `index public.users_email_idx: added`, `table public.t: removed`.
 * Empty when the fingerprints are equal.
 */
export function diffFingerprints(before: SchemaFingerprint, after: SchemaFingerprint): string[] {
  const was = byKey(before);
  const now = byKey(after);
  const keys = [...new Set([...was.keys(), ...now.keys()])].sort();
  const lines: string[] = [];
  for (const key of keys) {
    const b = was.get(key);
    const a = now.get(key);
    if (b === undefined) lines.push(`${key}: added`);
    else if (a === undefined) lines.push(`${key}: removed`);
    else if (a !== b) lines.push(`${key}: ${describeChange(b, a)}`);
  }
  return lines;
}
