/**
 * Zod building blocks for operation specs. Every field carries a description of
 * what it expects in words a user understands, so a manifest error reads
 * `column.type: expected a string (the column's SQL type, e.g. text), got the number 42`
 * instead of zod's generic text.
 */
import { z } from 'zod';
import { identifierProblem, parseQualifiedName, IdentifierError } from '../db/ident';
import { didYouMean } from './suggest';

type RawIssue = z.core.$ZodRawIssue;

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/**
 * An error function for one field: `expected` is the kind of value (`a string`,
 * `true or false`), `what` says what the field is for.
 */
export function friendly(expected: string, what: string) {
  return (iss: RawIssue): string | undefined => {
    const about = `${expected} (${what})`;
    switch (iss.code) {
      case 'invalid_type': {
        if (iss.input === undefined) return `missing required field: expected ${about}`;
        const quoteHint =
          typeof iss.input === 'number' && expected.includes('string') ? '; put it in quotes to keep it as text' : '';
        return `expected ${about}, got ${describeValue(iss.input)}${quoteHint}`;
      }
      case 'invalid_value': {
        const values = iss.values.map(String);
        const got = typeof iss.input === 'string' ? didYouMean(iss.input, values) : '';
        return `expected one of ${values.join(', ')} (${what}), got ${describeValue(iss.input)}${got}`;
      }
      case 'too_small':
        return iss.origin === 'array' ? `needs at least ${String(iss.minimum)} item(s) (${what})` : `expected ${about}, not empty`;
      case 'too_big':
        return `is too large: at most ${String(iss.maximum)} (${what})`;
      default:
        return undefined;
    }
  };
}

/** The last word on issues no field described: used as the parse-level error map. */
export function fallbackError(iss: RawIssue): string {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? `missing required field: expected ${iss.expected}` : `expected ${iss.expected}, got ${describeValue(iss.input)}`;
    case 'unrecognized_keys':
      return iss.keys.map((k) => `unknown field '${k}'`).join('\n');
    case 'invalid_union':
      return 'does not match any of the accepted forms';
    case 'invalid_value':
      return `expected one of ${iss.values.map(String).join(', ')}, got ${describeValue(iss.input)}`;
    case 'invalid_key':
      // A mapping key (a column name in backfill's set) that is not valid: say why.
      return iss.issues.map((inner) => inner.message).join('; ') || 'invalid key';
    default:
      return iss.message ?? 'invalid value';
  }
}

/**
 * A mapping that rejects unknown fields. Each unknown key gets its own line of the
 * message (same order as the issue's `keys`), which the manifest loader splits into
 * one problem per key.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T, what: string, expected = 'a mapping') {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        return iss.keys
          .map((k) => `unknown field '${k}'${didYouMean(k, allowed)}; allowed fields: ${allowed.join(', ')}`)
          .join('\n');
      }
      return friendly(expected, what)(iss);
    },
  });
}

/** A non-empty string. */
export function text(what: string) {
  return z.string({ error: friendly('a string', what) }).min(1);
}

/** A single identifier (column, constraint or index name), checked by quoteIdent's rules. */
export function identifier(what: string) {
  return z.string({ error: friendly('a string', what) }).check((ctx) => {
    const problem = identifierProblem(ctx.value);
    if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  });
}

/** A table-like name, `users` or `billing.invoices`, checked by parseQualifiedName. */
export function qualifiedName(what: string) {
  return z.string({ error: friendly('a string', what) }).check((ctx) => {
    try {
      parseQualifiedName(ctx.value);
    } catch (e) {
      if (!(e instanceof IdentifierError)) throw e;
      ctx.issues.push({ code: 'custom', message: e.message, input: ctx.value });
    }
  });
}

/**
 * A SQL fragment pasted verbatim (default, check, where, expression...). Numbers and
 * booleans are accepted as their SQL text, since YAML reads `default: 0` as a number.
 */
export function expression(what: string) {
  return z.preprocess(
    (v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v),
    z.string({ error: friendly('a string', `${what}; SQL, pasted verbatim`) }).min(1),
  );
}

/**
 * Why `type` is not an acceptable column type, or null. Types are pasted verbatim,
 * so this keeps them to type-name characters: no `;`, no comments, no comma outside
 * parentheses (which would start another column or ALTER TABLE action).
 */
export function sqlTypeProblem(type: string): string | null {
  let depth = 0;
  let quoted = false;
  for (const ch of type) {
    if (quoted) {
      if (ch === '"') quoted = false;
      else if (ch === ';' || ch === '\0' || ch === '\n' || ch === '\r') return `a type cannot contain ${JSON.stringify(ch)}`;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '(') depth++;
    else if (ch === ')') {
      if (--depth < 0) return 'unbalanced parentheses';
    } else if (ch === ',') {
      if (depth === 0) return 'a comma is only allowed inside parentheses, as in numeric(10, 2)';
    } else if (!/[\p{L}\p{N}_ .[\]]/u.test(ch)) {
      return `a type cannot contain ${JSON.stringify(ch)}; use letters, digits, spaces and _ . " [ ] ( ) , only`;
    }
  }
  if (quoted) return 'a double quote is not closed';
  if (depth !== 0) return 'unbalanced parentheses';
  if (type.trim().length === 0) return 'a type cannot be empty';
  return null;
}

/** A column's SQL type, e.g. `text`, `numeric(10, 2)`, `timestamptz`, `int[]`. */
export function sqlType() {
  return z.string({ error: friendly('a string', "the column's SQL type, e.g. text") }).check((ctx) => {
    const problem = sqlTypeProblem(ctx.value);
    if (problem !== null) ctx.issues.push({ code: 'custom', message: `invalid column type: ${problem}`, input: ctx.value });
  });
}

export function flag(what: string) {
  return z.boolean({ error: friendly('true or false', what) });
}

/** One of `values`, case-insensitive, spaces read as `_` (`SET NULL` = `set_null`). */
export function choice<const V extends readonly [string, ...string[]]>(values: V, what: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase().replace(/\s+/g, '_') : v),
    z.enum(values, { error: friendly(`one of ${values.join(', ')}`, what) }),
  );
}

/** A list with at least `min` items. */
export function list<T extends z.ZodType>(item: T, what: string, min = 0) {
  return z.array(item, { error: friendly('a list', what) }).min(min);
}

/** `on_delete` / `on_update` actions. */
export const referentialAction = (what: string) =>
  choice(['cascade', 'restrict', 'set_null', 'set_default', 'no_action'] as const, what);
export type ReferentialAction = 'cascade' | 'restrict' | 'set_null' | 'set_default' | 'no_action';
