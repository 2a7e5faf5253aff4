/**
 * The scratch database of a rehearsal, as a target the worker resolves: the alias
 * `rehearse:<target>:<id>` names database `godwit_rehearse_<id>` on the server of
 * `<target>`. The worker makes its connection string from the target's own one (the
 * database name swapped), so neither ever enters workflow input or history. Only this
 * one name pattern can be reached that way: input cannot point a worker at any other
 * database on the server.
 */

/** A rehearsal id: what `godwit rehearse` makes (12 hex digits), or one given to it. */
export const REHEARSAL_ID = /^[a-z0-9]{6,32}$/;

const PREFIX = 'rehearse:';

export interface ScratchTarget {
  /** The target the rehearsal copies (only read). */
  target: string;
  rehearsalId: string;
  /** `godwit_rehearse_<id>`. */
  database: string;
}

export function scratchDatabase(rehearsalId: string): string {
  return `godwit_rehearse_${rehearsalId}`;
}

/** `rehearse:app-prod:3f2a9c01b7de`. */
export function scratchAlias(target: string, rehearsalId: string): string {
  if (!REHEARSAL_ID.test(rehearsalId)) throw new Error(`invalid rehearsal id '${rehearsalId}': use 6 to 32 lower-case letters and digits`);
  return `${PREFIX}${target}:${rehearsalId}`;
}

/** The scratch target an alias names, or null for an ordinary alias. */
export function parseScratchAlias(alias: string): ScratchTarget | null {
  if (!alias.startsWith(PREFIX)) return null;
  const rest = alias.slice(PREFIX.length);
  const cut = rest.lastIndexOf(':');
  if (cut <= 0) return null;
  const target = rest.slice(0, cut);
  const rehearsalId = rest.slice(cut + 1);
  if (!REHEARSAL_ID.test(rehearsalId) || target.startsWith(PREFIX)) return null;
  return { target, rehearsalId, database: scratchDatabase(rehearsalId) };
}

/**
 * The connection string with another database name: a URL's path, or a keyword/value
 * string's `dbname`. Everything else (host, user, password, TLS settings) stays.
 */
export function withDatabase(connectionString: string, database: string): string {
  if (/^postgres(ql)?:\/\//i.test(connectionString)) {
    const url = new URL(connectionString);
    url.pathname = `/${encodeURIComponent(database)}`;
    return url.toString();
  }
  const kept = connectionString.replace(/(^|\s)dbname\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g, '').trim();
  return `${kept} dbname=${database}`.trim();
}

/** Resolves an alias, the scratch ones through their target's own connection string. */
export function resolveWithScratch(alias: string, resolve: (alias: string) => string): string {
  const scratch = parseScratchAlias(alias);
  return scratch === null ? resolve(alias) : withDatabase(resolve(scratch.target), scratch.database);
}
