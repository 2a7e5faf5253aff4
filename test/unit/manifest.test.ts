import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compareIds,
  loadManifest,
  loadManifests,
  ManifestError,
  manifestChecksum,
  MAX_NESTING,
  parseManifest,
  sqlManifestId,
  type LoadedManifest,
} from '../../src/manifest';

const fixtures = join(import.meta.dirname, '../fixtures/manifests');
const fixture = (path: string) => join(fixtures, path);

/** The ManifestError thrown by `fn` (fails the test when nothing is thrown). */
async function manifestError(fn: () => unknown): Promise<ManifestError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return e as ManifestError;
  }
  throw new Error('expected a ManifestError');
}

const yamlError = (text: string) => manifestError(() => parseManifest(text, 'm.yaml'));

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-manifest-test-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('parsing a valid manifest', () => {
  it('applies defaults: policy, checks, nullable', async () => {
    const { manifest } = await loadManifest(fixture('valid/0007_users_email.yaml'));
    expect(manifest.policy).toEqual({ approval: 'auto', bake_seconds: 60, lock_timeout: '5s', statement_timeout: '0' });
    expect(manifest.checks.pre).toEqual([]);
    expect(manifest.operations[0]).toEqual({ add_column: { table: 'users', column: { name: 'email_norm', type: 'text', nullable: true } } });
  });

  it('reads JSON manifests', async () => {
    const loaded = await loadManifest(fixture('valid/0007_users_email.json'));
    expect(loaded.manifest.id).toBe('0007_users_email');
    expect(loaded.manifest.operations).toHaveLength(3);
  });

  it('defaults the description to empty and the policy entirely', () => {
    const { manifest } = parseManifest('id: a\noperations: [{ drop_table: { table: t } }]', 'm.yaml');
    expect(manifest.description).toBe('');
    expect(manifest.policy).toEqual({ approval: 'auto', bake_seconds: 0, lock_timeout: '5s', statement_timeout: '0' });
  });

  it('keeps an integer timeout as milliseconds', () => {
    const { manifest } = parseManifest('id: a\noperations: [{ drop_table: { table: t } }]\npolicy: { lock_timeout: 1500 }', 'm.yaml');
    expect(manifest.policy.lock_timeout).toBe('1500ms');
  });

  it('reads referential actions whatever their case', () => {
    const { manifest } = parseManifest(
      'id: a\noperations:\n  - add_column: { table: t, column: { name: u, type: bigint, references: { table: users, on_delete: SET NULL } } }',
      'm.yaml',
    );
    const op = manifest.operations[0];
    expect(op !== undefined && 'add_column' in op ? op.add_column.column.references?.on_delete : undefined).toBe('set_null');
  });

  it('accepts a number as an expression, since YAML reads default: 0 as a number', () => {
    const { manifest } = parseManifest('id: a\noperations:\n  - add_column: { table: t, column: { name: n, type: int, default: 0 } }', 'm.yaml');
    const op = manifest.operations[0];
    expect(op !== undefined && 'add_column' in op ? op.add_column.column.default : undefined).toBe('0');
  });

  it.each(['text', 'numeric(10, 2)', 'timestamp(3) with time zone', 'int[]', '"MyType"', 'billing."Money"[]', 'varchar(200)'])(
    'accepts the column type %j',
    (type) => {
      expect(() => parseManifest(JSON.stringify({ id: 'a', operations: [{ add_column: { table: 't', column: { name: 'c', type } } }] }), 'm.json')).not.toThrow();
    },
  );
});

