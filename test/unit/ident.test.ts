import { describe, expect, it } from 'vitest';
import {
  byteLength,
  displayName,
  IdentifierError,
  identifierProblem,
  parseQualifiedName,
  qualifiedKey,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
} from '../../src/db/ident';

/** Reads one double-quoted identifier from the start of `sql` the way Postgres' lexer does. */
function readQuotedIdentifier(sql: string): { name: string; rest: string } {
  expect(sql[0]).toBe('"');
  let name = '';
  let i = 1;
  for (;;) {
    if (i >= sql.length) throw new Error('unterminated identifier');
    if (sql[i] === '"') {
      if (sql[i + 1] === '"') {
        name += '"';
        i += 2;
        continue;
      }
      return { name, rest: sql.slice(i + 1) };
    }
    name += sql[i];
    i++;
  }
}

describe('quoteIdent', () => {
  it.each([
    ['users', '"users"'],
    ['Users', '"Users"'],
    ['select', '"select"'],
    ['a"b', '"a""b"'],
    ['ユーザー', '"ユーザー"'],
  ])('quotes %j as %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it.each(['x"; drop table y;--', '"', '""', 'a" OR "b', 'emoji 🦤 name', "it's", 'a.b', 'x\nDROP TABLE y'])(
    'keeps the hostile name %j exactly one identifier',
    (name) => {
      const { name: read, rest } = readQuotedIdentifier(quoteIdent(name));
      expect(read).toBe(name);
      expect(rest).toBe('');
    },
  );

  it('accepts a name of exactly 63 bytes', () => {
    expect(quoteIdent('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
  });

  it('rejects a name longer than 63 bytes, saying Postgres would truncate it', () => {
    expect(() => quoteIdent('a'.repeat(64))).toThrow(/64 bytes long; Postgres silently truncates names to 63 bytes/);
  });

  it('counts bytes, not characters: 22 three-byte characters (66 bytes) are too long', () => {
    const name = 'ユ'.repeat(22);
    expect(name.length).toBe(22);
    expect(() => quoteIdent(name)).toThrow(IdentifierError);
  });

  it('counts a 4-byte emoji as 4 bytes', () => {
    expect(byteLength('🦤')).toBe(4);
    expect(identifierProblem('🦤'.repeat(15) + 'abc')).toBeNull();
    expect(identifierProblem('🦤'.repeat(16))).toMatch(/64 bytes/);
  });

  it('rejects an empty name', () => {
    expect(() => quoteIdent('')).toThrow(/cannot be empty/);
  });

  it('rejects a NUL character', () => {
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });

  it('throws IdentifierError carrying the offending name', () => {
    const error = (() => {
      try {
        quoteIdent('');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(IdentifierError);
    expect((error as IdentifierError).identifier).toBe('');
  });
});

describe('parseQualifiedName', () => {
  it.each([
    ['users', { schema: 'public', name: 'users' }],
    ['billing.invoices', { schema: 'billing', name: 'invoices' }],
    ['"a.b"', { schema: 'public', name: 'a.b' }],
    ['s."x.y"', { schema: 's', name: 'x.y' }],
    ['"my schema"."my ""table"""', { schema: 'my schema', name: 'my "table"' }],
    ['Users', { schema: 'public', name: 'Users' }],
    ['x"; drop table y;--', { schema: 'public', name: 'x"; drop table y;--' }],
    ['ユーザー', { schema: 'public', name: 'ユーザー' }],
  ])('parses %j', (text, expected) => {
    expect(parseQualifiedName(text)).toEqual(expected);
  });

  it('uses the given default schema', () => {
    expect(parseQualifiedName('users', 'app')).toEqual({ schema: 'app', name: 'users' });
  });

  it.each([
    ['', /a part is empty/],
    ['.users', /a part is empty/],
    ['billing.', /ends with a dot/],
    ['a.b.c', /at most schema.name/],
    ['"unterminated', /no closing double quote/],
    ['"a"b', /followed by a dot/],
    [`billing.${'x'.repeat(64)}`, /64 bytes long/],
  ])('rejects %j', (text, message) => {
    expect(() => parseQualifiedName(text)).toThrow(message);
  });
});

describe('qualified names', () => {
  it('quoteQualified quotes both parts', () => {
    expect(quoteQualified({ schema: 'billing', name: 'in"voices' })).toBe('"billing"."in""voices"');
  });

  it('qualifiedKey is schema.name unquoted', () => {
    expect(qualifiedKey({ schema: 'public', name: 'users' })).toBe('public.users');
  });

  it.each([
    [{ schema: 'public', name: 'users' }, 'users'],
    [{ schema: 'billing', name: 'invoices' }, 'billing.invoices'],
  ])('displayName of %j is %s', (q, shown) => {
    expect(displayName(q)).toBe(shown);
  });
});

describe('quoteLiteral', () => {
  it('doubles single quotes', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
  });

  it('uses the E form when there is a backslash', () => {
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
  });
});
