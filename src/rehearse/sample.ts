import type pg from 'pg';
import { quoteIdent } from '../db/ident';
import type { CopyCatalog, CopyTable } from './catalog';

/** Rows per INSERT into the scratch database (each batch is one JSON parameter). */
const BATCH = 1000;

export interface SampleProgress {
  table: string;
  rows: number;
}

/**
 * Writes rows (`to_jsonb(row)::text`, kept as text: JSON numbers parsed in JavaScript would lose
 * digits of a bigint or numeric) into a scratch table. The database's own input functions
 * read them back (jsonb_populate_recordset over the table's row type), so every type travels
 * as it would in a dump; generated columns are left to the database, identity values kept.
 */
export async function insertJsonRows(dest: pg.ClientBase, table: CopyTable, rows: readonly string[]): Promise<number> {
  const columns = table.columns.filter((c) => !c.generated).map((c) => quoteIdent(c.name));
  if (columns.length === 0 || rows.length === 0) return 0;
  let written = 0;
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    const r = await dest.query(
      `insert into ${table.qualified} (${columns.join(', ')}) overriding system value
       select ${columns.join(', ')} from jsonb_populate_recordset(null::${table.qualified}, $1::jsonb)`,
      [`[${batch.join(',')}]`],
    );
    written += r.rowCount ?? 0;
  }
  return written;
}

/**
 * Copies a sample of `perTable` rows of every table from the target (`source`, in its
 * read-only snapshot) into the scratch database (`dest`, whose tables have no keys or foreign
 * keys yet), then closes the sample under its foreign keys: each child row's parent row is
 * fetched from the target, and the parents' own parents, until none is missing. Self
 * references and cycles close the same way. A table may so end with more than `perTable` rows.
 */
export async function copySample(source: pg.ClientBase, dest: pg.ClientBase, catalog: CopyCatalog, perTable: number, onProgress: (p: SampleProgress) => void = () => undefined): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const byName = new Map(catalog.tables.map((t) => [t.qualified, t]));
  for (const table of catalog.tables) {
    // The sample is drawn in a subquery, so only the chosen rows are turned into JSON.
    const { rows } = await source.query<{ r: string }>(`select to_jsonb(s)::text as r from (select * from ${table.partitioned ? '' : 'only '}${table.qualified} order by random() limit $1) s`, [perTable]);
    const n = await insertJsonRows(
      dest,
      table,
      rows.map((x) => x.r),
    );
    counts.set(table.label, n);
    onProgress({ table: table.label, rows: n });
  }
  for (;;) {
    let added = 0;
    for (const fk of catalog.foreignKeys) {
      const child = byName.get(fk.child)!;
      const parent = byName.get(fk.parent)!;
      const pairs = fk.childColumns.map((c, i) => ({ child: quoteIdent(c), parent: quoteIdent(fk.parentColumns[i]!) }));
      // Keys the scratch children reference and the scratch parents lack (MATCH SIMPLE: a null key references nothing).
      const { rows: missing } = await dest.query<{ keys: string | null }>(
        `select jsonb_agg(k)::text as keys from (
           select distinct ${pairs.map((p) => `c.${p.child} as ${p.parent}`).join(', ')} from ${child.qualified} c
            where ${pairs.map((p) => `c.${p.child} is not null`).join(' and ')}
              and not exists (select 1 from ${parent.qualified} p where ${pairs.map((p) => `p.${p.parent} = c.${p.child}`).join(' and ')})) k`,
      );
      const keys = missing[0]?.keys ?? null;
      if (keys === null) continue;
      const parentCols = pairs.map((p) => p.parent).join(', ');
      const { rows } = await source.query<{ r: string }>(
        `select to_jsonb(p)::text as r from ${parent.partitioned ? '' : 'only '}${parent.qualified} p
          where (${pairs.map((p) => `p.${p.parent}`).join(', ')}) in (select ${parentCols} from jsonb_populate_recordset(null::${parent.qualified}, $1::jsonb))`,
        [keys],
      );
      const n = await insertJsonRows(
        dest,
        parent,
        rows.map((x) => x.r),
      );
      if (n > 0) {
        counts.set(parent.label, (counts.get(parent.label) ?? 0) + n);
        onProgress({ table: parent.label, rows: counts.get(parent.label)! });
      }
      added += n;
    }
    if (added === 0) return counts;
  }
}

/** Puts every sequence of the scratch copy where the target's is, so new keys do not collide with copied ones. */
export async function copySequences(source: pg.ClientBase, dest: pg.ClientBase, catalog: CopyCatalog): Promise<void> {
  for (const s of catalog.sequences) {
    const { rows } = await source.query<{ last_value: string; is_called: boolean }>(`select last_value::text, is_called from ${s.qualified}`);
    const r = rows[0];
    if (r) await dest.query(`select setval($1::regclass, $2::bigint, $3)`, [s.qualified, r.last_value, r.is_called]);
  }
}
