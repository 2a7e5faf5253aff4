import { createHash } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from './ident';
import { GodwitError } from '../errors';

/**
 * Data checksum of a table: the row count and an order-independent hash of the rows, so
 * that a rolled-back migration can be proven to have left the data as it found it.
 *
 * ## What is hashed
 *
 * Each column value is hashed to 64 bits with a seed derived from the column's *name*:
 * text and varchar by their bytes (`hashtextextended(v COLLATE "C")`), int2/int4 and int8 and
 * uuid by their binary value (the int8 hash takes the high half separately, because
 * Postgres' `hashint8extended` folds 64 bits into 32), reg* types by their OID, and every
 * other type by its text form (`v::text`, hashed as bytes). NULL is a per-column 64-bit
 * marker, so NULL and '' differ. The column hashes of a row are combined with XOR, and
 * that 64-bit value is hashed again (`hashtextextended(x::text, ...)`) into the row hash.
 * The table's checksum is the exact sum of its row hashes (numeric, no overflow), written
 * as 128-bit two's complement hex: `rowsum64:<32 hex digits>`.
 *
 * Why this shape:
 * - Sum is commutative and counts duplicates (a multiset hash), so physical row order
 *   (CLUSTER, VACUUM FULL, delete + reinsert) does not matter and nothing is sorted.
 * - XOR is commutative and each column's seed comes from its name, so column order does
 *   not matter either: a rolled-back drop_column re-adds the column at the end of the
 *   table and the checksum is the same; a snapshot table that holds the same columns in
 *   another order has the checksum of its source.
 * - The second hash of the XOR matters: without it, swapping one column's values between
 *   two rows ((a,x),(b,y) → (a,y),(b,x)), a plausible restore bug, leaves XOR-then-sum
 *   equal with probability (3/4)^64 ≈ 1e-8. With it, each row hash is an unrelated 64-bit
 *   value of the whole row.
 * - Text forms are canonical once the output settings are pinned (see PINNED_SETTINGS):
 *   timestamptz in UTC/ISO, floats in their shortest exact form, bytea in hex, numeric
 *   with its scale (1.0 and 1.00 differ: they are different values in the column), jsonb
 *   with its numbers as written, enums by label (never by OID: a re-created enum has new
 *   OIDs). Native hashes are used only where equality means identical text (integers,
 *   uuid, bytes of text), because they skip the output function, which is most of the cost.
 *   Collations never matter: text is hashed as bytes under "C".
 *   char(n) goes through `::text`, which drops trailing blanks, as char(n) comparison does.
 *
 * Collision resistance: a changed table keeps its checksum only if the sum of the changed
 * rows' hashes happens to equal the sum of the originals'. With row hashes that behave as
 * independent 64-bit values that is about 2^-64 (5e-20) per comparison, for any change:
 * one value, a deleted or duplicated row, NULL ↔ '', swapped values. This is protection
 * against accidents, not against an adversary who chooses data (Postgres' hash functions
 * are not cryptographic). A second 64-bit sum with other seeds would make it 2^-128, but it
 * cost 1.8× the time here (the output functions run twice: Postgres does not share common
 * subexpressions), and 2^-64 per rollback is far below any other failure Godwit has.
 *
 * ## Speed and resumability
 *
 * One aggregate query per chunk (`count(*)`, `sum(row hash)`), which Postgres runs as a
 * parallel seq scan or parallel index scan. A table estimated at no more than `chunkRows`
 * rows is read in one pass with no range predicate. A bigger one is read in chunks, and
 * `onProgress` reports after each a `resumeFrom` point (JSON, for a heartbeat) that holds
 * the next chunk's start and the partial count and sum; passing it back as `resume` goes
 * on from there and gives the checksum of a full run. Chunks are ranges of a single-column
 * primary key (stable under VACUUM FULL and CLUSTER; for a dense integer key computed from
 * min and max, otherwise found in the index), or, without one, ranges of heap pages by ctid
 * (`ctid >= '(p,0)' and ctid < '(q,0)'`, a TID range scan; Postgres 15 does not run those
 * in parallel). A page resume point is dropped (the checksum starts over) when the table
 * was rewritten since, because its rows moved.
 *
 * Consistency: chunks are separate statements. Run inside one REPEATABLE READ transaction,
 * or with the table locked against writes, when rows may change meanwhile; a resumed run
 * equals a full one only when nothing wrote to the table in between.
 */
