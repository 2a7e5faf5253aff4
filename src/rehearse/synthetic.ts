import type pg from 'pg';
import { quoteIdent } from '../db/ident';
import { parentsFirst, type CopyCatalog, type CopyColumn, type CopyForeignKey, type CopyTable } from './catalog';
import { Prng } from './prng';

export interface SyntheticResult {
  counts: Map<string, number>;
  /** Tables that got fewer rows than asked, and the last reason a row was refused. */
  notes: string[];
}

/** How many rows a table may try per row it is asked for before it gives up. */
const ATTEMPTS_PER_ROW = 8;

const EPOCH = Date.UTC(2020, 0, 1);

/**
 * Fills the scratch database (its schema complete: keys, unique indexes, checks and foreign
 * keys in place) with rows made from its types, deterministic from `seed`. Parents go first,
 * so a foreign key takes a value its parent has; a self-reference takes one of the rows made
 * before it (or none, where it may be null). The database is the judge of everything else:
 * a row that breaks a CHECK, a UNIQUE or a domain is refused and another one is tried.
 */
export async function fillSynthetic(dest: pg.ClientBase, catalog: CopyCatalog, perTable: number, seed: string, onProgress: (table: string, rows: number) => void = () => undefined): Promise<SyntheticResult> {
  const rng = new Prng(seed);
  const counts = new Map<string, number>();
  const notes: string[] = [];
  for (const table of parentsFirst(catalog)) {
    const { rows, lastError } = await fillTable(dest, catalog, table, perTable, rng);
    counts.set(table.label, rows);
    onProgress(table.label, rows);
    if (rows < perTable) notes.push(`${table.label}: ${rows} of ${perTable} synthetic rows${lastError ? ` (last refusal: ${lastError})` : ''}`);
  }
  return { counts, notes };
}

interface KeyChoice {
  fk: CopyForeignKey;
  /** The parent's key tuples, as text, in a stable order. */
  keys: (string | null)[][];
  self: boolean;
}

async function fillTable(dest: pg.ClientBase, catalog: CopyCatalog, table: CopyTable, perTable: number, rng: Prng): Promise<{ rows: number; lastError: string | null }> {
  const fks = catalog.foreignKeys.filter((f) => f.child === table.qualified);
  const choices: KeyChoice[] = [];
  for (const fk of fks) {
    const self = fk.parent === table.qualified;
    const keys = self ? [] : await parentKeys(dest, fk);
    choices.push({ fk, keys, self });
  }
  const fkColumns = new Set(fks.flatMap((f) => f.childColumns));
  const written = table.columns.filter((c) => !c.generated && !(c.generatedKey && !fkColumns.has(c.name)));
  if (written.length === 0) return { rows: 0, lastError: 'no column can be written' };
  const selfChoices = choices.filter((c) => c.self);
  const returning = [...new Set(selfChoices.flatMap((c) => c.fk.parentColumns))];
  const sql =
    `insert into ${table.qualified} (${written.map((c) => quoteIdent(c.name)).join(', ')}) values (${written.map((c, i) => `cast($${i + 1} as ${c.type})`).join(', ')})` +
    (returning.length > 0 ? ` returning ${returning.map((c) => `${quoteIdent(c)}::text as ${quoteIdent(c)}`).join(', ')}` : '');

  let rows = 0;
  let lastError: string | null = null;
  for (let attempt = 0; rows < perTable && attempt < perTable * ATTEMPTS_PER_ROW; attempt++) {
    const values = new Map<string, string | null>();
    for (const c of written) if (!fkColumns.has(c.name)) values.set(c.name, c.notNull || !rng.chance(0.1) ? valueFor(c, rng) : null);
    for (const choice of choices) assignKey(choice, table, values, rng);
    try {
      const r = await dest.query<Record<string, string>>(
        sql,
        written.map((c) => values.get(c.name) ?? null),
      );
      rows++;
      const made = r.rows[0];
      if (made) for (const choice of selfChoices) choice.keys.push(choice.fk.parentColumns.map((c) => made[c] ?? null));
    } catch (err) {
      lastError = (err as Error).message;
    }
  }
  return { rows, lastError };
}

