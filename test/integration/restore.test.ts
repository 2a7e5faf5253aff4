import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { directCalls } from '../helpers/direct';
import { fingerprintOf } from '../helpers/migrate';
import { takeWitness } from '../helpers/witness';
import { createActivities } from '../../activities';
import { TargetPools } from '../../src/db/pool';
import { pruneSnapshots, snapshotTableName } from '../../src/db/snapshots';
import { tableChecksum, type TableChecksum } from '../../src/db/checksum';
import type { PlannedStep } from '../../src/operations/types';
import type { StepInput } from '../../src/contract/migration';

// Restoring a column's values from its snapshot on rollback (drop_column where it cannot
// retire the column, alter_column_type without down_using), run by the step activities as
// Temporal would call them: forward, then the compensation; the table's data and the schema
// fingerprint must come back exactly. The tables whose columns are dropped are published,
// which is one of the reasons drop_column copies instead of retiring (retire.test.ts retires).

let db: TestDatabase;
let pools: TargetPools;
let acts: ReturnType<typeof createActivities>;
const { withClient, plan: planYaml, stepInput } = directCalls(() => db.url);

/** The table under test: a composite key of hostile names, and a column of every shape worth restoring. */
const T = `"Member's ""Ships"""`;
const FIXTURE = `
  drop schema if exists public cascade;
  create schema public;
  drop publication if exists restore_copy;
  create type "mo'od" as enum ('happy', 'sad', '🙂');
  create domain cents as numeric(12, 2) check (value >= 0);
  create table ${T} (
    "org $$ id" int not null,
    "user's id" bigint not null,
    "tags\\" text[],
    moods "mo'od"[],
    mood "mo'od",
    code varchar(12) collate "C",
    amount numeric(12, 2) not null default 0,
    fee cents,
    flag char(3),
    "$1" jsonb,
    note text,
    primary key ("org $$ id", "user's id")
  );
  create index on ${T} (code);
  create publication restore_copy for table ${T};
  insert into ${T}
  select g % 7, g,
         case when g % 5 = 0 then null else array['a' || g, null, 'é''"' || g] end,
         case when g % 4 = 0 then null else array['happy', '🙂']::"mo'od"[] end,
         case when g % 3 = 0 then null else (array['happy', 'sad', '🙂']::"mo'od"[])[1 + g % 3] end,
         case when g % 6 = 0 then null else 'C' || g end,
         g * 1.25, case when g % 2 = 0 then null else g / 3.0 end,
         case when g % 9 = 0 then null else 'x' end,
         case when g % 8 = 0 then null else jsonb_build_object('n', g) end,
         case when g % 10 = 0 then null else repeat('note ', g % 50) end
    from generate_series(1, 2000) g;
`;


async function plan(operations: string): Promise<PlannedStep[]> {
  return planYaml(`id: m1\noperations:\n${operations}\n`);
}


const checksumOf = (table: string): Promise<TableChecksum> => withClient((c) => tableChecksum(c, 'public', table));

/** Functions Godwit's restores create, in any session (pg_proc shows other sessions' temporary ones). */
async function restoreFunctions(): Promise<string[]> {
  const { rows } = await db.query<{ f: string }>(`select proname as f from pg_proc where proname like 'godwit_restore%'`);
  return rows.map((r) => r.f);
}

/** Runs the one step forward and then its compensation, and checks the table and schema are as before (by Godwit's proof and by the witness). */
async function roundTrip(table: string, operation: string): Promise<{ step: PlannedStep; input: StepInput }> {
  const before = await checksumOf(table);
  const fingerprint = await fingerprintOf(db.url);
  const witness = await takeWitness(db.url);
  const [step] = await plan(operation);
  const input = await stepInput(step!);
  expect((await acts.runStep(input)).skipped).toBe(false);
  expect((await acts.compensateStep(input)).skipped).toBe(false);
  expect(await checksumOf(table)).toEqual(before);
  expect((await fingerprintOf(db.url)).hash).toBe(fingerprint.hash);
  expect(await witness.differences()).toEqual([]);
  expect(await restoreFunctions()).toEqual([]);
  return { step: step!, input };
}