export interface TableChecksum {
  /** `schema.table`, unquoted. */
  table: string;
  rows: number;
  /** `rowsum64:<32 hex digits>`; equal data ⇔ equal string (up to ~2^-64). */
  checksum: string;
}

export interface ChecksumProgress {
  rowsDone: number;
  /** Pass back as `resume` to continue after this point; JSON-serialisable. */
  resumeFrom?: unknown;
}

export interface TableChecksumOptions {
  /** Only these columns (default: all). Order does not matter. */
  columns?: string[];
  /** Only rows matching this SQL condition, pasted verbatim (a manifest's `where`). */
  where?: string;
  /** Called after each chunk; throwing from it stops the run. */
  onProgress?: (p: ChecksumProgress) => void;
  /** A `resumeFrom` from an earlier run with the same table, columns and where. */
  resume?: unknown;
  /** Rows per chunk (default 1,000,000; a key-range chunk holds at most 4×, a page-range
   * chunk about this many by the table's statistics). Tables estimated smaller are read in one pass. */
  chunkRows?: number;
}

/** The prefix names the row encoding: a change to how rows are hashed must change it. */
export const CHECKSUM_ALGORITHM = 'rowsum64';

export const DEFAULT_CHUNK_ROWS = 1_000_000;

/**
 * Session settings pinned while checksumming, and put back afterwards. All but the last
 * change the text form of values, so the result would otherwise depend on the connection:
 * timestamptz prints in UTC, dates in ISO, floats shortest-exact (the PG 12+ default), bytea
 * in hex, money in the C locale. `jit` is for speed: compiling the row expression in every
 * parallel worker cost 0.3 s more on 1M rows here, and the compiled code ran no faster
 * (the work is in the hash and output functions it calls).
 */
export const PINNED_SETTINGS: readonly (readonly [string, string])[] = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  ['jit', 'off'],
];

/** Thrown when a table cannot be checksummed as asked: it does not exist, or a named column does not. */
export class ChecksumTableError extends GodwitError {
  override readonly name = 'ChecksumTableError';
  constructor(
    message: string,
    readonly table: string,
    readonly column?: string,
  ) {
    super(message);
  }
}

/** Thrown when a resume point was taken for another table, column set or filter, or is not one. */
export class ChecksumResumeError extends GodwitError {
  override readonly name = 'ChecksumResumeError';
  constructor(
    message: string,
    readonly table: string,
  ) {
    super(message);
  }
}

interface ColumnInfo {
  name: string;
  /** `format_type` of the column's own type (for casts of key bounds). */
  type: string;
  /** Name of the base type in pg_catalog, after domains; null for a type outside pg_catalog. */
  base: string | null;
}

interface TableInfo {
  schema: string;
  table: string;
  /** `schema.table`, unquoted. */
  key: string;
  relkind: string;
  columns: ColumnInfo[];
  /** Single-column primary key, if any. */
  pk: ColumnInfo | null;
  estimatedRows: number | null;
  pages: number;
  relfilenode: string;
}

/** Where a run stands; what `resumeFrom` holds. */
interface ResumePoint {
  v: 1;
  /** Digest of table, columns, filter and chunking mode: a point only fits the run that made it. */
  sig: string;
  mode: 'key' | 'pages';
  /** key mode: the last key done (text form), null before the first chunk; for an integer key, the next chunk's width. */
  after?: string | null;
  width?: string;
  /** pages mode: the first page not done, and the table's relfilenode when it was read. */
  page?: number;
  relfilenode?: string;
  rows: string;
  sum: string;
  done: boolean;
}

/** Rows per heap page assumed when a table has no statistics yet (only sizes chunks). */
const ROWS_PER_PAGE_GUESS = 100;

const REG_TYPES = new Set(['regclass', 'regtype', 'regproc', 'regprocedure', 'regoper', 'regoperator', 'regconfig', 'regdictionary', 'regnamespace', 'regrole', 'regcollation']);

