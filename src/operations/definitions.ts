/**
 * Keeping the model's stored definitions (index and constraint SQL from the catalog or
 * from earlier steps) true after a rename in the same manifest, so an inverse that
 * replays one recreates the object under the names it has by then.
 */
import { quoteIdent } from '../db/ident';
import type { ConstraintModel } from '../db/schema-model';
import type { Rel } from './model';

const BARE = /^[a-z_][a-z0-9_$]*$/;

/** Whether an index definition mentions `name` as an identifier (quoted, or bare). */
export function mentionsColumn(definition: string, name: string): boolean {
  const using = definition.search(/ USING | \(/);
  const body = using === -1 ? definition : definition.slice(using);
  if (body.includes(`"${name.replaceAll('"', '""')}"`)) return true;
  if (!BARE.test(name)) return false;
  return new RegExp(`(^|[^\\w$."])${name.replaceAll('$', '\\$')}($|[^\\w$"(])`).test(body);
}

/** Replaces the identifier `from` (quoted, or bare when it can be) with `to`, quoted, throughout `text`. */
function renameIdentifier(text: string, from: string, to: string): string {
  let out = text.replaceAll(`"${from.replaceAll('"', '""')}"`, quoteIdent(to));
  if (BARE.test(from)) {
    out = out.replace(new RegExp(`(^|[^\\w$."])${from.replaceAll('$', '\\$')}(?=$|[^\\w$"(])`, 'g'), (_m, before: string) => `${before}${quoteIdent(to)}`);
  }
  return out;
}

/**
 * Rewrites references to a renamed column in an index or constraint definition (after
 * its name: from ` USING ` or the first ` (`), so a later drop in the same manifest
 * recreates it with the column's new name.
 */
export function renameInDefinition(definition: string, from: string, to: string): string {
  const start = definition.search(/ USING | \(/);
  if (start === -1) return definition;
  return definition.slice(0, start) + renameIdentifier(definition.slice(start), from, to);
}

/** A regex source matching one identifier written quoted, or bare when it can be. */
function identPattern(name: string): string {
  const quoted = `"${name.replaceAll('"', '""')}"`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return BARE.test(name) ? `(?:${quoted}|${name.replaceAll('$', '\\$')})` : quoted;
}

/** Replaces `schema.table` (quoted or bare, as pg_get_*def or Godwit wrote it) with `to`. */
export function retargetTable(definition: string, from: Rel, to: Rel): string {
  const pattern = new RegExp(`(^|[^\\w$."])${identPattern(from.schema)}\\s*\\.\\s*${identPattern(from.name)}(?=$|[^\\w$"])`, 'g');
  return definition.replace(pattern, (_m, before: string) => `${before}${to.sql}`);
}

/** `CREATE [UNIQUE] INDEX old ON ...` → `CREATE [UNIQUE] INDEX "new" ON ...` */
export function renameIndexInDefinition(definition: string, to: string): string {
  return definition.replace(/^(CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?)(?:"(?:[^"]|"")+"|\S+)(?= ON )/, (_m, head: string) => `${head}${quoteIdent(to)}`);
}

/**
 * Renames a column in a constraint: `local` for a column of the constrained table,
 * `referenced` for a column of the table a foreign key references (only the column
 * list after REFERENCES changes).
 */
export function renameColumnInConstraint(c: ConstraintModel, from: string, to: string, side: 'local' | 'referenced'): void {
  const at = c.definition.indexOf(' REFERENCES ');
  if (side === 'local') {
    c.columns = c.columns.map((name) => (name === from ? to : name));
    c.definition = at === -1 ? renameInDefinition(c.definition, from, to) : renameInDefinition(c.definition.slice(0, at), from, to) + c.definition.slice(at);
    return;
  }
  if (c.references !== undefined) c.references.columns = c.references.columns.map((name) => (name === from ? to : name));
  if (at === -1) return;
  const open = c.definition.indexOf('(', at);
  const close = open === -1 ? -1 : c.definition.indexOf(')', open);
  if (close === -1) return;
  const list = c.definition.slice(open, close + 1);
  c.definition = c.definition.slice(0, open) + renameIdentifier(list, from, to) + c.definition.slice(close + 1);
}
