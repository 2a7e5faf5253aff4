/**
 * Reading manifests from files.
 *
 * - `.yaml` / `.yml`: YAML; `.json`: JSON. Either holds a manifest mapping.
 * - `.sql`: plain SQL, which becomes a manifest with one `sql: { up, down }`
 *   operation. A file may split itself with `-- godwit:up` and `-- godwit:down`
 *   marker lines; without markers the whole file is the up SQL (and has no down).
 *
 * Ids of SQL manifests come from the file name:
 * - `V<version>__<name>.sql` (Flyway style; version digits with `.` or `_`):
 *   id `<version>__<name>`, e.g. `V7__add_users.sql` → `7__add_users`. Its down
 *   SQL is the sibling `U<version>__<name>.sql` when there is one (then the V file
 *   must not have a down section). A U file is only ever read as that down.
 * - any other `<name>.sql`: id `<name>`, e.g. `0007_users.sql` → `0007_users`.
 * The description is the name part with `_` read as spaces (`add users`).
 *
 * A directory is read non-recursively; hidden files are skipped. Its manifests are
 * returned in id order, comparing digit runs as numbers (`2_x` before `10_y`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { LineCounter, Parser, parseDocument, type CST, type Document } from 'yaml';
import { fallbackError } from '../operations/fields';
import { manifestChecksum } from './canonical';
import { formatPath, ManifestError, problemsFromIssues, type ManifestProblem } from './errors';
import { MANIFEST_ID, manifestSchema } from './schema';
import type { LoadedManifest, Manifest } from './types';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json', '.sql'];
const V_FILE = /^V(\d(?:[\d._]*\d)?)__(.+)\.sql$/;
const U_FILE = /^U(\d(?:[\d._]*\d)?)__(.+)\.sql$/;

/** Compares ids with digit runs as numbers: `2_x` < `10_y`, `V1.2` < `V1.10`. */
export function compareIds(a: string, b: string): number {
  const chunk = /(\d+)|(\D+)/g;
  const pa = a.match(chunk) ?? [];
  const pb = b.match(chunk) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const xDigits = /^\d/.test(x);
    const yDigits = /^\d/.test(y);
    if (xDigits && yDigits) {
      const xs = x.replace(/^0+(?=\d)/, '');
      const ys = y.replace(/^0+(?=\d)/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The id a `.sql` file's manifest gets (see the rule above). */
export function sqlManifestId(file: string): { id: string; name: string } {
  const base = basename(file);
  const v = V_FILE.exec(base);
  if (v !== null) return { id: `${v[1]}__${v[2]}`, name: v[2] ?? '' };
  const name = base.replace(/\.sql$/i, '');
  return { id: name, name };
}

/** Parses manifest text; the format comes from the file's extension. */
export function parseManifest(text: string, file: string, downText?: string): LoadedManifest {
  const ext = extname(file).toLowerCase();
  if ((ext === '.yaml' || ext === '.yml' || ext === '.json') && text.trim() === '') {
    throw new ManifestError(file, [{ path: '', message: 'the file is empty: expected a manifest with at least id and operations' }]);
  }
  if (ext === '.yaml' || ext === '.yml') return fromYaml(text, file);
  if (ext === '.json') return fromJson(text, file);
  if (ext === '.sql') return fromSql(text, file, downText);
  throw new ManifestError(file, [{ path: '', message: `unsupported file type '${ext || basename(file)}': expected .yaml, .yml, .json or .sql` }]);
}

/** Reads and validates one manifest file (a V file picks up its sibling U file). */
export async function loadManifest(file: string): Promise<LoadedManifest> {
  const base = basename(file);
  if (U_FILE.test(base)) {
    throw new ManifestError(file, [{ path: '', message: `a U file holds the down SQL of its V file; load V${base.slice(1)} (or the directory) instead` }]);
  }
  const text = await readText(file);
  let down: string | undefined;
  if (V_FILE.test(base)) {
    down = await readText(join(dirname(file), `U${base.slice(1)}`)).catch((e: unknown) => {
      if (e instanceof ManifestError && e.problems[0]?.message === NOT_FOUND) return undefined;
      throw e;
    });
  }
  return parseManifest(text, file, down);
}

/**
 * Loads a file, or every manifest in a directory, sorted by id. Problems in
 * several files are reported together in one ManifestError (each problem names
 * its file), as are two manifests with the same id.
 */
export async function loadManifests(fileOrDir: string): Promise<LoadedManifest[]> {
  const info = await stat(fileOrDir).catch(() => {
    throw new ManifestError(fileOrDir, [{ path: '', message: `${NOT_FOUND}: expected a manifest file or a directory of them` }]);
  });
  if (!info.isDirectory()) return [await loadManifest(fileOrDir)];

  const entries = await readdir(fileOrDir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && MANIFEST_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => e.name);
  const problems: ManifestProblem[] = [];
  const loaded: LoadedManifest[] = [];
  for (const name of names.sort()) {
    const file = join(fileOrDir, name);
    if (U_FILE.test(name)) {
      if (!names.includes(`V${name.slice(1)}`)) {
        problems.push({ file, path: '', message: `down SQL without its up: expected V${name.slice(1)} next to it` });
      }
      continue;
    }
    try {
      loaded.push(await loadManifest(file));
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      problems.push(...e.problems.map((p) => ({ ...p, file: p.file ?? e.file })));
    }
  }
  const byId = new Map<string, string>();
  for (const m of loaded) {
    const other = byId.get(m.manifest.id);
    if (other !== undefined) {
      problems.push({
        file: m.file,
        path: 'id',
        message: `id '${m.manifest.id}' is also used by ${basename(other)}; each manifest in a directory needs its own id`,
      });
    }
    byId.set(m.manifest.id, m.file);
  }
  if (problems.length > 0) throw new ManifestError(fileOrDir, problems);
  return loaded.sort((a, b) => compareIds(a.manifest.id, b.manifest.id));
}

const NOT_FOUND = 'no such file or directory';

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? NOT_FOUND : code === 'EISDIR' ? 'is a directory, not a manifest file' : `cannot read the file: ${(e as Error).message}`;
    throw new ManifestError(file, [{ path: '', message }]);
  }
}

/** Validates a parsed document and computes its checksum; `locate` adds line numbers. */
function validate(value: unknown, file: string, locate?: (path: PropertyKey[]) => { line: number; column: number } | undefined): LoadedManifest {
  const parsed = manifestSchema.safeParse(value, { error: fallbackError });
  if (!parsed.success) {
    const problems = problemsFromIssues(parsed.error.issues).map(({ path, message }): ManifestProblem => {
      const at = locate?.(path);
      return { path: formatPath(path), message, ...(at ?? {}) };
    });
    throw new ManifestError(file, problems);
  }
  const manifest: Manifest = parsed.data;
  return { file, manifest, checksum: manifestChecksum(manifest) };
}

/**
 * How deeply a manifest may nest mappings and lists. A real one needs about ten levels; a
 * few thousand exhaust the stack of the YAML composer, which recurses (and near the stack's
 * end V8 can even abort the process instead of throwing).
 */
export const MAX_NESTING = 64;

/**
 * The offset of the first collection nested more than MAX_NESTING deep, if any. The CST
 * parser keeps its own stack rather than recursing, and so does this walk, so any depth is
 * safe to look at.
 */
function tooDeepAt(text: string): number | undefined {
  const pending: { token: CST.Token; depth: number }[] = [];
  for (const token of new Parser().parse(text)) pending.push({ token, depth: 0 });
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { token, depth } = next;
    if (token.type === 'document') {
      if (token.value) pending.push({ token: token.value, depth });
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth >= MAX_NESTING) return token.offset;
      for (const item of token.items) {
        if (item.key) pending.push({ token: item.key, depth: depth + 1 });
        if (item.value) pending.push({ token: item.value, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** 1-based line and column of a character offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

function yamlDocument(text: string, file: string): { doc: Document; lines: LineCounter } {
  const deep = tooDeepAt(text);
  if (deep !== undefined) {
    throw new ManifestError(file, [
      {
        path: '',
        message: `nested more than ${MAX_NESTING} levels deep: a manifest needs about ten; look for runaway brackets or indentation`,
        ...position(text, deep),
      },
    ]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { doc, lines };
}

/**
 * The document's value. Aliases are bounded by the yaml library's maxAliasCount (100): an
 * alias bomb (billion laughs) would otherwise expand exponentially in everything that walks
 * the value.
 */
function yamlValue(doc: Document, file: string): unknown {
  try {
    return doc.toJS();
  } catch (e) {
    const message = (e as Error).message;
    if (/excessive alias count/i.test(message)) {
      throw new ManifestError(file, [
        {
          path: '',
          message:
            'YAML aliases expand too far: its anchors and aliases would repeat values more than 100 times (an alias bomb); write the values out, or use fewer aliases',
        },
      ]);
    }
    throw new ManifestError(file, [{ path: '', message: `YAML error: ${message.split('\n')[0] ?? message}` }]);
  }
}

/** The position of the deepest node along `path` that exists in the document. */
function locator(doc: Document, lines: LineCounter) {
  return (path: PropertyKey[]) => {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = doc.getIn(path.slice(0, n) as unknown[], true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range !== undefined) {
        const pos = lines.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return undefined;
  };
}

function fromYaml(text: string, file: string): LoadedManifest {
  const { doc, lines } = yamlDocument(text, file);
  if (doc.errors.length > 0) {
    throw new ManifestError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        const message = e.code === 'DUPLICATE_KEY' ? 'YAML syntax error: a key appears twice in the same mapping' : `YAML syntax error: ${e.message.split('\n')[0] ?? e.message}`;
        return { path: '', message, line: pos.line, column: pos.col };
      }),
    );
  }
  return validate(yamlValue(doc, file), file, locator(doc, lines));
}

function fromJson(text: string, file: string): LoadedManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    const problem: ManifestProblem = { path: '', message: `JSON syntax error: ${message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/\s+/g, ' ')}` };
    if (at?.[1] !== undefined) {
      const before = text.slice(0, Number(at[1]));
      problem.line = before.split('\n').length;
      problem.column = before.length - before.lastIndexOf('\n');
    } else {
      // Older V8 messages carry no position; the YAML parser usually finds the spot.
      const { doc, lines } = yamlDocument(text, file);
      const first = doc.errors[0];
      if (first !== undefined) {
        const pos = lines.linePos(first.pos[0]);
        problem.line = pos.line;
        problem.column = pos.col;
      }
    }
    throw new ManifestError(file, [problem]);
  }
  // Valid JSON is valid YAML: the YAML parser supplies positions and catches
  // duplicate keys, which JSON.parse silently resolves to the last one.
  const { doc, lines } = yamlDocument(text, file);
  const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
  if (duplicates.length > 0) {
    throw new ManifestError(
      file,
      duplicates.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { path: '', message: 'JSON error: a key appears twice in the same object', line: pos.line, column: pos.col };
      }),
    );
  }
  return validate(value, file, doc.errors.length === 0 ? locator(doc, lines) : undefined);
}

const MARKER = /^[ \t]*--[ \t]*godwit:(\w+)[ \t]*$/i;

/** Splits a SQL file at its `-- godwit:up` / `-- godwit:down` marker lines. */
function sqlSections(text: string, file: string): { up: string; down?: string } {
  const problems: ManifestProblem[] = [];
  const sections: Record<string, string[]> = {};
  let current: string[] | undefined;
  const preamble: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const marker = MARKER.exec(line);
    const name = marker?.[1]?.toLowerCase();
    if (name === undefined) {
      (current ?? preamble).push(line);
    } else if (name !== 'up' && name !== 'down') {
      problems.push({ path: '', message: `unknown marker '-- godwit:${name}': expected -- godwit:up or -- godwit:down`, line: i + 1 });
    } else if (Object.hasOwn(sections, name)) {
      problems.push({ path: '', message: `a second '-- godwit:${name}' marker; each section appears once`, line: i + 1 });
    } else {
      current = sections[name] = [];
    }
  });
  const hasMarkers = Object.keys(sections).length > 0;
  if (hasMarkers && preamble.some((l) => l.trim() !== '' && !l.trim().startsWith('--'))) {
    problems.push({ path: '', message: 'SQL before the first -- godwit:up / -- godwit:down marker; move it into a section' });
  }
  const up = (hasMarkers ? (sections.up ?? []) : preamble).join('\n').trim();
  const down = sections.down?.join('\n').trim();
  if (hasMarkers && sections.up === undefined) problems.push({ path: '', message: 'no -- godwit:up marker: the file needs an up section' });
  else if (up === '') problems.push({ path: '', message: hasMarkers ? 'the up section is empty' : 'the file is empty: expected SQL' });
  if (down === '') problems.push({ path: '', message: 'the down section is empty; write the SQL that undoes up, or remove the marker' });
  if (problems.length > 0) throw new ManifestError(file, problems);
  return down === undefined ? { up } : { up, down };
}

function fromSql(text: string, file: string, downText?: string): LoadedManifest {
  const { id, name } = sqlManifestId(file);
  if (!MANIFEST_ID.test(id)) {
    throw new ManifestError(file, [
      {
        path: '',
        message: `the file name gives the id '${id}', which is not a valid id (letters, digits, _ . and - starting with a letter or digit, at most 128 characters); rename the file`,
      },
    ]);
  }
  const sections = sqlSections(text, file);
  let down = sections.down;
  if (downText !== undefined) {
    const uFile = join(dirname(file), `U${basename(file).slice(1)}`);
    if (down !== undefined) {
      throw new ManifestError(file, [{ path: '', message: `down SQL is given twice: in a -- godwit:down section and in ${basename(uFile)}; keep one` }]);
    }
    down = downText.trim();
    if (down === '') throw new ManifestError(uFile, [{ path: '', message: 'the file is empty: expected the SQL that undoes its V file' }]);
  }
  const manifest = {
    id,
    description: name.replace(/_+/g, ' ').trim(),
    operations: [{ sql: down === undefined ? { up: sections.up } : { up: sections.up, down } }],
  };
  return validate(manifest, file);
}