/** Deterministic 64-bit seeds from a label, as SQL bigint literals. */
function seeds(label: string, count: number): string[] {
  const digest = createHash('sha256').update(`godwit ${CHECKSUM_ALGORITHM} v1\u0000${label}`).digest();
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(BigInt.asIntN(64, digest.readBigUInt64BE(i * 8)).toString());
  return out;
}

const ROW_SEED = seeds('row', 1)[0]!;

/** SQL for the 64-bit hash of one column of the row aliased `r`, NULL → the column's marker. */
function columnHashSql(column: ColumnInfo): string {
  const [seed, seedHigh, nullMarker] = seeds(`column\u0000${column.name}`, 3);
  const v = `r.${quoteIdent(column.name)}`;
  let hash: string;
  switch (column.base) {
    case 'text':
    case 'varchar':
      hash = `pg_catalog.hashtextextended(${v} COLLATE pg_catalog."C", ${seed})`;
      break;
    case 'int2':
    case 'int4':
      hash = `pg_catalog.hashint4extended(${v}, ${seed})`;
      break;
    case 'int8':
      // hashint8extended hashes (low ^ high) 32 bits; the high half, hashed on its own, makes it injective.
      hash = `(pg_catalog.hashint8extended(${v}, ${seed}) OPERATOR(pg_catalog.#) pg_catalog.hashint4extended((${v} OPERATOR(pg_catalog.>>) 32)::pg_catalog.int4, ${seedHigh}))`;
      break;
    case 'uuid':
      hash = `pg_catalog.uuid_hash_extended(${v}, ${seed})`;
      break;
    default:
      hash =
        column.base !== null && REG_TYPES.has(column.base)
          ? `pg_catalog.hashoidextended(${v}::pg_catalog.oid, ${seed})`
          : `pg_catalog.hashtextextended(${v}::pg_catalog.text COLLATE pg_catalog."C", ${seed})`;
  }
  return `coalesce(${hash}, ${nullMarker})`;
}

