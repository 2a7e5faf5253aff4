/**
 * The real Postgres parser (libpg-query, compiled to WebAssembly) behind a synchronous
 * call, so planning stays synchronous. The module is loaded once, by `loadSqlParser()`,
 * which whoever plans awaits first; it is imported only then, so that code which never
 * plans (most CLI commands, the workflow bundle) never loads it.
 */
import type { Node, ParseResult, ScanToken } from 'libpg-query';
import { PlanError } from './types';
import { GodwitError } from '../errors';

let parseSync: ((sql: string) => ParseResult) | undefined;
let scanSync: ((sql: string) => { tokens: ScanToken[] }) | undefined;
let loading: Promise<void> | undefined;

/** Loads the parser (about 100 ms, once per process). Await it before planning a manifest. */
export function loadSqlParser(): Promise<void> {
  loading ??= Promise.resolve()
    .then(async () => {
      const lib = await import('libpg-query');
      await lib.loadModule();
      parseSync = lib.parseSync;
      scanSync = lib.scanSync;
    })
    .catch((err: unknown) => {
      loading = undefined; // so a later call can try again
      throw err;
    });
  return loading;
}

/** Thrown when an sql step is planned before `loadSqlParser()` resolved: a bug in the caller, not in the manifest. */
export class SqlParserNotLoadedError extends GodwitError {
  override readonly name = 'SqlParserNotLoadedError';
  constructor() {
    super('internal error: the SQL parser is not loaded; await loadSqlParser() (src/operations/sql-parser.ts) before planning a manifest');
  }
}

/** Thrown when SQL in a manifest does not parse. A PlanError, so it is reported like one, with where it is. */
export class SqlSyntaxError extends PlanError {
  constructor(
    message: string,
    path: string,
    /** 0-based, in characters (code points) of the SQL. */
    readonly position: number,
    /** 1-based. */
    readonly line: number,
    /** 1-based. */
    readonly column: number,
  ) {
    super(`${message}, at line ${line}, column ${column} of the SQL`, path, 'fix the SQL (Godwit reads it with the Postgres 18 parser to find what it writes)');
  }
}

/** The statements of `sql`, each as its parse tree node (`{ UpdateStmt: {...} }`). Throws SqlSyntaxError. */
export function parseStatements(sql: string, path = ''): Node[] {
  if (parseSync === undefined) throw new SqlParserNotLoadedError();
  // The parser refuses an empty string; SQL of only whitespace and comments parses to no statements.
  if (sql.trim() === '') return [];
  let result: ParseResult;
  try {
    result = parseSync(sql);
  } catch (err) {
    const details = (err as { sqlDetails?: { message: string; cursorPosition: number } }).sqlDetails;
    if (details === undefined) throw err;
    const { line, column } = lineAndColumn(sql, details.cursorPosition);
    throw new SqlSyntaxError(details.message, path, details.cursorPosition, line, column);
  }
  return (result.stmts ?? []).flatMap((raw) => (raw.stmt === undefined ? [] : [raw.stmt]));
}

/** Whether `loadSqlParser()` has resolved: planning that reads SQL can run. */
export function sqlParserLoaded(): boolean {
  return parseSync !== undefined;
}

/**
 * The tokens of `sql` as Postgres' own lexer reads it (comments included, as C_COMMENT and
 * SQL_COMMENT), with `start`/`end` in bytes of its UTF-8 encoding, like the parse tree's
 * `location`s.
 */
export function scanTokens(sql: string): ScanToken[] {
  if (scanSync === undefined) throw new SqlParserNotLoadedError();
  return scanSync(sql).tokens;
}

function lineAndColumn(sql: string, position: number): { line: number; column: number } {
  const before = Array.from(sql).slice(0, position).join('');
  const lines = before.split('\n');
  return { line: lines.length, column: Array.from(lines.at(-1) ?? '').length + 1 };
}