const sqlOf = (step: PlannedStep) => (step.inverse ?? []).map((a) => a.sql);
const rewrites = (step: PlannedStep) => sqlOf(step).some((q) => / USING "godwit_snapshots"\."godwit_restore_[0-9a-f]{8}"\(/.test(q)) && !sqlOf(step).some((q) => q.startsWith('UPDATE '));
const lintCodes = (step: PlannedStep) => step.lint.map((l) => l.code);

beforeAll(async () => {
  db = await createTestDatabase('godwit_restore');
  pools = new TargetPools(() => db.url);
  acts = createActivities({ pools });
});

beforeEach(async () => {
  await db.query(FIXTURE);
});

afterAll(async () => {
  await pools?.close();
  await db?.drop();
});

describe('drop_column rolled back by one table rewrite', () => {
  it.each([
    ['an array of text with NULL elements, in a column named with a backslash', 'tags\\'],
    ['an array of an enum', 'moods'],
    ['an enum', 'mood'],
    ['varchar(12) with a collation, under an index', 'code'],
    ['NOT NULL numeric(12,2) with a default', 'amount'],
    ['a domain with a check', 'fee'],
    ['char(3), padded', 'flag'],
    ['jsonb, in a column named $1', '$1'],
  ])('restores %s exactly, by a composite key of hostile names', async (_what, column) => {
    const { step } = await roundTrip(`Member's "Ships"`, `  - drop_column: { table: '${T.replaceAll("'", "''")}', column: '${column.replaceAll("'", "''")}' }`);
    expect(rewrites(step)).toBe(true);
    expect(sqlOf(step).find((q) => q.startsWith('CREATE FUNCTION'))).toMatch(/\(integer, bigint\) RETURNS /);
  });

  it('restores a column of a table whose update trigger would change other columns: the rewrite fires no trigger', async () => {
    await db.query(`
      create table people (id int primary key, bio text, touched timestamptz not null default '2020-01-01');
      insert into people select g, 'bio ' || g, '2020-01-01' from generate_series(1, 500) g;
      create function touch() returns trigger language plpgsql as $$ begin new.touched := clock_timestamp(); return new; end $$;
      create trigger people_touch before update on people for each row execute function touch();
      alter publication restore_copy add table people;
    `);
    const { step } = await roundTrip('people', '  - drop_column: { table: people, column: bio }');
    expect(rewrites(step)).toBe(true);
  });

  it('restores a column of a partitioned table, partition by partition', async () => {
    await db.query(`
      create table events (id int, k int, payload text, primary key (id, k)) partition by range (k);
      create table events_a partition of events for values from (0) to (5);
      create table events_b partition of events for values from (5) to (10);
      insert into events select g, g % 10, case when g % 3 = 0 then null else 'p' || g end from generate_series(1, 1000) g;
      alter publication restore_copy add table events;
    `);
    const { step } = await roundTrip('events', '  - drop_column: { table: events, column: payload }');
    expect(rewrites(step)).toBe(true);
  });

  it('leaves the snapshot with its data, checksum and a key, and prune drops it with its key', async () => {
    const { input } = await roundTrip(`Member's "Ships"`, `  - drop_column: { table: '${T.replaceAll("'", "''")}', column: note }`);
    const name = snapshotTableName({ migrationId: 'm1', runId: input.runId, stepId: input.step.id }, 0);
    const recorded = await db.query<{ checksum: string; row_count: number; restored: boolean }>(
      'select checksum, row_count::int, restored_at is not null as restored from godwit.snapshots where snapshot_table = $1',
      [name],
    );
    const now = await withClient((c) => tableChecksum(c, 'godwit_snapshots', name));
    expect(recorded.rows).toEqual([{ checksum: now.checksum, row_count: now.rows, restored: true }]);
    const key = await db.query(`select indexrelid::regclass::text as index from pg_index where indrelid = $1::regclass and indisprimary`, [`godwit_snapshots.${name}`]);
    expect(key.rows).toEqual([{ index: `godwit_snapshots.${name}_pkey` }]);

    await db.query(`update godwit.snapshots set retain_until = now() - interval '1 day' where snapshot_table = $1`, [name]);
    await db.query(`insert into godwit.migrations (migration_id, checksum, state, workflow_id, run_id, requested_by) values ('m1', 'sha256:x', 'rolled_back', 'w', $1, 't')`, [input.runId]);
    const pruned = await withClient((c) => pruneSnapshots(c));
    expect(pruned.dropped).toContain(name);
    const left = await db.query(`select relname from pg_class where relname like $1`, [`${name}%`]);
    expect(left.rows).toEqual([]);
  });

  it('rolls the snapshot key and the function back with a compensation that fails, and the retry succeeds', async () => {
    const before = await checksumOf('Member\'s "Ships"');
    const [step] = await plan(`  - drop_column: { table: '${T.replaceAll("'", "''")}', column: note }`);
    const input = await stepInput(step!);
    await acts.runStep(input);
    const name = snapshotTableName({ migrationId: 'm1', runId: input.runId, stepId: step!.id }, 0);
    // Fails after the restore and its check ran, before the ledger row: the transaction rolls back.
    const err = await acts.compensateStep({ ...input, faults: { failCompensationOfStep: step!.index } }).catch((e: unknown) => e);
    expect((err as ApplicationFailure).type).toBe('InjectedFault');
    const keys = await db.query(`select 1 from pg_index where indrelid = $1::regclass`, [`godwit_snapshots.${name}`]);
    expect(keys.rowCount).toBe(0);
    expect(await restoreFunctions()).toEqual([]);
    // Every pooled connection is used again: none may hold a function or a half-done restore.
    for (let i = 0; i < 4; i++) expect((await acts.compensateStep(input)).skipped).toBe(i > 0);
    expect(await checksumOf('Member\'s "Ships"')).toEqual(before);
    expect(await restoreFunctions()).toEqual([]);
  });
});

describe('alter_column_type without down_using rolled back by one table rewrite', () => {
  it.each([
    ['NOT NULL numeric(12,2) with a default, through text', 'amount', 'text', 'amount::text'],
    ['an array of an enum, through text', 'moods', 'text', 'moods::text'],
    ['varchar(12) with a collation and an index, through varchar(3)', 'code', 'varchar(3)', 'left(code, 3)'],
    ['a domain, through bigint', 'fee', 'bigint', 'round(fee)::bigint'],
  ])('restores %s exactly', async (_what, column, type, using) => {
    const { step } = await roundTrip(
      `Member's "Ships"`,
      `  - alter_column_type: { table: '${T.replaceAll("'", "''")}', column: ${column}, type: "${type}", using: "${using}" }`,
    );
    expect(rewrites(step)).toBe(true);
    expect(sqlOf(step).some((q) => q.includes('USING NULL') || q.includes('DROP NOT NULL'))).toBe(false);
  });
});

describe('where Postgres cannot rewrite the table, an UPDATE restores the column', () => {
  it('a table whose row type another table stores', async () => {
    await db.query(`
      create table cells (id int primary key, v text);
      insert into cells select g, case when g % 4 = 0 then null else 'v' || g end from generate_series(1, 300) g;
      create table grid (c cells);
      alter publication restore_copy add table cells;
    `);
    const { step } = await roundTrip('cells', '  - drop_column: { table: cells, column: v }');
    expect(rewrites(step)).toBe(false);
    expect(sqlOf(step)).toContain('UPDATE "public"."cells" AS t SET "v" = s."v" FROM {{snapshot:0}} AS s WHERE t."id" = s."id"');
    expect(step.lint.find((l) => l.code === 'restore_by_update')?.message).toBe(
      'rolling back puts back the values of cells.v with an UPDATE of every row, not one table rewrite: Postgres cannot rewrite cells: column public.grid.c stores its row type',
    );
  });

  it('a table with inheritance children, whose rows share its snapshot', async () => {
    await db.query(`
      create table base (id int primary key, v text not null default 'd');
      create table child (extra int) inherits (base);
      insert into base select g, 'b' || g from generate_series(1, 200) g;
      insert into child select g, 'c' || g, g from generate_series(201, 400) g;
    `);
    const before = await checksumOf('child');
    const { step } = await roundTrip('base', '  - alter_column_type: { table: base, column: v, type: "varchar(2)", using: "left(v, 2)" }');
    expect(await checksumOf('child')).toEqual(before);
    expect(rewrites(step)).toBe(false);
    expect(lintCodes(step)).toContain('restore_by_update');
  });
});

describe('a migration role without the TEMP privilege (often revoked from PUBLIC)', () => {
  it('still rolls back a dropped column by the rewrite: the lookup function lives in godwit_snapshots, not pg_temp', async () => {
    const role = `godwit_notemp_${randomBytes(3).toString('hex')}`;
    const own = await createTestDatabase('godwit_notemp');
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    let rolePools: TargetPools | undefined;
    try {
      await admin.query(`create role ${role} login`);
      await admin.query(`alter database "${own.name}" owner to ${role}`);
      await admin.query(`revoke temporary on database "${own.name}" from public, ${role}`);
      const url = new URL(own.url);
      url.username = role;
      const roleUrl = url.toString();
      const calls = directCalls(() => roleUrl);
      await calls.withClient(async (c) => {
        await c.query(`create table people (id int primary key, bio text)`);
        await c.query(`create publication people_copy for table people`);
        await c.query(`insert into people select g, case when g % 4 = 0 then null else 'bio ' || g end from generate_series(1, 300) g`);
        await expect(c.query('create temp table probe (x int)')).rejects.toThrow(/permission denied to create temporary tables/);
      });
      const before = await calls.withClient((c) => tableChecksum(c, 'public', 'people'));
      rolePools = new TargetPools(() => roleUrl);
      const roleActs = createActivities({ pools: rolePools });
      const [step] = await calls.plan(`id: m1\noperations:\n  - drop_column: { table: people, column: bio }\n`);
      expect(rewrites(step!)).toBe(true);
      const input = await calls.stepInput(step!);
      await roleActs.runStep(input);
      await roleActs.compensateStep(input);
      expect(await calls.withClient((c) => tableChecksum(c, 'public', 'people'))).toEqual(before);
    } finally {
      await rolePools?.close();
      await own.drop();
      await admin.query(`drop role if exists ${role}`);
      await admin.end();
    }
  });
});
