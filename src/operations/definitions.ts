/**
 * Reading and rewriting the definitions the schema model stores (index and constraint SQL
 * from pg_get_indexdef / pg_get_constraintdef, or as Godwit wrote them), so that an inverse
 * replaying one after a rename in the same manifest recreates the object under the names it
 * has by then.
 *
 * The Postgres parser says which identifiers are the column, table or index in question;
 * the lexer says where they are in the text. A rewrite replaces those tokens and nothing
 * else, so strings, comments, dollar quotes, casts and spacing stay as the catalog wrote
 * them. (No deparse: it would reformat the whole definition, and the deparsers at hand do
 * not round-trip every clause; pgsql-deparser 18.3.8 drops a UNIQUE constraint's INCLUDE.)
 */
import type { Constraint, IndexElem, IndexStmt, Node, RangeVar, ScanToken } from 'libpg-query';
import { quoteIdent } from '../db/ident';
import type { ConstraintModel } from '../db/schema-model';
import type { Rel } from './model';
import { parseStatements, scanTokens } from './sql-parser';

/** What an index definition says about its columns, read from its parse tree. */
export interface IndexReading {
  /** Each key: the column it is (with an opclass, collation or ordering at most), or the columns its expression reads. */
  keys: { column?: string; reads: string[] }[];
  /** The columns of its INCLUDE list. */
  included: string[];
  /** The columns its WHERE predicate reads. */
  predicate: string[];
  nullsNotDistinct: boolean;
}

export function readIndexDefinition(definition: string): IndexReading {
  const { stmt } = parseIndex(definition);
  const names = (tree: unknown) => [...new Set(columnRefs(tree).flatMap((ref) => sval(ref.fields?.at(-1)) ?? []))];
  return {
    keys: (stmt.indexParams ?? []).map((p) => {
      const e = elem(p);
      return e?.name !== undefined ? { column: e.name, reads: [] } : { reads: names(e?.expr) };
    }),
    included: (stmt.indexIncludingParams ?? []).flatMap((p) => elem(p)?.name ?? []),
    predicate: names(stmt.whereClause),
    nullsNotDistinct: stmt.nulls_not_distinct === true,
  };
}

/** Whether an index definition mentions the column `name`: as a key, in an expression, in INCLUDE or in WHERE. */
export function mentionsColumn(definition: string, name: string): boolean {
  const index = readIndexDefinition(definition);
  return index.keys.some((k) => k.column === name || k.reads.includes(name)) || index.included.includes(name) || index.predicate.includes(name);
}

/**
 * Renames the column `from` to `to` wherever an index or constraint definition refers to it
 * (keys, INCLUDE, expressions, WHERE, a foreign key's own columns; not the columns it
 * references), so a later drop in the same manifest recreates it with the column's new name.
 */
export function renameInDefinition(definition: string, from: string, to: string): string {
  return /^\s*CREATE\b/i.test(definition) ? renameInIndex(definition, from, to) : renameInConstraint(definition, from, to, 'local');
}

/** Replaces the table `from` (where the definition names it: ON, REFERENCES) with `to`. */
export function retargetTable(definition: string, from: Rel, to: Rel): string {
  const isFrom = (rv: RangeVar | undefined) => rv !== undefined && rv.relname === from.name && (rv.schemaname ?? 'public') === from.schema;
  if (/^\s*CREATE\b/i.test(definition)) {
    const index = parseIndex(definition);
    if (isFrom(index.stmt.relation)) index.text.replaceRelation(index.stmt.relation!, to.sql);
    return index.text.result();
  }
  const c = parseConstraint(definition);
  if (isFrom(c.node.pktable)) c.text.replaceRelation(c.node.pktable!, to.sql);
  return c.text.result();
}

/** `CREATE [UNIQUE] INDEX old ON ...` → `CREATE [UNIQUE] INDEX "new" ON ...` */
export function renameIndexInDefinition(definition: string, to: string): string {
  const { stmt, text } = parseIndex(definition);
  const on = text.keywordBefore('ON', text.at(stmt.relation?.location));
  if (stmt.idxname === undefined) text.insertBefore(on, `${quoteIdent(to)} `);
  else text.replaceIdentifier(on - 1, stmt.idxname, quoteIdent(to));
  return text.result();
}

