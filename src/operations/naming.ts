/**
 * The names Postgres gives unnamed indexes and constraints (ChooseRelationName,
 * ChooseIndexName and makeObjectName in src/backend/commands/indexcmds.c). Godwit
 * writes the chosen name into the SQL itself, so probes and inverses always know
 * it; following Postgres' rules keeps the names the ones users expect.
 */
import { byteLength, truncateBytes, MAX_IDENTIFIER_BYTES } from '../db/ident';

/** makeObjectName: `name1_name2_label`, shortening the longer of name1/name2 to fit 63 bytes. */
export function makeObjectName(name1: string, name2: string | undefined, label: string): string {
  let overhead = label.length > 0 ? byteLength(label) + 1 : 0;
  if (name2 !== undefined) overhead += 1;
  const available = MAX_IDENTIFIER_BYTES - overhead;
  let chars1 = byteLength(name1);
  let chars2 = name2 === undefined ? 0 : byteLength(name2);
  while (chars1 + chars2 > available) {
    if (chars1 > chars2) chars1--;
    else chars2--;
  }
  let result = truncateBytes(name1, chars1);
  if (name2 !== undefined) result += `_${truncateBytes(name2, chars2)}`;
  if (label.length > 0) result += `_${label}`;
  return result;
}

/** ChooseIndexNameAddition: column names joined by `_`, stopping once it is long enough. */
function nameAddition(columns: string[]): string {
  let out = '';
  for (const column of columns) {
    if (out.length > 0) out += '_';
    out += column;
    if (byteLength(out) >= MAX_IDENTIFIER_BYTES + 1) break;
  }
  return out;
}

/**
 * ChooseIndexColumnNames: the name an index column contributes. Expressions use the
 * function name for a call (`lower(email)` → `lower`) and `expr` otherwise; repeats
 * get a number (`expr`, `expr1`).
 */
export function indexColumnNames(columns: ({ column: string } | { expression: string })[]): string[] {
  const used = new Set<string>();
  return columns.map((c) => {
    const base = 'column' in c ? c.column : expressionName(c.expression);
    let name = base;
    for (let n = 1; used.has(name); n++) name = `${base}${n}`;
    used.add(name);
    return name;
  });
}

function expressionName(expression: string): string {
  const call = /^\s*(?:[A-Za-z_][A-Za-z0-9_$]*\s*\.\s*)?([A-Za-z_][A-Za-z0-9_$]*)\s*\(/.exec(expression);
  return call?.[1]?.toLowerCase() ?? 'expr';
}

export type IndexRole = 'index' | 'primary_key' | 'unique' | 'exclude';

/** The name Postgres gives an unnamed index or index-backed constraint on `table`. */
export function defaultIndexName(table: string, columnNames: string[], role: IndexRole): string {
  switch (role) {
    case 'primary_key':
      return makeObjectName(table, undefined, 'pkey');
    case 'unique':
      return makeObjectName(table, nameAddition(columnNames), 'key');
    case 'exclude':
      return makeObjectName(table, nameAddition(columnNames), 'excl');
    case 'index':
      return makeObjectName(table, nameAddition(columnNames), 'idx');
  }
}

/** Words that are not column references when they appear bare in an expression. */
const SQL_WORDS = new Set(
  (
    'all and any array as asc between both case cast collate current_date current_time current_timestamp current_user ' +
    'desc distinct else end escape exists false from ilike in is isnull like localtime localtimestamp not notnull null ' +
    'nulls or overlaps similar some symmetric then to true unknown when with without zone interval time timestamp'
  ).split(' '),
);

/**
 * The distinct column names an expression mentions, in order of first appearance: bare
 * words (folded to lower case) and quoted names, leaving out string literals, function
 * names, the type after `::`, and, when `columns` is known, anything that is not one of them.
 */
export function expressionColumns(expression: string, columns?: readonly string[]): string[] {
  const found: string[] = [];
  const token = /'(?:[^']|'')*'|"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)|::\s*(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)|[\s\S]/g;
  for (const m of expression.matchAll(token)) {
    const [whole, quoted, bare] = m;
    if (quoted === undefined && bare === undefined) continue;
    const rest = expression.slice((m.index ?? 0) + whole.length);
    if (/^\s*\(/.test(rest)) continue; // a function call
    if (/^\s*\./.test(rest)) continue; // a qualifier: the column is the next part
    const name = quoted !== undefined ? quoted.replaceAll('""', '"') : (bare ?? '').toLowerCase();
    if (quoted === undefined && columns === undefined && SQL_WORDS.has(name)) continue;
    if (columns !== undefined && !columns.includes(name)) continue;
    if (!found.includes(name)) found.push(name);
  }
  return found;
}

/** FNV-1a, 32 bits, as 8 hex digits: short, stable names for the objects one operation makes. */
export function shortDigest(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** makeObjectName with `label`, `label1`, `label2`...: the first name `taken` says is free (ChooseConstraintName). */
export function chooseName(name1: string, name2: string | undefined, label: string, taken: (name: string) => boolean = () => false): string {
  for (let n = 0; ; n++) {
    const name = makeObjectName(name1, name2, n === 0 ? label : `${label}${n}`);
    if (!taken(name)) return name;
  }
}

/**
 * The name Postgres gives an unnamed CHECK constraint (AddRelationNewConstraints):
 * `<table>_<column>_check` when the expression reads exactly one column, else `<table>_check`.
 */
export function defaultCheckName(table: string, expression: string, columns?: readonly string[], taken?: (name: string) => boolean): string {
  const used = expressionColumns(expression, columns);
  return chooseName(table, used.length === 1 ? used[0] : undefined, 'check', taken);
}

/** The name Postgres gives an unnamed foreign key: `<table>_<columns>_fkey`. */
export function defaultForeignKeyName(table: string, columns: string[], taken?: (name: string) => boolean): string {
  return chooseName(table, nameAddition(columns), 'fkey', taken);
}
