/**
 * `godwit plan --target`: the plan made against the live catalog by a worker (the CLI holds
 * no connection string), showing what an offline plan cannot know, and writing nothing to
 * the target.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestDir, setupTemporal, type TestTemporal } from '../helpers/temporal';
import type { PlannedStep } from '../../src/operations/types';
import { godwit, withoutTargets, type GodwitRun } from './run-godwit';

let db: TestDatabase;
let t: TestTemporal;

const ROWS = 5000;

beforeAll(async () => {
  db = await createTestDatabase('godwit_plan_target');
  await db.query('create table accounts (id bigint primary key, balance int not null, note text)');
  await db.query(`insert into accounts select g, g % 100, 'note ' || g from generate_series(1, ${ROWS}) g`);
  await db.query('analyze accounts'); // the planner's row estimate is pg_class.reltuples
  t = await setupTemporal({ app: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

interface PlanJson {
  target?: { name: string; fingerprint: string; tables: { table: string; rows: number; bytes: number }[] };
  migrations: { id: string; file: string; status?: string; recorded?: string; steps: PlannedStep[] }[];
}

function expectExit(run: GodwitRun, code: number): void {
  expect(run.code, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(code);
}

/** The CLI's environment holds no connection string: only the worker resolves `app`. */
const cliEnv = () => withoutTargets(t.env);

async function planJson(path: string, ...flags: string[]): Promise<PlanJson> {
  const run = await godwit(['plan', path, '--json', ...flags], cliEnv());
  expectExit(run, 0);
  return JSON.parse(run.stdout) as PlanJson;
}

/** What a look at the target would change: Godwit's schemas, and the table's columns. */
async function targetState(): Promise<{ godwitSchemas: string[]; columns: string[] }> {
  const schemas = await db.query<{ name: string }>(`select nspname as name from pg_namespace where nspname like 'godwit%' order by 1`);
  const columns = await db.query<{ c: string }>(
    `select column_name || ' ' || data_type as c from information_schema.columns where table_schema = 'public' and table_name = 'accounts' order by ordinal_position`,
  );
  return { godwitSchemas: schemas.rows.map((r) => r.name), columns: columns.rows.map((r) => r.c) };
}

const dropAndRetype = `
id: 1_accounts
operations:
  - drop_column: { table: accounts, column: note }
  - alter_column_type: { table: accounts, column: balance, type: bigint }
`;