/** `CREATE [UNIQUE] INDEX ...` → `CREATE [UNIQUE] INDEX CONCURRENTLY ...` (unchanged when it already is). */
export function concurrentIndexDefinition(definition: string): string {
  const { stmt, text } = parseIndex(definition);
  // The first INDEX: an index may be named index, which pg_get_indexdef leaves unquoted.
  if (stmt.concurrent !== true) text.insertAfter(text.keywordAfter('INDEX', -1), ' CONCURRENTLY');
  return text.result();
}

/**
 * Renames a column in a constraint: `local` for a column of the constrained table,
 * `referenced` for a column of the table a foreign key references (only the column
 * list after REFERENCES changes).
 */
export function renameColumnInConstraint(c: ConstraintModel, from: string, to: string, side: 'local' | 'referenced'): void {
  if (side === 'local') c.columns = c.columns.map((name) => (name === from ? to : name));
  else if (c.references !== undefined) c.references.columns = c.references.columns.map((name) => (name === from ? to : name));
  c.definition = renameInConstraint(c.definition, from, to, side);
}

// --- the rewrites -------------------------------------------------------------------------

function renameInIndex(definition: string, from: string, to: string): string {
  const { stmt, text } = parseIndex(definition);
  const keys = text.groupAfter(text.at(stmt.relation?.location));
  text.renameNamedElements(keys, stmt.indexParams, from, to);
  if (stmt.indexIncludingParams !== undefined) text.renameNamedElements(text.groupAfter(text.keywordAfter('INCLUDE', keys.close)), stmt.indexIncludingParams, from, to);
  text.renameColumnRefs(stmt, from, to);
  return text.result();
}

function renameInConstraint(definition: string, from: string, to: string, side: 'local' | 'referenced'): string {
  const { node, text } = parseConstraint(definition);
  const first = text.first;
  if (side === 'referenced') {
    if (node.pktable !== undefined && node.pk_attrs !== undefined) text.renameNamedElements(text.groupAfter(text.at(node.pktable.location)), node.pk_attrs, from, to);
    return text.result();
  }
  switch (node.contype) {
    case 'CONSTR_PRIMARY':
    case 'CONSTR_UNIQUE': {
      const keys = text.groupAfter(first);
      text.renameNamedElements(keys, node.keys, from, to);
      if (node.including !== undefined) text.renameNamedElements(text.groupAfter(text.keywordAfter('INCLUDE', keys.close)), node.including, from, to);
      break;
    }
    case 'CONSTR_FOREIGN':
      text.renameNamedElements(text.groupAfter(first), node.fk_attrs, from, to);
      // ON DELETE SET NULL (columns) / SET DEFAULT (columns): columns of this table too.
      if (node.fk_del_set_cols !== undefined) text.renameNamedElements(text.groupAfter(text.keywordAfter('DELETE', first)), node.fk_del_set_cols, from, to);
      break;
    case 'CONSTR_EXCLUSION': {
      const elements = text.groupAfter(first);
      // Each exclusion is a List of [IndexElem, operator name]: the element starts its item.
      text.renameNamedElements(elements, (node.exclusions ?? []).map((e) => (e as { List?: { items?: Node[] } }).List?.items?.[0] ?? ({} as Node)), from, to);
      if (node.including !== undefined) text.renameNamedElements(text.groupAfter(text.keywordAfter('INCLUDE', elements.close)), node.including, from, to);
      break;
    }
  }
  text.renameColumnRefs(node, from, to);
  return text.result();
}

// --- parsing --------------------------------------------------------------------------------

function parseIndex(definition: string): { stmt: IndexStmt; text: DefinitionText } {
  const [statement] = parseStatements(definition);
  const stmt = (statement as { IndexStmt?: IndexStmt } | undefined)?.IndexStmt;
  if (stmt === undefined) throw new Error(`internal error: not an index definition: ${definition}`);
  return { stmt, text: new DefinitionText('', definition) };
}

