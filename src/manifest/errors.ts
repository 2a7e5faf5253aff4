import type { z } from 'zod';
import { GodwitError } from '../errors';

export interface ManifestProblem {
  /** Where in the manifest: `operations[2].add_column.column.type`; empty for the whole file. */
  path: string;
  message: string;
  /** The file, when it differs from the error's (problems found across a directory). */
  file?: string;
  /** 1-based position in the file, when known. */
  line?: number;
  column?: number;
}

/**
 * Thrown when a manifest (or a directory of them) cannot be loaded: unreadable,
 * not valid YAML/JSON/SQL, or not a valid manifest. Lists every problem found,
 * one per line: `<file>: <path>: <what is wrong and what was expected>`.
 */
export class ManifestError extends GodwitError {
  override readonly name = 'ManifestError';
  constructor(
    readonly file: string,
    readonly problems: readonly ManifestProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
  }
}

export function formatProblem(file: string, p: ManifestProblem): string {
  const where = p.line !== undefined ? ` (line ${p.line}${p.column !== undefined ? `, column ${p.column}` : ''})` : '';
  const path = p.path === '' ? '' : `${p.path}: `;
  return `${p.file ?? file}: ${path}${p.message}${where}`;
}

/** `['operations', 2, 'add_column']` → `operations[2].add_column` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * Zod issues → problems. An unknown-fields issue becomes one problem per field,
 * with the field in its path (the field helpers put one message line per key).
 */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[]): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const lines = issue.message.split('\n');
      issue.keys.forEach((key, i) => out.push({ path: [...issue.path, key], message: lines[i] ?? lines[0] ?? `unknown field '${key}'` }));
    } else {
      out.push({ path: [...issue.path], message: issue.message });
    }
  }
  return out;
}