describe('manifest errors', () => {
  it('reports a YAML syntax error with file, line and column', async () => {
    const error = await manifestError(() => loadManifest(fixture('invalid/syntax.yaml')));
    expect(error.file).toBe(fixture('invalid/syntax.yaml'));
    expect(error.problems[0]).toMatchObject({ path: '', line: 5, column: expect.any(Number) });
    expect(error.message).toMatch(/syntax\.yaml: YAML syntax error: .* \(line 5, column \d+\)/);
  });

  it('reports a duplicate YAML key as a syntax error', async () => {
    const error = await yamlError('id: a\nid: b\noperations: []');
    expect(error.message).toBe('m.yaml: YAML syntax error: a key appears twice in the same mapping (line 2, column 1)');
  });

  it('reports a JSON syntax error with its line', async () => {
    const error = await manifestError(() => parseManifest('{\n  "id": "a",\n  "operations": [}\n}', 'm.json'));
    expect(error.message).toMatch(/^m\.json: JSON syntax error: .*\(line 3, column \d+\)$/);
  });

  it('names an unknown operation, suggests the closest kind and lists the known ones', async () => {
    const error = await manifestError(() => loadManifest(fixture('invalid/unknown-operation.yaml')));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.path).toBe('operations[1]');
    expect(error.problems[0]?.message).toMatch(
      /^unknown operation 'add_colum' \(did you mean add_column\?\); known operations: create_table, drop_table, rename_table, add_column, .*backfill, sql$/,
    );
  });

  it('rejects an operation with no key', async () => {
    const error = await yamlError('id: a\noperations:\n  - {}');
    expect(error.problems[0]).toMatchObject({ path: 'operations[0]', message: expect.stringMatching(/needs exactly one key, the operation kind; this one is empty/) });
  });

  it('rejects an operation with two keys', async () => {
    const error = await yamlError('id: a\noperations:\n  - drop_table: { table: a }\n    drop_column: { table: a, column: b }');
    expect(error.problems[0]).toMatchObject({ path: 'operations[0]', message: expect.stringMatching(/exactly one key.*found 2: drop_table, drop_column/) });
  });

  it('says which required field is missing', async () => {
    const error = await yamlError('id: a\noperations:\n  - add_column: { table: users, column: { name: x } }');
    expect(error.problems).toEqual([
      { path: 'operations[0].add_column.column.type', message: "missing required field: expected a string (the column's SQL type, e.g. text)", line: 3, column: 41 },
    ]);
  });

  it('explains a mistyped field in words, with the path', async () => {
    const error = await yamlError('id: a\noperations:\n  - drop_table: { table: t }\n  - add_column: { table: users, column: { name: x, type: 42 } }');
    expect(error.message).toBe(
      "m.yaml: operations[1].add_column.column.type: expected a string (the column's SQL type, e.g. text), got the number 42; put it in quotes to keep it as text (line 4, column 58)",
    );
  });

  it('rejects an unknown field with a suggestion, pointing at the field', async () => {
    const error = await yamlError('id: a\noperations:\n  - add_column: { table: users, column: { name: x, type: text, nulable: false } }');
    expect(error.problems[0]?.path).toBe('operations[0].add_column.column.nulable');
    expect(error.problems[0]?.message).toMatch(/^unknown field 'nulable' \(did you mean nullable\?\); allowed fields: name, type, nullable,/);
  });

  it('reports one problem per unknown field', async () => {
    const error = await yamlError('id: a\nops: []\noperations: [{ drop_table: { table: t } }]\nextra: 1');
    expect(error.problems.map((p) => p.path)).toEqual(['ops', 'extra']);
  });

  it('reports every problem of a manifest at once, each with its path', async () => {
    const error = await manifestError(() => loadManifest(fixture('invalid/many-problems.yaml')));
    expect(error.problems.map((p) => p.path)).toEqual([
      'id',
      'operations[0].add_column.column.type',
      'operations[1].drop_column.column',
      'operations[2].create_index.concurent',
      'operations[3].add_column.column.name',
      'policy.approval',
    ]);
    expect(error.message.split('\n')).toHaveLength(6);
  });

  it('rejects an identifier longer than 63 bytes at load time, with its path', async () => {
    const error = await manifestError(() => loadManifest(fixture('invalid/many-problems.yaml')));
    const problem = error.problems.find((p) => p.path === 'operations[3].add_column.column.name');
    expect(problem?.message).toMatch(/^name is 67 bytes long; Postgres silently truncates names to 63 bytes/);
  });

  it('rejects an over-long part of a qualified table name', async () => {
    const error = await yamlError(`id: a\noperations: [{ drop_table: { table: billing.${'t'.repeat(64)} } }]`);
    expect(error.problems[0]).toMatchObject({ path: 'operations[0].drop_table.table', message: expect.stringMatching(/64 bytes long/) });
  });

  it('rejects an id that cannot be part of a workflow id', async () => {
    const error = await yamlError('id: "../etc"\noperations: [{ drop_table: { table: t } }]');
    expect(error.problems[0]).toMatchObject({ path: 'id', message: expect.stringMatching(/letters, digits, _ \. and - starting with a letter or digit/) });
  });

  it('suggests quoting an id that YAML read as a number', async () => {
    const error = await yamlError('id: 7\noperations: [{ drop_table: { table: t } }]');
    expect(error.problems[0]?.message).toMatch(/got the number 7; put it in quotes to keep it as text/);
  });

  it('requires at least one operation', async () => {
    const error = await yamlError('id: a\noperations: []');
    expect(error.problems[0]).toMatchObject({ path: 'operations', message: expect.stringMatching(/needs at least 1 item/) });
  });

  it('suggests the closest value of an enum', async () => {
    const error = await yamlError('id: a\noperations: [{ add_column: { table: t, column: { name: c, type: int, identity: alwys } } }]');
    expect(error.problems[0]?.message).toMatch(/^expected one of always, by_default .* got the text "alwys" \(did you mean always\?\)$/);
  });

  it.each([
    ['text; drop table users', /cannot contain ";"/],
    ['text -- comment', /cannot contain "-"/],
    ['text, drop column secret', /comma is only allowed inside parentheses/],
    ['numeric(10', /unbalanced parentheses/],
    ['"open', /double quote is not closed/],
  ])('rejects the column type %j so it cannot smuggle SQL', async (type, message) => {
    const error = await manifestError(() =>
      parseManifest(JSON.stringify({ id: 'a', operations: [{ add_column: { table: 't', column: { name: 'c', type } } }] }), 'm.json'),
    );
    expect(error.problems[0]).toMatchObject({ path: 'operations[0].add_column.column.type', message: expect.stringMatching(message) });
  });

  it('rejects contradictory column options', async () => {
    const error = await yamlError('id: a\noperations: [{ add_column: { table: t, column: { name: c, type: int, identity: always, default: "1" } } }]');
    expect(error.problems[0]).toMatchObject({ path: 'operations[0].add_column.column', message: 'a column cannot have both identity and default' });
  });

  it('rejects an sql operation that has down and says irreversible', async () => {
    const error = await yamlError('id: a\noperations: [{ sql: { up: "select 1", down: "select 2", irreversible: true } }]');
    expect(error.problems[0]?.message).toMatch(/irreversible: true contradicts down/);
  });

  it('rejects a constraint with two kinds', async () => {
    const error = await yamlError(
      'id: a\noperations: [{ create_table: { table: t, columns: [{ name: a, type: int }], constraints: [{ check: "a > 0", unique: { columns: [a] } }] } }]',
    );
    expect(error.problems[0]).toMatchObject({ path: 'operations[0].create_table.constraints[0]', message: expect.stringMatching(/exactly one of .*found check, unique/) });
  });

  it('rejects a bad timeout', async () => {
    const error = await yamlError('id: a\noperations: [{ drop_table: { table: t } }]\npolicy: { statement_timeout: soon }');
    expect(error.problems[0]).toMatchObject({ path: 'policy.statement_timeout', message: expect.stringMatching(/expected a duration like '5s'/) });
  });

  it('says so when a manifest file is empty', async () => {
    const error = await yamlError('\n');
    expect(error.message).toBe('m.yaml: the file is empty: expected a manifest with at least id and operations');
  });

  it('rejects a document that is not a mapping', async () => {
    const error = await yamlError('- id: a');
    expect(error.problems[0]?.message).toMatch(/^expected a mapping \(a migration manifest: .*\), got a list$/);
  });

  it('rejects an unsupported file type', async () => {
    const error = await manifestError(() => parseManifest('x', 'notes.txt'));
    expect(error.message).toBe("notes.txt: unsupported file type '.txt': expected .yaml, .yml, .json or .sql");
  });

  it('reports a missing file', async () => {
    const error = await manifestError(() => loadManifests(fixture('no-such-dir')));
    expect(error.message).toMatch(/no such file or directory/);
  });
});

