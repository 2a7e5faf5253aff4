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