/** A constraint definition (`CHECK (...)`, `FOREIGN KEY (...) REFERENCES ...`), parsed as the ADD of an ALTER TABLE. */
function parseConstraint(definition: string): { node: Constraint; text: DefinitionText } {
  const prefix = 'ALTER TABLE t ADD ';
  const [statement] = parseStatements(prefix + definition);
  const cmd = (statement as { AlterTableStmt?: { cmds?: Node[] } } | undefined)?.AlterTableStmt?.cmds?.[0];
  const node = (cmd as { AlterTableCmd?: { def?: { Constraint?: Constraint } } } | undefined)?.AlterTableCmd?.def?.Constraint;
  if (node === undefined) throw new Error(`internal error: not a constraint definition: ${definition}`);
  return { node, text: new DefinitionText(prefix, definition) };
}

interface ColumnRefNode {
  fields?: Node[];
  location?: number;
}

/** Every column reference under `tree` (expressions, WHERE clauses), in no particular order. */
function columnRefs(tree: unknown, out: ColumnRefNode[] = []): ColumnRefNode[] {
  if (Array.isArray(tree)) {
    for (const item of tree) columnRefs(item, out);
  } else if (tree !== null && typeof tree === 'object') {
    for (const [key, child] of Object.entries(tree)) {
      if (key === 'ColumnRef') out.push(child as ColumnRefNode);
      else columnRefs(child, out);
    }
  }
  return out;
}

const sval = (node: Node | undefined): string | undefined => (node as { String?: { sval?: string } } | undefined)?.String?.sval;
const elem = (node: Node): IndexElem | undefined => (node as { IndexElem?: IndexElem }).IndexElem;

/** `name`, or `t.name` (the only table a definition's expressions can see). */
const refersTo = (ref: ColumnRefNode, name: string): boolean => sval(ref.fields?.at(-1)) === name;

/** The value of an identifier token: unquoted, or without its quotes and with `""` as `"`. */
function identifierValue(token: ScanToken): string {
  return token.text.startsWith('"') ? token.text.slice(1, -1).replaceAll('""', '"') : token.text.toLowerCase();
}

/** A parenthesised list: the token indexes of its parentheses, and of each item's [first, end). */
interface Group {
  open: number;
  close: number;
  items: [number, number][];
}

/**
 * A definition's text with its tokens (comments left out), and the edits to make to it.
 * Offsets are bytes of the UTF-8 text, as the parser and lexer count them.
 */
class DefinitionText {
  private readonly bytes: Buffer;
  private readonly tokens: ScanToken[];
  private readonly edits: { start: number; end: number; text: string }[] = [];
  private readonly prefixBytes: number;

  constructor(prefix: string, definition: string) {
    this.bytes = Buffer.from(prefix + definition, 'utf8');
    this.prefixBytes = Buffer.byteLength(prefix, 'utf8');
    this.tokens = scanTokens(prefix + definition).filter((t) => t.tokenName !== 'C_COMMENT' && t.tokenName !== 'SQL_COMMENT');
  }

  /** The first token of the definition itself (after the prefix). */
  get first(): number {
    return this.tokens.findIndex((t) => t.start >= this.prefixBytes);
  }

  /** The token that starts at `location`. */
  at(location: number | undefined): number {
    const i = this.tokens.findIndex((t) => t.start === location);
    if (i === -1) throw new Error(`internal error: no token at ${String(location)} in ${this.text()}`);
    return i;
  }

  /** The last unquoted keyword `word` before token `before`. */
  keywordBefore(word: string, before: number): number {
    for (let i = before - 1; i >= 0; i--) if (this.tokens[i]!.text.toUpperCase() === word) return i;
    throw new Error(`internal error: no ${word} in ${this.text()}`);
  }