describe('godwit plan --target', () => {
  it('gives the real inverses of drop_column and alter_column_type, which an offline plan cannot, and the rewrite lock with its estimate', async () => {
    const file = join(manifestDir({ '1_accounts.yaml': dropAndRetype }), '1_accounts.yaml');
    const before = await targetState();

    const offline = await planJson(file);
    expect(offline.target).toBeUndefined();
    expect(offline.migrations[0]!.steps.map((s) => s.inverse)).toEqual([null, null]);

    const live = await planJson(file, '--target', 'app');
    expect(live.target?.name).toBe('app');
    expect(live.target?.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(live.target?.tables).toEqual([{ table: 'public.accounts', rows: ROWS, bytes: expect.any(Number) }]);
    const [drop, retype] = live.migrations[0]!.steps;
    expect(live.migrations[0]!.status).toBe('planned');
    // drop_column retires the column; rolling back renames it back.
    expect(drop!.retire).toEqual([{ kind: 'column', schema: 'public', table: 'accounts', column: 'note' }]);
    expect(drop!.inverse?.map((a) => a.sql).join('\n')).toMatch(/RENAME COLUMN \{\{retired:0\}\} TO "note"/);
    // alter_column_type without down_using: the old values come back from a snapshot keyed by the primary key.
    expect(retype!.summary).toBe('alter_column_type accounts.balance to bigint');
    expect(retype!.snapshots).toEqual([expect.objectContaining({ kind: 'columns', schema: 'public', table: 'accounts', key: ['id'], columns: ['balance'] })]);
    expect(retype!.inverse?.map((a) => a.sql).join('\n')).toMatch(/ALTER COLUMN "balance" TYPE integer/);
    expect(retype!.blocksWrites).toEqual(expect.objectContaining({ lock: 'ACCESS EXCLUSIVE', table: 'public.accounts', estimate: expect.stringMatching(/^~5,000 rows, [\d.]+ MB: about [\d.]+ s$/) }));

    const human = await godwit(['plan', file, '--target', 'app'], cliEnv());
    expectExit(human, 0);
    expect(human.stdout).toMatch(/^target app: planned against its live catalog \(schema sha256:[0-9a-f]{64}\)$/m);
    expect(human.stdout).toMatch(/^ {2}public\.accounts: ~5,000 rows, \d+ kB$/m);
    expect(human.stdout).toMatch(/snapshot: copy of public\.accounts \(balance\) by key \(id\)/);
    expect(human.stdout).toMatch(/warning table_rewrite: .* \(ACCESS EXCLUSIVE; ~5,000 rows, [\d.]+ MB: about [\d.]+ s, during which every read and write of it waits/);

    expect(await targetState()).toEqual(before);
    expect(before.godwitSchemas).toEqual([]);
  });

  it('takes the online path, and says why, when the rewrite would outlast the lock_timeout', async () => {
    const file = join(manifestDir({ '2_online.yaml': `${dropAndRetype.replace('1_accounts', '2_online')}policy: { lock_timeout: 1ms }\n` }), '2_online.yaml');
    const live = await planJson(file, '--target', 'app');
    const steps = live.migrations[0]!.steps.slice(1);
    expect(steps.map((s) => s.summary)).toEqual([
      expect.stringMatching(/^alter_column_type accounts\.balance to bigint \(online 1\/4: add _godwit_new_[0-9a-f]{8}, kept in step by a trigger\)$/),
      expect.stringMatching(/\(online 2\/4: fill _godwit_new_[0-9a-f]{8} in batches\)$/),
      expect.stringMatching(/\(online 3\/4: validate _godwit_new_[0-9a-f]{8}_nn\)$/),
      expect.stringMatching(/\(online 4\/4: swap _godwit_new_[0-9a-f]{8} in under a brief lock\)$/),
    ]);
    expect(steps.some((s) => s.blocksWrites !== undefined)).toBe(false);
    const why = steps[0]!.lint.find((f) => f.code === 'online_type_change');
    expect(why?.message).toMatch(/changes type online \(in place it would rewrite ~5,000 rows, .* MB: about .* s, longer than half the lock_timeout of 0\.001 s\)/);

    // Offline, the size is unknown: the in-place rewrite, with a note that the target may go online.
    const offline = await planJson(file);
    expect(offline.migrations[0]!.steps.map((s) => s.lint.map((f) => f.code))[1]).toEqual(['table_rewrite', 'online_type_change']);
    expect((await targetState()).godwitSchemas).toEqual([]);
  });

  it('fails with exit 1 naming the file, the operation and the fix when the plan does not fit the live catalog', async () => {
    const dir = manifestDir({ '3_missing.yaml': 'id: 3_missing\noperations:\n  - drop_column: { table: accounts, column: notes }\n' });
    const file = join(dir, '3_missing.yaml');
    // Offline nothing says the column is missing.
    expectExit(await godwit(['plan', file], cliEnv()), 0);

    const run = await godwit(['plan', file, '--target', 'app'], cliEnv());
    expectExit(run, 1);
    expect(run.stderr).toContain(`${file}: operations[0].drop_column: column accounts.notes does not exist (planned against the live catalog of 'app')`);
    expect(run.stderr).toMatch(/\n {2}\(did you mean note\?\) Columns of accounts: id, balance, note\./);
    expect(run.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(run.stdout).toBe('');
    expect((await targetState()).godwitSchemas).toEqual([]);
  });

  it('refuses an unknown target with the worker\'s message', async () => {
    const run = await godwit(['plan', join(manifestDir({ '1_accounts.yaml': dropAndRetype }), '1_accounts.yaml'), '--target', 'nowhere'], cliEnv());
    expectExit(run, 1);
    expect(run.stderr).toMatch(/GODWIT_TARGET_NOWHERE/);
  });

  it('plans a directory in order, each manifest against the schema the earlier ones leave, and marks applied and changed ones', async () => {
    const dir = manifestDir({
      '4_flag.yaml': 'id: 4_flag\noperations:\n  - add_column: { table: accounts, column: { name: flag, type: boolean } }\n',
      '5_flag_index.yaml': 'id: 5_flag_index\noperations:\n  - create_index: { table: accounts, columns: [flag] }\n',
    });
    const first = await planJson(dir, '--target', 'app');
    expect(first.migrations.map((m) => [m.id, m.status, m.steps.map((s) => s.summary)])).toEqual([
      ['4_flag', 'planned', ['add_column accounts.flag']],
      ['5_flag_index', 'planned', [expect.stringMatching(/^create_index .*accounts_flag_idx/)]],
    ]);

    expectExit(await godwit(['apply', join(dir, '4_flag.yaml'), '--target', 'app', '--wait'], t.env), 0);
    const after = await planJson(dir, '--target', 'app');
    expect(after.migrations.map((m) => [m.id, m.status, m.steps.length])).toEqual([
      ['4_flag', 'applied', 0],
      ['5_flag_index', 'planned', 1],
    ]);

    writeFileSync(join(dir, '4_flag.yaml'), 'id: 4_flag\noperations:\n  - add_column: { table: accounts, column: { name: flag, type: int } }\n');
    const changed = await godwit(['plan', dir, '--target', 'app'], cliEnv());
    expectExit(changed, 5);
    expect(changed.stdout).toMatch(/changed: applied to app as sha256:[0-9a-f]{64}, the file is now sha256:[0-9a-f]{64}; apply refuses it \(exit 5\)/);
  });
});