/** SQL for the 64-bit hash of a row aliased `r`: the XOR of its column hashes, hashed again. */
function rowHashSql(columns: readonly ColumnInfo[]): string {
  const sorted = [...columns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const xor = sorted.length === 0 ? '0::pg_catalog.int8' : sorted.map(columnHashSql).join('\n    OPERATOR(pg_catalog.#) ');
  return `pg_catalog.hashtextextended((${xor})::pg_catalog.text, ${ROW_SEED})`;
}

async function describeTable(client: pg.ClientBase, schema: string, table: string): Promise<TableInfo> {
  const key = `${schema}.${table}`;
  const { rows } = await client.query<{
    oid: number;
    relkind: string;
    reltuples: number;
    relpages: number;
    pages: string;
    relfilenode: string;
    pk: string | null;
    leaf_rows: number | null;
  }>(
    `select c.oid, c.relkind::text, c.reltuples::float8 as reltuples, c.relpages,
            -- A partitioned table's own statistics are not kept up to date: add up its partitions'.
            case when c.relkind = 'p' then
              (select pg_catalog.sum(case when p.reltuples >= 0 then p.reltuples
                                          else pg_catalog.pg_relation_size(p.oid) / pg_catalog.current_setting('block_size')::int8 * ${ROWS_PER_PAGE_GUESS} end)::float8
                 from pg_catalog.pg_partition_tree(c.oid) t join pg_catalog.pg_class p on p.oid = t.relid
                where t.isleaf) end as leaf_rows,
            (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int8)::text as pages,
            c.relfilenode::text,
            (select a.attname from pg_catalog.pg_index i
               join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
              where i.indrelid = c.oid and i.indisprimary and i.indnkeyatts = 1 and i.indkey[0] > 0) as pk
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p', 'm', 'f')`,
    [schema, table],
  );
  const rel = rows[0];
  if (!rel) throw new ChecksumTableError(`cannot checksum ${key}: no such table`, key);

  // Each column with its base type after any chain of domains.
  const { rows: columns } = await client.query<ColumnInfo>(
    `with recursive col as (
       select a.attnum, a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod) as type
         from pg_catalog.pg_attribute a
        where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
     ), base(attnum, typ) as (
       select attnum, atttypid from col
       union all
       select b.attnum, t.typbasetype from base b join pg_catalog.pg_type t on t.oid = b.typ where t.typtype = 'd'
     )
     select col.attname as name, col.type,
            case when t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace then t.typname::text end as base
       from col join base b on b.attnum = col.attnum join pg_catalog.pg_type t on t.oid = b.typ
      where t.typtype <> 'd'
      order by col.attnum`,
    [rel.oid],
  );

  const pages = Number(rel.pages);
  let estimatedRows: number | null = null;
  if (rel.leaf_rows !== null) estimatedRows = rel.leaf_rows;
  else if (rel.reltuples >= 0) estimatedRows = rel.relpages > 0 ? (rel.reltuples / rel.relpages) * pages : rel.reltuples;
  return {
    schema,
    table,
    key,
    relkind: rel.relkind,
    columns,
    pk: rel.pk === null ? null : (columns.find((c) => c.name === rel.pk) ?? null),
    estimatedRows,
    pages,
    relfilenode: rel.relfilenode,
  };
}

function selectColumns(info: TableInfo, wanted: readonly string[] | undefined): ColumnInfo[] {
  if (wanted === undefined) return info.columns;
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const out: ColumnInfo[] = [];
  for (const name of new Set(wanted)) {
    const column = byName.get(name);
    if (!column) throw new ChecksumTableError(`cannot checksum ${info.key}: it has no column ${JSON.stringify(name)}`, info.key, name);
    out.push(column);
  }
  return out;
}

/** Reads the previous values and pins PINNED_SETTINGS for the session; returns the undo. */
async function pinSettings(client: pg.ClientBase): Promise<() => Promise<void>> {
  const names = PINNED_SETTINGS.map(([name]) => name);
  const { rows } = await client.query<{ previous: string[] }>(
    `select array(select pg_catalog.current_setting(n) from pg_catalog.unnest($1::text[]) with ordinality u(n, i) order by i) as previous`,
    [names],
  );
  const previous = rows[0]?.previous ?? [];
  const apply = (values: readonly string[]) =>
    client.query(`select pg_catalog.set_config(n, v, false) from rows from (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) u(n, v)`, [names, values]);
  await apply(PINNED_SETTINGS.map(([, value]) => value));
  return async () => {
    // Inside a caller's transaction that a failed statement aborted this fails; the
    // caller's rollback then undoes the settings, which were made in that transaction.
    await apply(previous).catch(() => undefined);
  };
}

const TWO_128 = 1n << 128n;

function formatChecksum(sum: bigint): string {
  return `${CHECKSUM_ALGORITHM}:${(((sum % TWO_128) + TWO_128) % TWO_128).toString(16).padStart(32, '0')}`;
}

function signature(info: TableInfo, columns: readonly ColumnInfo[], where: string | undefined, mode: ResumePoint['mode']): string {
  const names = columns.map((c) => `${c.name}\u0000${c.type}`).sort();
  return createHash('sha256')
    .update(JSON.stringify([CHECKSUM_ALGORITHM, info.key, names, where ?? null, mode, mode === 'key' ? info.pk?.name : null]))
    .digest('hex')
    .slice(0, 32);
}

function parseResume(value: unknown, sig: string, mode: ResumePoint['mode'], table: string): ResumePoint | null {
  if (value === undefined || value === null) return null;
  const p = value as Partial<ResumePoint>;
  const ok =
    typeof value === 'object' &&
    p.v === 1 &&
    typeof p.sig === 'string' &&
    typeof p.rows === 'string' &&
    /^\d+$/.test(p.rows) &&
    typeof p.sum === 'string' &&
    /^-?\d+$/.test(p.sum) &&
    typeof p.done === 'boolean' &&
    (p.mode === 'key' ? (p.after === null || typeof p.after === 'string') && (p.width === undefined || (typeof p.width === 'string' && /^\d+$/.test(p.width))) : p.mode === 'pages' && Number.isSafeInteger(p.page) && typeof p.relfilenode === 'string');
  if (!ok) throw new ChecksumResumeError(`cannot resume the checksum of ${table}: ${JSON.stringify(value)} is not a resume point`, table);
  if (p.sig !== sig || p.mode !== mode) {
    throw new ChecksumResumeError(`cannot resume the checksum of ${table}: the resume point is for another table, column set, filter or primary key`, table);
  }
  return p as ResumePoint;
}

/**
 * The statement of one pass over the table (what a table of at most `chunkRows` rows runs),
 * for EXPLAIN in tests and the benchmark. Run it with PINNED_SETTINGS in effect.
 */
export async function checksumQuery(client: pg.ClientBase, schema: string, table: string, opts: Pick<TableChecksumOptions, 'columns' | 'where'> = {}): Promise<string> {
  const info = await describeTable(client, schema, table);
  return chunkSql(info, selectColumns(info, opts.columns), opts.where, '');
}

function chunkSql(info: TableInfo, columns: readonly ColumnInfo[], where: string | undefined, range: string): string {
  const conditions = [range, where === undefined ? '' : `(${where})`].filter((c) => c !== '');
  return (
    `select pg_catalog.count(*)::text as rows, coalesce(pg_catalog.sum(${rowHashSql(columns)}), 0)::text as sum\n` +
    `  from ${quoteIdent(info.schema)}.${quoteIdent(info.table)} r` +
    (conditions.length > 0 ? `\n where ${conditions.join(' and ')}` : '')
  );
}


/** One chunk to read, and where the run stands once it is read. */
interface Chunk {
  /** SQL condition on the row aliased `r`, '' for the whole table; `$n` are `values`. */
  range: string;
  values: unknown[];
  /** The resume point fields after this chunk. */
  next: Pick<ResumePoint, 'after' | 'width' | 'page' | 'relfilenode'>;
  last: boolean;
}

/** Yields chunks in order; is told how many rows each one had (to size the next). */
type Chunker = AsyncGenerator<Chunk, void, bigint>;

/** Key ranges found in the primary key's index: `offset chunkRows - 1` gives each chunk's last key. */
async function* probedKeyChunks(client: pg.ClientBase, info: TableInfo, chunkRows: number, start: string | null): Chunker {
  const pk = info.pk!;
  const k = `r.${quoteIdent(pk.name)}`;
  for (let after = start; ; ) {
    // The filter does not apply to chunk bounds, so this reads the index alone.
    const probe = await client.query<{ k: string }>(
      `select ${k}::pg_catalog.text as k from ${quoteIdent(info.schema)}.${quoteIdent(info.table)} r` +
        (after === null ? '' : ` where ${k} > $2::${pk.type}`) +
        ` order by ${k} offset $1 limit 1`,
      after === null ? [chunkRows - 1] : [chunkRows - 1, after],
    );
    const upper = probe.rows[0]?.k ?? null;
    const range: string[] = [];
    const values: unknown[] = [];
    if (after !== null) range.push(`${k} > $${values.push(after)}::${pk.type}`);
    if (upper !== null) range.push(`${k} <= $${values.push(upper)}::${pk.type}`);
    yield { range: range.join(' and '), values, next: { after: upper }, last: upper === null };
    if (upper === null) return;
    after = upper;
  }
}

/**
 * Integer key ranges computed from min, max and the row estimate, with no probe (a probe
 * reads a chunk's worth of index entries, and the heap too where the visibility map is not
 * set). Only for dense keys (serial and identity columns: at most 4 key values per row); a
 * sparse key, or a chunk that finds no rows (a gap) or more than twice `chunkRows` (a
 * cluster), goes on with probed chunks. A range never spans more than 4 × `chunkRows` key
 * values, so, keys being unique, no chunk holds more rows than that. In between, the width
 * follows the rows each chunk had.
 */
async function* integerKeyChunks(client: pg.ClientBase, info: TableInfo, chunkRows: number, start: string | null, startWidth: string | undefined): Chunker {
  // A resume point without a width was taken while probing.
  if (start !== null && startWidth === undefined) return yield* probedKeyChunks(client, info, chunkRows, start);
  const k = `r.${quoteIdent(info.pk!.name)}`;
  const { rows } = await client.query<{ lo: string | null; hi: string | null }>(
    `select pg_catalog.min(${k})::text as lo, pg_catalog.max(${k})::text as hi from ${quoteIdent(info.schema)}.${quoteIdent(info.table)} r`,
  );
  const lo = rows[0]?.lo ?? null;
  const hi = rows[0]?.hi ?? null;
  const target = BigInt(chunkRows);
  const estimate = BigInt(Math.max(1, Math.ceil(info.estimatedRows ?? info.pages * ROWS_PER_PAGE_GUESS)));
  if (lo === null || hi === null || BigInt(hi) - BigInt(lo) + 1n > 4n * estimate) return yield* probedKeyChunks(client, info, chunkRows, start);
  const max = BigInt(hi);
  let width = startWidth !== undefined ? BigInt(startWidth) : ((max - BigInt(lo) + 1n) * target) / estimate;
  if (width > 4n * target) width = 4n * target;
  if (width < 1n) width = 1n;
  for (let after = start === null ? null : BigInt(start); ; ) {
    // No lower bound on the first chunk, and none above on the last, so nothing can fall outside.
    const upper = (after ?? BigInt(lo) - 1n) + width;
    const last = upper >= max;
    const range: string[] = [];
    const values: unknown[] = [];
    if (after !== null) range.push(`${k} > $${values.push(after.toString())}::pg_catalog.int8`);
    if (!last) range.push(`${k} <= $${values.push(upper.toString())}::pg_catalog.int8`);
    const rowsRead: bigint = yield { range: range.join(' and '), values, next: { after: last ? null : upper.toString(), width: width.toString() }, last };
    if (last) return;
    after = upper;
    if (rowsRead === 0n || rowsRead > 2n * target) return yield* probedKeyChunks(client, info, chunkRows, after.toString());
    width = (width * target) / rowsRead;
    if (width > 4n * target) width = 4n * target;
    if (width < 1n) width = 1n;
  }
}

/** Heap page ranges by ctid (TID range scans). The last chunk is open-ended, so pages added meanwhile are read. */
async function* pageChunks(info: TableInfo, chunkRows: number, startPage: number): Chunker {
  const perPage = info.estimatedRows !== null && info.pages > 0 ? Math.max(1, info.estimatedRows / info.pages) : ROWS_PER_PAGE_GUESS;
  const chunkPages = Math.max(1, Math.floor(chunkRows / perPage));
  for (let page = startPage; ; page += chunkPages) {
    const last = page + chunkPages >= info.pages;
    yield {
      range: last ? `r.ctid >= $1::pg_catalog.tid` : `r.ctid >= $1::pg_catalog.tid and r.ctid < $2::pg_catalog.tid`,
      values: last ? [`(${page},0)`] : [`(${page},0)`, `(${page + chunkPages},0)`],
      next: { page: page + chunkPages, relfilenode: info.relfilenode },
      last,
    };
    if (last) return;
  }
}

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8']);

/**
 * Row count and checksum of `schema.table` (see the comment at the top of this file).
 * Works inside or outside the caller's transaction; session settings are put back.
 */
export async function tableChecksum(client: pg.ClientBase, schema: string, table: string, opts: TableChecksumOptions = {}): Promise<TableChecksum> {
  const info = await describeTable(client, schema, table);
  const columns = selectColumns(info, opts.columns);
  const chunkRows = Math.max(1, Math.floor(opts.chunkRows ?? DEFAULT_CHUNK_ROWS));
  const mode: ResumePoint['mode'] = info.pk !== null ? 'key' : 'pages';
  const sig = signature(info, columns, opts.where, mode);
  let point = parseResume(opts.resume, sig, mode, info.key);
  // A rewritten table (VACUUM FULL, CLUSTER, TRUNCATE) has moved its rows: page ranges done before mean nothing now.
  if (point && mode === 'pages' && point.relfilenode !== info.relfilenode) point = null;

  let rows = point ? BigInt(point.rows) : 0n;
  let sum = point ? BigInt(point.sum) : 0n;
  const result = (): TableChecksum => ({ table: info.key, rows: Number(rows), checksum: formatChecksum(sum) });
  if (point?.done) return result();

  const small = (info.estimatedRows ?? info.pages * ROWS_PER_PAGE_GUESS) <= chunkRows;
  // Partitioned and foreign tables have no pages of their own to range over.
  const unchunkable = mode === 'pages' && info.relkind !== 'r' && info.relkind !== 'm';
  let chunks: Chunker;
  if (point === null && (small || unchunkable)) {
    // One pass, no range predicate: Postgres can use a parallel seq scan.
    chunks = (async function* (): Chunker {
      yield { range: '', values: [], next: mode === 'key' ? { after: null } : { page: info.pages, relfilenode: info.relfilenode }, last: true };
    })();
  } else if (mode === 'pages') {
    chunks = pageChunks(info, chunkRows, point?.page ?? 0);
  } else if (INTEGER_TYPES.has(info.pk!.base ?? '')) {
    chunks = integerKeyChunks(client, info, chunkRows, point?.after ?? null, point?.width);
  } else {
    chunks = probedKeyChunks(client, info, chunkRows, point?.after ?? null);
  }

  const restore = await pinSettings(client);
  try {
    for (let step = await chunks.next(0n); !step.done; ) {
      const chunk = step.value;
      const { rows: found } = await client.query<{ rows: string; sum: string }>(chunkSql(info, columns, opts.where, chunk.range), chunk.values);
      const part = found[0]!;
      rows += BigInt(part.rows);
      sum += BigInt(part.sum);
      const resumeFrom: ResumePoint = { v: 1, sig, mode, rows: rows.toString(), sum: sum.toString(), ...chunk.next, done: chunk.last };
      opts.onProgress?.({ rowsDone: Number(rows), resumeFrom });
      step = await chunks.next(BigInt(part.rows));
    }
    return result();
  } finally {
    await restore();
  }
}

export interface TablesChecksumProgress {
  /** The table being read, `schema.table`. */
  table: string;
  tablesDone: number;
  /** Rows read in all tables so far. */
  rowsDone: number;
  resumeFrom: unknown;
}

/**
 * Checksums of several tables, one after the other, in the order given. Progress and
 * resume work as for `tableChecksum`; a resume point also carries the finished tables.
 */
export async function tableChecksums(
  client: pg.ClientBase,
  tables: readonly { schema: string; table: string; columns?: string[]; where?: string }[],
  opts: { onProgress?: (p: TablesChecksumProgress) => void; resume?: unknown; chunkRows?: number } = {},
): Promise<TableChecksum[]> {
  const resume = opts.resume as { done?: TableChecksum[]; current?: unknown } | undefined;
  if (resume !== undefined && resume !== null && (typeof resume !== 'object' || !Array.isArray(resume.done))) {
    throw new ChecksumResumeError(`cannot resume the checksums: ${JSON.stringify(resume)} is not a resume point`, '');
  }
  const done: TableChecksum[] = [...(resume?.done ?? [])];
  for (const [i, t] of tables.entries()) {
    const key = `${t.schema}.${t.table}`;
    if (i < done.length) {
      if (done[i]!.table !== key) throw new ChecksumResumeError(`cannot resume the checksums: table ${i + 1} was ${done[i]!.table}, now ${key}`, key);
      continue;
    }
    const rowsBefore = done.reduce((n, d) => n + d.rows, 0);
    const sum = await tableChecksum(client, t.schema, t.table, {
      ...(t.columns ? { columns: t.columns } : {}),
      ...(t.where !== undefined ? { where: t.where } : {}),
      ...(opts.chunkRows !== undefined ? { chunkRows: opts.chunkRows } : {}),
      ...(i === done.length && resume?.current !== undefined ? { resume: resume.current } : {}),
      onProgress: (p) => opts.onProgress?.({ table: key, tablesDone: done.length, rowsDone: rowsBefore + p.rowsDone, resumeFrom: { done: [...done], current: p.resumeFrom } }),
    });
    done.push(sum);
  }
  return done;
}