describe('hostile manifests', () => {
  const op = '{ sql: { up: "select 1", down: "select 1" } }';

  /** Billion laughs: each level is nine aliases of the one before, 9^9 strings in all. */
  function aliasBomb(): string {
    const levels = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i <= 9; i++) levels.push(`l${i}: &l${i} [${Array.from({ length: 9 }, () => `*l${i - 1}`).join(', ')}]`);
    return `id: a\n${levels.join('\n')}\noperations: [${op}]\n`;
  }

  it('refuses an alias bomb before expanding it, in one line', async () => {
    const error = await yamlError(aliasBomb());
    expect(error.message).toBe(
      'm.yaml: YAML aliases expand too far: its anchors and aliases would repeat values more than 100 times (an alias bomb); write the values out, or use fewer aliases',
    );
  });

  it('still reads a manifest that reuses an anchor a few times', () => {
    const { manifest } = parseManifest(
      `id: a
operations:
  - add_column: { table: users, column: &col { name: note, type: text } }
  - add_column: { table: posts, column: *col }
`,
      'm.yaml',
    );
    expect(manifest.operations).toHaveLength(2);
  });

  it('names an alias whose anchor is missing', async () => {
    const error = await yamlError(`id: a\noperations: [{ sql: { up: *nope } }]`);
    expect(error.message).toBe('m.yaml: YAML error: Unresolved alias (the anchor must be set before the alias): nope');
  });

  it('refuses 5,000 levels of flow nesting with where it goes too deep, instead of overflowing the stack', async () => {
    const error = await yamlError(`id: a\noperations: [${op}]\nextra: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    expect(error.message).toBe(
      `m.yaml: nested more than ${MAX_NESTING} levels deep: a manifest needs about ten; look for runaway brackets or indentation (line 3, column ${8 + MAX_NESTING - 1})`,
    );
  });

  it('refuses 5,000 levels of indentation', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');
    const error = await yamlError(`${lines} v\n`);
    expect(error.problems).toEqual([expect.objectContaining({ message: expect.stringMatching(/^nested more than 64 levels deep/), line: MAX_NESTING + 1 })]);
  });

  it.each([
    ['lists', (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`],
    ['objects', (n: number) => `${'{"a": '.repeat(n)}1${'}'.repeat(n)}`],
  ])('refuses JSON with 10,000 levels of nested %s', async (_kind, nest) => {
    const error = await manifestError(() => parseManifest(`{"id": "a", "operations": [{"sql": ${nest(10_000)}}]}`, 'm.json'));
    expect(error.message).toMatch(/^m\.json: nested more than 64 levels deep: .* \(line 1, column \d+\)$/);
  });

  it('allows nesting up to the limit, where the usual checks take over', async () => {
    // The root mapping is the first level.
    const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const atLimit = await yamlError(`id: a\noperations: [${op}]\nextra: ${nest(MAX_NESTING - 1)}\n`);
    expect(atLimit.message).toMatch(/^m\.yaml: extra: unknown field 'extra'/);
    const over = await yamlError(`id: a\noperations: [${op}]\nextra: ${nest(MAX_NESTING)}\n`);
    expect(over.message).toMatch(/^m\.yaml: nested more than 64 levels deep/);
  });
});