  /** The first unquoted keyword `word` after token `after`. */
  keywordAfter(word: string, after: number): number {
    for (let i = after + 1; i < this.tokens.length; i++) if (this.tokens[i]!.text.toUpperCase() === word) return i;
    throw new Error(`internal error: no ${word} in ${this.text()}`);
  }

  /** The first parenthesised list at or after token `from`, split at its top-level commas. */
  groupAfter(from: number): Group {
    const open = this.tokens.findIndex((t, i) => i >= from && t.text === '(');
    if (open === -1) throw new Error(`internal error: no list in ${this.text()}`);
    const items: [number, number][] = [];
    let depth = 0;
    let start = open + 1;
    for (let i = open; i < this.tokens.length; i++) {
      const t = this.tokens[i]!.text;
      if (t === '(' || t === '[') depth++;
      else if (t === ')' || t === ']') depth--;
      if ((t === ',' && depth === 1) || depth === 0) {
        items.push([start, i]);
        start = i + 1;
      }
      if (depth === 0) return { open, close: i, items };
    }
    throw new Error(`internal error: unbalanced parentheses in ${this.text()}`);
  }

  /**
   * For each item of `group` whose node (an IndexElem with a name, or a String) is the column
   * `from`: its first token, which names it, becomes `to`.
   */
  renameNamedElements(group: Group, nodes: Node[] | undefined, from: string, to: string): void {
    (nodes ?? []).forEach((node, i) => {
      const name = elem(node)?.name ?? sval(node);
      const item = group.items[i];
      if (name !== from || item === undefined) return;
      this.replaceIdentifier(item[0], from, quoteIdent(to));
    });
  }

  /** Every column reference to `from` under `tree` becomes `to` (its last field, where it is qualified). */
  renameColumnRefs(tree: unknown, from: string, to: string): void {
    for (const ref of columnRefs(tree)) {
      if (!refersTo(ref, from)) continue;
      // `a.b.c` lexes as a, ., b, ., c: the last field is two tokens on per field.
      this.replaceIdentifier(this.at(ref.location) + 2 * ((ref.fields?.length ?? 1) - 1), from, quoteIdent(to));
    }
  }

  /** A relation's name, `[schema.]name`, becomes `sql`. */
  replaceRelation(rv: RangeVar, sql: string): void {
    const first = this.at(rv.location);
    const last = this.identifier(first + (rv.catalogname !== undefined ? 4 : rv.schemaname !== undefined ? 2 : 0), rv.relname ?? '');
    this.edits.push({ start: this.tokens[first]!.start, end: last.end, text: sql });
  }

  /** Replaces token `i`, the identifier `expected`, with `text`. */
  replaceIdentifier(i: number, expected: string, text: string): void {
    const token = this.identifier(i, expected);
    this.edits.push({ start: token.start, end: token.end, text });
  }

  /** Token `i`, checked to be the identifier `expected`: where the parse tree and the lexer would disagree, nothing is rewritten. */
  private identifier(i: number, expected: string): ScanToken {
    const token = this.tokens[i];
    if (token === undefined || (!token.text.startsWith('U&') && identifierValue(token) !== expected)) {
      throw new Error(`internal error: expected the identifier ${expected} at token ${i} of ${this.text()}`);
    }
    return token;
  }

  insertBefore(i: number, text: string): void {
    const at = this.tokens[i]!.start;
    this.edits.push({ start: at, end: at, text });
  }

  insertAfter(i: number, text: string): void {
    const at = this.tokens[i]!.end;
    this.edits.push({ start: at, end: at, text });
  }

  /** The definition with the edits made. */
  result(): string {
    const parts: Buffer[] = [];
    let at = this.prefixBytes;
    for (const edit of [...this.edits].sort((a, b) => a.start - b.start)) {
      parts.push(this.bytes.subarray(at, edit.start), Buffer.from(edit.text, 'utf8'));
      at = edit.end;
    }
    parts.push(this.bytes.subarray(at));
    return Buffer.concat(parts).toString('utf8');
  }

  private text(): string {
    return this.bytes.subarray(this.prefixBytes).toString('utf8');
  }
}