async function parentKeys(dest: pg.ClientBase, fk: CopyForeignKey): Promise<string[][]> {
  const cols = fk.parentColumns.map(quoteIdent);
  const { rows } = await dest.query<{ k: string[] }>(`select array[${cols.map((c) => `${c}::text`).join(', ')}] as k from ${fk.parent} where ${cols.map((c) => `${c} is not null`).join(' and ')} order by ${cols.join(', ')}`);
  return rows.map((r) => r.k);
}

/**
 * A foreign key's columns: one parent row's key; null where every column may be null (one
 * time in ten, and always when there is no parent row yet); the row's own key for the first
 * row of a self-reference that may not be null, when that key is made here.
 */
function assignKey(choice: KeyChoice, table: CopyTable, values: Map<string, string | null>, rng: Prng): void {
  const cols = choice.fk.childColumns.map((name) => table.columns.find((c) => c.name === name)!);
  const nullable = cols.every((c) => !c.notNull);
  if (choice.keys.length === 0 || (nullable && rng.chance(0.1))) {
    if (nullable) {
      for (const c of cols) values.set(c.name, null);
      return;
    }
    if (choice.self) {
      // The first row refers to itself, when its key is one of the columns made here.
      for (const [i, c] of cols.entries()) values.set(c.name, values.get(choice.fk.parentColumns[i]!) ?? null);
      return;
    }
    for (const c of cols) values.set(c.name, null); // refused by NOT NULL; the table stays short, and the note says why
    return;
  }
  const key = rng.pick(choice.keys);
  for (const [i, c] of cols.entries()) values.set(c.name, key[i] ?? null);
}

/** A text value the column's type reads, chosen from ranges that fit common CHECKs (small, positive) and large ones that keep UNIQUE columns apart. */
export function valueFor(c: CopyColumn, rng: Prng): string {
  if (c.enumLabels && c.enumLabels.length > 0) return rng.pick(c.enumLabels);
  const t = c.baseType;
  const small = () => rng.pick([rng.int(0, 10), rng.int(1, 100), rng.int(1, 1_000_000)]);
  if (t === 'smallint') return String(rng.pick([rng.int(0, 10), rng.int(1, 32_000)]));
  if (t === 'integer' || t === 'bigint' || t === 'oid') return String(small());
  if (t.startsWith('numeric')) {
    const scale = c.scale ?? 2;
    const whole = c.precision !== null ? Math.max(0, c.precision - scale) : 6;
    const max = Math.min(10 ** Math.min(whole, 6), 1_000_000);
    const v = rng.pick([rng.int(0, Math.min(10, max)), rng.next() * max]);
    return Math.min(v, max - 10 ** -scale).toFixed(scale);
  }
  if (t === 'real' || t === 'double precision') return (rng.pick([rng.int(0, 10), rng.next() * 1000]) as number).toFixed(3);
  if (t === 'money') return (rng.int(0, 100_000) / 100).toFixed(2);
  if (t === 'boolean') return rng.chance(0.5) ? 'true' : 'false';
  if (t === 'uuid') {
    const h = rng.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  if (t === 'date') return new Date(EPOCH + rng.int(0, 2000) * 86_400_000).toISOString().slice(0, 10);
  if (t.startsWith('timestamp')) return new Date(EPOCH + rng.int(0, 2000 * 86_400) * 1000).toISOString();
  if (t.startsWith('time')) return `${String(rng.int(0, 23)).padStart(2, '0')}:${String(rng.int(0, 59)).padStart(2, '0')}:00`;
  if (t.startsWith('interval')) return `${rng.int(0, 100)} minutes`;
  if (t === 'json' || t === 'jsonb') return JSON.stringify({ n: rng.int(0, 1000) });
  if (t === 'bytea') return `\\x${rng.hex(16)}`;
  if (t === 'inet' || t === 'cidr') return `10.${rng.int(0, 255)}.${rng.int(0, 255)}.0/24`;
  if (t === 'macaddr') return Array.from({ length: 6 }, () => rng.hex(2)).join(':');
  if (c.category === 'A') return '{}';
  if (t.startsWith('bit')) return '0'.repeat(c.maxLength ?? 1);
  if (c.category === 'S' || t === 'xml' || c.category === 'X') {
    const name = c.name.toLowerCase();
    let s = name.includes('email') ? `${rng.hex(10)}@example.com` : `${c.name}-${rng.hex(10)}`;
    if (t === 'xml') s = `<v>${rng.hex(8)}</v>`;
    return c.maxLength !== null ? s.slice(-c.maxLength) : s;
  }
  return '0';
}
