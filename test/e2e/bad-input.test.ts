/**
 * Bad input (DESIGN.md, "Bad input"): each mistake gets an error that names the
 * problem and the fix, exit 1, and nothing is applied half-way. The real `godwit`
 * process against real Postgres and Temporal.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { setupTemporal, type TestTemporal } from '../helpers/temporal';
import { closedPort, fixture, godwit, type GodwitRun } from './run-godwit';

const TARGET = 'shop';
/** A target whose connection string points at a closed port, with a password that must never be printed. */
const DOWN = 'down';
const SECRET = 's3cret';
let db: TestDatabase;
let t: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('godwit_e2e_bad');
  await db.query(`create table customers (id bigint primary key, name text)`);
  await db.query(`create table y (id int)`);
  t = await setupTemporal({ [TARGET]: db.url, [DOWN]: `postgres://u:${SECRET}@127.0.0.1:${await closedPort()}/x` });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

const apply = (file: string, target = TARGET, env = t.env) => godwit(['apply', fixture(`bad-input/${file}`), '--target', target, '--wait'], env);

function expectExit(run: GodwitRun, code: number): void {
  expect(run.code, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(code);
}

/** The tables, columns and schemas of the target: compared before and after to prove nothing was applied. */
async function catalog(): Promise<string[]> {
  const { rows } = await db.query<{ entry: string }>(
    `select n.nspname || '.' || c.relname || coalesce('.' || a.attname, '') as entry
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname not in ('pg_catalog', 'information_schema', 'godwit') and n.nspname not like 'pg_toast%'
      order by 1`,
  );
  return rows.map((r) => r.entry);
}

/** The migration's row in godwit.migrations, or undefined (also when the control schema does not exist yet). */
async function migrationRow(id: string): Promise<Record<string, unknown> | undefined> {
  try {
    const { rows } = await db.query<{ row: Record<string, unknown> }>(`select to_jsonb(m) as row from godwit.migrations m where migration_id = $1`, [id]);
    return rows[0]?.row;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') return undefined; // no control schema yet
    throw err;
  }
}

async function leaseCount(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from godwit.leases`);
  return rows[0]!.n;
}

/** True when no workflow was ever started for this migration: the CLI refused before asking Temporal. */
async function neverStarted(migrationId: string, target = TARGET): Promise<boolean> {
  try {
    await t.client.workflow.getHandle(`godwit/${target}/${migrationId}`).describe();
    return false;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

describe('malformed manifests are refused before anything starts', () => {
  let before: string[];
  beforeAll(async () => {
    before = await catalog();
  });

  it('a YAML syntax error names the file, the line and YAML', async () => {
    const run = await apply('yaml-syntax.yaml');
    expectExit(run, 1);
    expect(run.stderr).toContain('yaml-syntax.yaml');
    expect(run.stderr).toMatch(/YAML syntax error/);
    expect(run.stderr).toMatch(/\(line 5, column \d+\)/);
    expect(await neverStarted('0201_yaml')).toBe(true);
    expect(await catalog()).toEqual(before);
  });

  it('an unknown operation suggests the one that was meant', async () => {
    const run = await apply('unknown-operation.yaml');
    expectExit(run, 1);
    expect(run.stderr).toMatch(/operations\[0\]: unknown operation 'add_colum' \(did you mean add_column\?\)/);
    expect(run.stderr).toContain('known operations:');
    expect(await neverStarted('0202_typo')).toBe(true);
    expect(await catalog()).toEqual(before);
  });

  it('a missing field and a mistyped field are reported together, each with its path and what was expected', async () => {
    const run = await apply('missing-and-mistyped.yaml');
    expectExit(run, 1);
    expect(run.stderr).toMatch(/operations\[0\]\.add_column\.column\.type: missing required field: expected a string \(the column's SQL type, e\.g\. text\)/);
    expect(run.stderr).toMatch(/operations\[1\]\.add_column\.column\.nullable: expected true or false .*got the text "sometimes"/);
    expect(await neverStarted('0203_fields')).toBe(true);
    expect(await catalog()).toEqual(before);
  });

  it('an identifier over 63 bytes names the field, the limit and the fix', async () => {
    const run = await apply('long-identifier.yaml');
    expectExit(run, 1);
    expect(run.stderr).toMatch(/operations\[0\]\.add_column\.column\.name: name is 66 bytes long; Postgres silently truncates names to 63 bytes/);
    expect(run.stderr).toContain('use a shorter name');
    expect(await neverStarted('0206_long')).toBe(true);
    expect(await catalog()).toEqual(before);
  });
});

describe('hostile manifests get the same clear errors', () => {
  const op = '{ sql: { up: "create table pwned (id int)", down: "drop table pwned" } }';
  const laughs = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= 9; i++) laughs.push(`l${i}: &l${i} [${Array.from({ length: 9 }, () => `*l${i - 1}`).join(', ')}]`);
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it.each([
    ['an alias bomb', '0208_bomb.yaml', `id: 0208_bomb\noperations: [${op}]\nl: { ${laughs.join(', ')} }\n`, /YAML aliases expand too far: .*\(an alias bomb\)/],
    ['5,000 levels of nesting', '0209_deep.yaml', `id: 0209_deep\noperations: [${op}]\nextra: ${deep(5000)}\n`, /nested more than 64 levels deep: .* \(line 3, column \d+\)/],
    ['JSON nested 5,000 levels', '0210_deep.json', `{"id": "0210_deep", "operations": [{"sql": {"up": ${deep(5000)}}}]}`, /nested more than 64 levels deep: .* \(line 1, column \d+\)/],
  ])('%s: one line naming the file and the problem, exit 1, nothing applied', async (_what, name, text, problem) => {
    const before = await catalog();
    const dir = mkdtempSync(join(tmpdir(), 'godwit-hostile-'));
    const file = join(dir, name);
    writeFileSync(file, text);
    const run = await godwit(['apply', file, '--target', TARGET, '--wait'], t.env);
    expectExit(run, 1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`${file}: `);
    expect(lines[0]).toMatch(problem);
    expect(run.output).not.toMatch(/\n\s+at |Maximum call stack|ReferenceError/);
    expect(await neverStarted(name.replace(/\.\w+$/, ''))).toBe(true);
    expect(await catalog()).toEqual(before);
  });
});

describe('targets and servers that are not there', () => {
  it('an unknown target alias names the environment variable that would define it', async () => {
    const run = await apply('plain.yaml', 'nope');
    expectExit(run, 1);
    expect(run.stderr).toMatch(/unknown target 'nope'/);
    expect(run.stderr).toContain('GODWIT_TARGET_NOPE');
    expect(run.stderr).toContain('godwit worker');
  });

  it('an unreachable Postgres says so, names the target, and never prints the connection string', async () => {
    const run = await apply('plain.yaml', DOWN);
    expectExit(run, 1);
    expect(run.stderr).toMatch(/cannot reach Postgres for target 'down'/);
    expect(run.stderr).toMatch(/check that the database is up/i);
    expect(run.output).not.toContain(SECRET);
    expect(run.output).not.toContain('postgres://');
  });

  it('an unreachable Temporal says so and points at godwit dev and TEMPORAL_ADDRESS', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const run = await apply('plain.yaml', TARGET, { ...t.env, TEMPORAL_ADDRESS: address });
    expectExit(run, 1);
    expect(run.stderr).toContain(`cannot reach Temporal at ${address}`);
    expect(run.stderr).toContain('godwit dev');
    expect(run.stderr).toContain('TEMPORAL_ADDRESS');
    expect(await migrationRow('0204_plain')).toBeUndefined();
  });
});

describe('input checked against the live schema', () => {
  it('creates hostile names as exactly those identifiers, and injects nothing', async () => {
    const run = await apply('hostile.yaml');
    expectExit(run, 0);
    const table = 'x"; drop table y;--';
    const { rows } = await db.query<{ attname: string }>(
      `select a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relname = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
      [table],
    );
    expect(rows.map((r) => r.attname)).toEqual(['id', 'ユーザー', '🦤']);
    const y = await db.query(`select to_regclass('public.y') is not null as present`);
    expect(y.rows[0]?.present).toBe(true);
    const tables = await db.query<{ relname: string }>(`select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and relkind = 'r' order by 1`);
    expect(tables.rows.map((r) => r.relname)).toEqual(['customers', table, 'y']);
  });

  it('a step on a missing table names the operation and the table, exits 1 and leaves no lease and no migration row', async () => {
    const before = await catalog();
    const run = await apply('missing-table.yaml');
    expectExit(run, 1);
    expect(run.stderr).toContain('0207_missing_table was not applied');
    expect(run.stderr).toMatch(/operations\[0\]\.add_column: table no_such_table does not exist/);
    expect(run.stderr).toContain('create the table with a create_table operation');
    expect(await catalog()).toEqual(before);
    expect(await migrationRow('0207_missing_table')).toBeUndefined();
    expect(await leaseCount()).toBe(0);
  });
});