describe('operation specs of every kind', () => {
  const problemsOf = async (operation: string) => (await yamlError(`id: a\noperations:\n  - ${operation}`)).problems.map((p) => [p.path, p.message]);

  it.each<[string, string, [string, string | RegExp][]]>([
    ['an unknown field, with a suggestion', 'set_comment: { table: t, coment: x, comment: y }', [['operations[0].set_comment.coment', /^unknown field 'coment' \(did you mean comment\?\); allowed fields: table, column, comment$/]]],
    ['a missing comment (null is how to remove one)', 'set_comment: { table: t }', [['operations[0].set_comment.comment', 'missing required field: expected a string, or null to remove the comment']]],
    ['a mistyped replica identity', 'set_replica_identity: { table: t, identity: ful }', [['operations[0].set_replica_identity.identity', /got the text "ful" \(did you mean full\?\)$/]]],
    ['identity index without its index', 'set_replica_identity: { table: t, identity: index }', [['operations[0].set_replica_identity.index', 'identity: index needs index: the unique index to use']]],
    ['an index with another identity', 'set_replica_identity: { table: t, identity: full, index: i }', [['operations[0].set_replica_identity.index', 'index: is only used with identity: index (this one is full)']]],
    ['not_valid on a unique constraint', 'add_constraint: { table: t, unique: { columns: [a] }, not_valid: true }', [['operations[0].add_constraint.not_valid', /^not_valid applies to check and foreign_key constraints only/]]],
    ['a constraint of two kinds', 'add_constraint: { table: t, check: "a > 0", unique: { columns: [a] } }', [['operations[0].add_constraint', /exactly one of .*found check, unique$/]]],
    ['a constraint of no kind', 'add_constraint: { table: t, name: c }', [['operations[0].add_constraint', /exactly one of check, unique, primary_key, foreign_key, exclude; found none$/]]],
    ['a foreign key without its table', 'add_constraint: { table: t, foreign_key: { columns: [a], references: {} } }', [['operations[0].add_constraint.foreign_key.references.table', /^missing required field/]]],
    ['an empty backfill', 'backfill: { table: t, set: {} }', [['operations[0].backfill.set', 'set needs at least one column: expression']]],
    ['a backfill set that is not a mapping', 'backfill: { table: t, set: [a] }', [['operations[0].backfill.set', /^expected a mapping of column: expression/]]],
    ['a fractional batch size', 'backfill: { table: t, set: { a: "1" }, batch_size: 1.5 }', [['operations[0].backfill.batch_size', 'expected a whole number of rows']]],
    ['a zero batch size', 'backfill: { table: t, set: { a: "1" }, batch_size: 0 }', [['operations[0].backfill.batch_size', 'expected at least 1 row per batch']]],
    ['a backfill column name too long', `backfill: { table: t, set: { ${'c'.repeat(64)}: "1" } }`, [[`operations[0].backfill.set.${'c'.repeat(64)}`, /64 bytes long/]]],
    ['an enum label twice', 'create_enum: { name: e, values: [a, b, a] }', [['operations[0].create_enum.values', "the label 'a' appears twice; each label of an enum is unique"]]],
    ['an enum without labels', 'create_enum: { name: e, values: [] }', [['operations[0].create_enum.values', /^needs at least 1 item/]]],
    ['an enum label too long', `create_enum: { name: e, values: [${'é'.repeat(32)}] }`, [['operations[0].create_enum.values[0]', 'label is 64 bytes long; Postgres allows at most 63']]],
    ['an alter_column_type that smuggles SQL', 'alter_column_type: { table: t, column: c, type: "int; drop table t" }', [['operations[0].alter_column_type.type', /^invalid column type: a type cannot contain ";"/]]],
    ['a rename_table without from', 'rename_table: { to: x }', [['operations[0].rename_table.from', /^missing required field/]]],
    ['a view without sql', 'create_view: { name: v }', [['operations[0].create_view.sql', /^missing required field: expected a string \(the view's query/]]],
    ['a drop_default given a default', 'drop_default: { table: t, column: c, default: "1" }', [['operations[0].drop_default.default', /^unknown field 'default'; allowed fields: table, column$/]]],
  ])('rejects %s, with its path', async (_name, operation, expected) => {
    const problems = await problemsOf(operation);
    expect(problems).toHaveLength(expected.length);
    expected.forEach(([path, message], i) => {
      expect(problems[i]?.[0]).toBe(path);
      if (typeof message === 'string') expect(problems[i]?.[1]).toBe(message);
      else expect(problems[i]?.[1]).toMatch(message);
    });
  });

  it.each([
    'rename_table: { from: billing.invoices, to: bills }',
    'alter_column_type: { table: t, column: c, type: "numeric(10, 2)", using: "c::numeric", down_using: "c::int" }',
    'set_not_null: { table: t, column: c }',
    'drop_not_null: { table: t, column: c }',
    'set_default: { table: t, column: c, default: 0 }',
    'drop_default: { table: t, column: c }',
    'set_comment: { table: t, column: c, comment: null }',
    'set_replica_identity: { table: t, identity: INDEX, index: t_pkey }',
    'add_constraint: { table: t, name: t_fk, foreign_key: { columns: [a], references: { table: u }, on_delete: SET NULL }, not_valid: true }',
    'add_constraint: { table: t, exclude: { method: gist, elements: [{ column: r, operator: "&&" }] } }',
    'drop_constraint: { table: t, name: c }',
    'rename_constraint: { table: t, name: c, to: d }',
    'create_enum: { name: billing.status, values: [open, paid] }',
    'drop_enum: { name: mood }',
    'create_view: { name: v, sql: select 1 }',
    'drop_view: { name: v }',
    'backfill: { table: users, set: { email_norm: "lower(email)", n: 0 }, where: email is not null, batch_size: 5000 }',
  ])('accepts %s', (operation) => {
    expect(() => parseManifest(`id: a\noperations:\n  - ${operation}`, 'm.yaml')).not.toThrow();
  });

  it('reads a number in backfill set as its SQL text, like other expressions', () => {
    const { manifest } = parseManifest('id: a\noperations:\n  - backfill: { table: t, set: { n: 0 } }', 'm.yaml');
    expect(manifest.operations[0]).toEqual({ backfill: { table: 't', set: { n: '0' } } });
  });

  it('parses the example manifest of DESIGN.md, backfill included', () => {
    const { manifest } = parseManifest(
      [
        'id: 0007_users_email',
        'operations:',
        '  - add_column: { table: users, column: { name: email_norm, type: text } }',
        '  - backfill:   { table: users, set: { email_norm: "lower(email)" }, batch_size: 5000 }',
        '  - create_index: { table: users, columns: [email_norm], unique: true, concurrently: true }',
      ].join('\n'),
      'm.yaml',
    );
    expect(manifest.operations[1]).toEqual({ backfill: { table: 'users', set: { email_norm: 'lower(email)' }, batch_size: 5000 } });
  });
});

describe('checksum', () => {
  const load = (path: string) => loadManifest(fixture(path));

  it('has the sha256: prefix and 64 hex digits', async () => {
    expect((await load('valid/0007_users_email.yaml')).checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('is the same after reordering keys, changing style and spelling out defaults', async () => {
    const original = await load('valid/0007_users_email.yaml');
    const reformatted = await load('valid/0007_users_email.reformatted.yaml');
    expect(reformatted.checksum).toBe(original.checksum);
  });

  it('is the same for the JSON form of the same manifest', async () => {
    expect((await load('valid/0007_users_email.json')).checksum).toBe((await load('valid/0007_users_email.yaml')).checksum);
  });

  it('changes when a column type changes', async () => {
    const original = await load('valid/0007_users_email.yaml');
    const changed = structuredClone(original.manifest);
    const op = changed.operations[0];
    if (op === undefined || !('add_column' in op)) throw new Error('fixture changed');
    op.add_column.column.type = 'varchar(200)';
    expect(manifestChecksum(changed)).not.toBe(original.checksum);
  });

  it('changes when operations are reordered', async () => {
    const original = await load('valid/0007_users_email.yaml');
    const changed = structuredClone(original.manifest);
    changed.operations.reverse();
    expect(manifestChecksum(changed)).not.toBe(original.checksum);
  });

  it('changes when a policy value changes', () => {
    const a = parseManifest('id: a\noperations: [{ drop_table: { table: t } }]', 'm.yaml');
    const b = parseManifest('id: a\noperations: [{ drop_table: { table: t } }]\npolicy: { bake_seconds: 1 }', 'm.yaml');
    expect(b.checksum).not.toBe(a.checksum);
  });
});

describe('loading a directory', () => {
  const ids = (loaded: LoadedManifest[]) => loaded.map((m) => m.manifest.id);

  it('orders manifests by id, comparing numbers as numbers', async () => {
    expect(ids(await loadManifests(fixture('ordered')))).toEqual(['2_first', '3__add_flag', '10_third']);
  });

  it('turns a V/U pair into one sql operation with up and down', async () => {
    const loaded = await loadManifests(fixture('ordered'));
    const pair = loaded.find((m) => m.manifest.id === '3__add_flag');
    expect(pair?.manifest.description).toBe('add flag');
    expect(pair?.manifest.operations).toEqual([
      { sql: { up: 'alter table users add column flag boolean;', down: 'alter table users drop column flag;' } },
    ]);
  });

  it('loads a single V file together with its U file', async () => {
    const loaded = await loadManifest(fixture('ordered/V3__add_flag.sql'));
    expect(loaded.manifest.operations).toEqual([{ sql: { up: 'alter table users add column flag boolean;', down: 'alter table users drop column flag;' } }]);
  });

  it('refuses to load a U file on its own', async () => {
    const error = await manifestError(() => loadManifest(fixture('ordered/U3__add_flag.sql')));
    expect(error.message).toMatch(/holds the down SQL of its V file; load V3__add_flag\.sql/);
  });

  it('rejects a U file without its V file', async () => {
    const error = await manifestError(() => loadManifests(fixture('orphan-down')));
    expect(error.problems[0]?.message).toMatch(/down SQL without its up: expected V1__lonely\.sql/);
  });

  it('rejects two manifests with the same id', async () => {
    const error = await manifestError(() => loadManifests(fixture('duplicate-ids')));
    expect(error.problems).toEqual([
      { file: fixture('duplicate-ids/b.yaml'), path: 'id', message: "id '0001' is also used by a.yaml; each manifest in a directory needs its own id" },
    ]);
  });

  it('reports the problems of every bad file in the directory together', async () => {
    const dir = tempDir({ 'a.yaml': 'id: a\noperations: []', 'b.yaml': 'id: b\noperations: [{ nope: {} }]', 'c.yaml': 'id: c\noperations: [{ drop_table: { table: t } }]' });
    const error = await manifestError(() => loadManifests(dir));
    expect(error.problems.map((p) => [p.file, p.path])).toEqual([
      [join(dir, 'a.yaml'), 'operations'],
      [join(dir, 'b.yaml'), 'operations[0]'],
    ]);
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'a.yaml')}: operations: `));
  });

  it('returns a single file as a one-element list', async () => {
    expect(ids(await loadManifests(fixture('valid/0007_users_email.yaml')))).toEqual(['0007_users_email']);
  });
});

describe('SQL files', () => {
  it('splits a file at its -- godwit:up / -- godwit:down markers', async () => {
    const loaded = await loadManifest(fixture('valid/0008_sections.sql'));
    expect(loaded.manifest).toMatchObject({
      id: '0008_sections',
      description: '0008 sections',
      operations: [{ sql: { up: 'alter table users add column nickname text;', down: 'alter table users drop column nickname;' } }],
    });
  });

  it('treats a file without markers as up SQL with no down', () => {
    const { manifest } = parseManifest('create table t (id int);\n', '0001_t.sql');
    expect(manifest.operations).toEqual([{ sql: { up: 'create table t (id int);' } }]);
  });

  it('rejects SQL before the first marker', async () => {
    const error = await manifestError(() => parseManifest('select 1;\n-- godwit:up\nselect 2;', 'x.sql'));
    expect(error.problems[0]?.message).toMatch(/SQL before the first -- godwit:up/);
  });

  it('rejects an empty up section', async () => {
    const error = await manifestError(() => parseManifest('-- godwit:up\n\n-- godwit:down\nselect 1;', 'x.sql'));
    expect(error.problems[0]?.message).toBe('the up section is empty');
  });

  it('rejects a repeated marker, with its line', async () => {
    const error = await manifestError(() => parseManifest('-- godwit:up\nselect 1;\n-- godwit:up\nselect 2;', 'x.sql'));
    expect(error.problems[0]).toMatchObject({ line: 3, message: expect.stringMatching(/a second '-- godwit:up' marker/) });
  });

  it('rejects a V file with a down section when a U file exists too', async () => {
    const dir = tempDir({ 'V1__x.sql': '-- godwit:up\nselect 1;\n-- godwit:down\nselect 2;', 'U1__x.sql': 'select 3;' });
    const error = await manifestError(() => loadManifests(dir));
    expect(error.problems[0]?.message).toMatch(/down SQL is given twice/);
  });

  it('rejects a file name that does not make a valid id', async () => {
    const error = await manifestError(() => parseManifest('select 1;', 'my migration.sql'));
    expect(error.problems[0]?.message).toMatch(/^the file name gives the id 'my migration', which is not a valid id/);
  });

  it.each([
    ['V7__add_users.sql', '7__add_users'],
    ['V1.2__fix.sql', '1.2__fix'],
    ['V2_1__split.sql', '2_1__split'],
    ['0007_users.sql', '0007_users'],
    ['Vacuum.sql', 'Vacuum'],
  ])('%s gets the id %s', (file, id) => {
    expect(sqlManifestId(file).id).toBe(id);
  });
});

describe('compareIds', () => {
  it.each([
    ['2_x', '10_y'],
    ['0007_a', '0010_a'],
    ['1.2__a', '1.10__a'],
    ['a', 'b'],
    ['7', '7_a'],
  ])('orders %s before %s', (a, b) => {
    expect(compareIds(a, b)).toBeLessThan(0);
    expect(compareIds(b, a)).toBeGreaterThan(0);
  });

  it('orders ids that differ only in leading zeros deterministically', () => {
    expect(Math.sign(compareIds('007', '7'))).toBe(-Math.sign(compareIds('7', '007')));
    expect(compareIds('007', '7')).not.toBe(0);
  });
});
