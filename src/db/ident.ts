/**
 * Identifier handling. Every identifier Godwit writes into SQL goes through
 * `quoteIdent`, so a name from a manifest is always exactly one identifier, whatever
 * it contains. Names are taken literally (case-sensitive): `Users` is the table
 * "Users", not `users` as unquoted SQL would fold it.
 */
import { GodwitError } from '../errors';

/** Postgres' NAMEDATALEN - 1: longer names are silently truncated by the server. */
export const MAX_IDENTIFIER_BYTES = 63;

export interface QualifiedName {
  schema: string;
  name: string;
}

/** Thrown when a name cannot be used as a Postgres identifier (empty, NUL, too long). */
export class IdentifierError extends GodwitError {
  override readonly name = 'IdentifierError';
  constructor(
    message: string,
    readonly identifier: string,
  ) {
    super(message);
  }
}

/** UTF-8 length in bytes (counted by hand so this module stays free of Node built-ins). */
export function byteLength(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = byteLength(ch);
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}

/** Why `name` is not a usable identifier, or null when it is. */
export function identifierProblem(name: string): string | null {
  if (name.length === 0) return 'a name cannot be empty';
  if (name.includes('\0')) return 'a name cannot contain a NUL character';
  const bytes = byteLength(name);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    return (
      `name is ${bytes} bytes long; Postgres silently truncates names to ${MAX_IDENTIFIER_BYTES} bytes ` +
      `(it would become "${truncateBytes(name, MAX_IDENTIFIER_BYTES)}"), so use a shorter name`
    );
  }
  return null;
}

/** Double-quotes `name` as one SQL identifier, doubling embedded quotes. */
export function quoteIdent(name: string): string {
  const problem = identifierProblem(name);
  if (problem !== null) throw new IdentifierError(`invalid identifier ${JSON.stringify(name)}: ${problem}`, name);
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Parses `users`, `billing.invoices`, `"a.b"` or `s."x.y"` into schema and name.
 * A part is quoted only when it starts with `"` (inside, `""` is one quote); an
 * unquoted part runs to the next dot and is taken literally. Throws IdentifierError
 * for an empty part, an unterminated quote, more than two parts, or a bad identifier.
 */
export function parseQualifiedName(text: string, defaultSchema = 'public'): QualifiedName {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new IdentifierError(`invalid name ${JSON.stringify(text)}: ${why}`, text);
  };
  for (;;) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('a quoted part has no closing double quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i];
        i++;
      }
      if (i < text.length && text[i] !== '.') fail('a quoted part must be followed by a dot or the end of the name');
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      part = text.slice(i, end);
      i = end;
    }
    if (part.length === 0) fail('expected a name like users or billing.invoices (a part is empty)');
    parts.push(part);
    if (i >= text.length) break;
    i++; // the dot
    if (i >= text.length) fail('expected a name like users or billing.invoices (it ends with a dot)');
  }
  if (parts.length > 2) fail('expected at most schema.name (quote a name that contains dots: "a.b")');
  for (const part of parts) {
    const problem = identifierProblem(part);
    if (problem !== null) fail(problem);
  }
  const [first, second] = parts;
  return second === undefined ? { schema: defaultSchema, name: first ?? '' } : { schema: first ?? '', name: second };
}

/** `"schema"."name"` */
export function quoteQualified(q: QualifiedName): string {
  return `${quoteIdent(q.schema)}.${quoteIdent(q.name)}`;
}

/** `schema.name`, unquoted: the key used by SchemaModel. */
export function qualifiedKey(q: QualifiedName): string {
  return `${q.schema}.${q.name}`;
}

/** For humans: `users` in schema public, otherwise `billing.invoices`. */
export function displayName(q: QualifiedName): string {
  return q.schema === 'public' ? q.name : `${q.schema}.${q.name}`;
}

/**
 * A SQL string literal. Uses the E'' form when the text holds a backslash, so the
 * result means the same whatever `standard_conforming_strings` is set to.
 */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('a SQL string cannot contain a NUL character');
  const doubled = text.replaceAll("'", "''");
  return text.includes('\\') ? `E'${doubled.replaceAll('\\', '\\\\')}'` : `'${doubled}'`;
}
