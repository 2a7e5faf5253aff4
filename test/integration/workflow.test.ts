import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { applyAndWatch, finalState, fingerprintOf } from '../helpers/migrate';
import { takeWitness } from '../helpers/witness';
import { MigrationAlreadyRunningError, MigrationFailedError, startMigration, watchMigration } from '../../src/client';
import { resolveUpdate, stateQuery } from '../../src/contract/messages';

let db: TestDatabase;
let t: TestTemporal;
const TARGET = 'app';

beforeAll(async () => {
  db = await createTestDatabase('godwit_wf');
  await db.query(`create table users (id bigint generated always as identity primary key, email text, name text not null)`);
  await db.query(`insert into users (email, name) select 'User' || g || '@Example.com', 'user ' || g from generate_series(1, 3000) g`);
  t = await setupTemporal({ [TARGET]: db.url, other: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

// Five steps of different kinds, the last one outside a transaction.
const fiveSteps = (id: string) => `
id: ${id}
description: five steps of different kinds
operations:
  - create_table:
      table: audit_events
      columns:
        - { name: id, type: bigint, identity: always, primary_key: true }
        - { name: kind, type: text, nullable: false }
  - add_column: { table: users, column: { name: email_norm, type: text } }
  - rename_column: { table: users, from: name, to: full_name }
  - sql:
      up: "update users set email_norm = lower(email)"
      down: "update users set email_norm = null"
  - create_index: { table: users, columns: [email_norm], name: users_email_norm_idx, concurrently: true }
`;

describe('migration workflow against Postgres and Temporal', () => {
  it('applies a multi-step migration and records it', async () => {
    const loaded = await manifestFrom(fiveSteps('0001_five'));
    const outcome = await applyAndWatch(t, TARGET, loaded);
    expect(finalState(outcome)).toBe('applied');

    const cols = await db.query(`select column_name from information_schema.columns where table_name = 'users' order by 1`);
    expect(cols.rows.map((r) => r.column_name)).toEqual(['email', 'email_norm', 'full_name', 'id']);
    const norm = await db.query(`select count(*)::int as n from users where email_norm = lower(email)`);
    expect(norm.rows[0]!.n).toBe(3000);
    const idx = await db.query(`select indisvalid from pg_index where indexrelid = 'users_email_norm_idx'::regclass`);
    expect(idx.rows[0]!.indisvalid).toBe(true);

    const row = await db.query(`select state, checksum, finished_at is not null as finished, fingerprint_after from godwit.migrations where migration_id = '0001_five'`);
    expect(row.rows[0]!).toMatchObject({ state: 'applied', checksum: loaded.checksum, finished: true });
    expect(row.rows[0]!.fingerprint_after).toBe((await fingerprintOf(db.url)).hash);
    const audit = await db.query(`select event, from_state, to_state from godwit.audit_log where migration_id = '0001_five' and to_state is not null order by seq`);
    expect(audit.rows.map((r) => `${r.from_state}>${r.to_state}`)).toEqual(['planned>in_progress', 'in_progress>validated', 'validated>applied']);
    const ledger = await db.query(`select count(*)::int as n from godwit.step_ledger where migration_id = '0001_five' and forward_done_at is not null`);
    expect(ledger.rows[0]!.n).toBe(5);
    const leases = await db.query(`select count(*)::int as n from godwit.leases`);
    expect(leases.rows[0]!.n).toBe(0);
  });

  it("records every transition of a run whose first step fails, START included", async () => {
    const loaded = await manifestFrom('id: 0001_first_fails\noperations:\n  - sql: { up: "select 1/0", down: "select 1" }\npolicy: { approval: never }\n');
    expect(finalState(await applyAndWatch(t, TARGET, loaded))).toBe('rolled_back');
    const audit = await db.query(`select from_state, to_state from godwit.audit_log where migration_id = '0001_first_fails' and to_state is not null order by seq`);
    expect(audit.rows.map((r) => `${r.from_state}>${r.to_state}`)).toEqual(['planned>in_progress', 'in_progress>rolling_back', 'rolling_back>rolled_back']);
  });

  it("records START for a backfill whose first transaction fails for good (a statement_timeout while the table is locked)", async () => {
    await db.query(`create table gap_accounts (id bigint primary key, owner text, owner_up text)`);
    await db.query(`insert into gap_accounts select g, 'o' || g from generate_series(1, 100) g`);
    // An application transaction holding ROW EXCLUSIVE: the sync trigger (SHARE ROW EXCLUSIVE)
    // in the backfill's first transaction waits for it until statement_timeout cancels it.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`begin; lock table gap_accounts in row exclusive mode`);
      const loaded = await manifestFrom(`id: 0001_backfill_first_tx_fails
operations:
  - backfill: { table: gap_accounts, set: { owner_up: "upper(owner)" }, sync: true }
policy: { approval: never, statement_timeout: 500ms, lock_timeout: 10s }
`);
      expect(finalState(await applyAndWatch(t, TARGET, loaded))).toBe('rolled_back');
    } finally {
      await holder.end();
    }
    const audit = await db.query(`select from_state, to_state from godwit.audit_log where migration_id = '0001_backfill_first_tx_fails' and to_state is not null order by seq`);
    expect(audit.rows.map((r) => `${r.from_state}>${r.to_state}`)).toEqual(['planned>in_progress', 'in_progress>rolling_back', 'rolling_back>rolled_back']);
    const triggers = await db.query(`select count(*)::int as n from pg_trigger where tgrelid = 'gap_accounts'::regclass and not tgisinternal`);
    expect(triggers.rows[0]!.n).toBe(0);
  });

  it('is a no-op the second time the same migration is applied', async () => {
    const loaded = await manifestFrom(fiveSteps('0001_five'));
    const before = await fingerprintOf(db.url);
    const outcome = await applyAndWatch(t, TARGET, loaded);
    expect(outcome.kind === 'finished' && outcome.result.alreadyApplied).toBe(true);
    expect((await fingerprintOf(db.url)).hash).toBe(before.hash);
    const ledger = await db.query(`select count(*)::int as n from godwit.step_ledger where migration_id = '0001_five'`);
    expect(ledger.rows[0]!.n).toBe(5);
  });

  // A failure injected at every step k: steps 1..k-1 are compensated, step k's own
  // transaction rolls back, and the schema is exactly what it was before.
  it.each([1, 2, 3, 4, 5])('rolls back to the same schema when step %i of 5 fails', async (k) => {
    // back to the schema before 0001_five, by hand
    await db.query(`drop table if exists audit_events; drop index if exists users_email_norm_idx;
      alter table users drop column if exists email_norm;
      do $$ begin
        if exists (select from information_schema.columns where table_name = 'users' and column_name = 'full_name')
        then alter table users rename column full_name to name; end if;
      end $$`);
    const before = await fingerprintOf(db.url);
    const witness = await takeWitness(db.url);
    const sums = await db.query(`select md5(string_agg(id || ':' || coalesce(email, '') || ':' || name, ',' order by id)) as h from users`);
    const outcome = await applyAndWatch(t, TARGET, await manifestFrom(fiveSteps(`0002_fail_${k}`)), { failAtStep: k });
    expect(finalState(outcome)).toBe('rolled_back');
    const result = outcome.kind === 'finished' ? outcome.result : undefined;
    expect(result?.rollback).toMatchObject({ equal: true, fingerprintBefore: before.hash, fingerprintAfter: before.hash });
    expect(result?.steps.map((s) => s.status)).toEqual([...Array(k - 1).fill('compensated'), 'failed', ...Array(5 - k).fill('pending')]);
    expect((await fingerprintOf(db.url)).hash).toBe(before.hash);
    const after = await db.query(`select md5(string_agg(id || ':' || coalesce(email, '') || ':' || name, ',' order by id)) as h from users`);
    expect(after.rows[0]!.h).toBe(sums.rows[0]!.h);
    expect(await witness.differences()).toEqual([]);
  });

  it('rolls back every step when a post check fails', async () => {
    const before = await fingerprintOf(db.url);
    const witness = await takeWitness(db.url);
    const loaded = await manifestFrom(`
id: 0003_check
operations:
  - add_column: { table: users, column: { name: nickname, type: text } }
checks:
  post:
    - name: every user has a nickname
      sql: select count(*) = 0 from users where nickname is null
`);
    const outcome = await applyAndWatch(t, TARGET, loaded);
    expect(finalState(outcome)).toBe('rolled_back');
    expect(outcome.kind === 'finished' && outcome.result.reason).toMatch(/post check failed: every user has a nickname/);
    expect((await fingerprintOf(db.url)).hash).toBe(before.hash);
    expect(await witness.differences()).toEqual([]);
  });

  it('does not start when a pre check is not true, and changes nothing', async () => {
    const before = await fingerprintOf(db.url);
    const loaded = await manifestFrom(`
id: 0003_pre
operations:
  - add_column: { table: users, column: { name: never_added, type: int } }
checks:
  pre:
    - name: no user without an email
      sql: select count(*) = 0 from users where email is null or email like '%Example.com'
`);
    await expect(applyAndWatch(t, TARGET, loaded)).rejects.toThrow(/pre check 'no user without an email' returned false, not true; nothing was applied/);
    expect((await fingerprintOf(db.url)).hash).toBe(before.hash);
    expect(await db.query(`select 1 from godwit.migrations where migration_id = '0003_pre'`).then((r) => r.rowCount)).toBe(0);
    expect(await db.query(`select count(*)::int as n from godwit.leases`).then((r) => r.rows[0]!.n)).toBe(0);
  });

  it('applies a rolled-back migration again once its file is fixed', async () => {
    const fixed = await manifestFrom(`
id: 0003_check
operations:
  - add_column: { table: users, column: { name: nickname, type: text, default: "'anon'" } }
checks:
  post:
    - name: every user has a nickname
      sql: select count(*) = 0 from users where nickname is null
`);
    expect(finalState(await applyAndWatch(t, TARGET, fixed))).toBe('applied');
    const n = await db.query(`select count(*)::int as n from users where nickname = 'anon'`);
    expect(n.rows[0]!.n).toBe(3000);
  });

  it('lets one of two concurrent migrations run and refuses the other with a clear error', async () => {
    const slow = await manifestFrom(`
id: 0004_slow
operations:
  - add_column: { table: users, column: { name: slow_col, type: int } }
`);
    const other = await manifestFrom(`
id: 0005_other
operations:
  - add_column: { table: users, column: { name: other_col, type: int } }
`);
    const first = await startMigration(t.client, t.settings, { target: TARGET, loaded: slow, requestedBy: 'a', faults: { sleepAtStep: { step: 1, ms: 3000 } } });
    // wait until the first holds the lease and runs its step
    for (let i = 0; i < 100; i++) {
      const p = await first.query(stateQuery).catch(() => null);
      if (p?.state === 'in_progress') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const second = startMigration(t.client, t.settings, { target: TARGET, loaded: other, requestedBy: 'b' }).then((h) => watchMigration(h, () => undefined));
    await expect(second).rejects.toThrow(MigrationFailedError);
    await expect(second).rejects.toThrow(/target 'app' is busy: godwit\/app\/0004_slow holds its lease/);
    const cols = await db.query(`select count(*)::int as n from information_schema.columns where table_name = 'users' and column_name = 'other_col'`);
    expect(cols.rows[0]!.n).toBe(0);
    expect(await db.query(`select 1 from godwit.migrations where migration_id = '0005_other'`).then((r) => r.rowCount)).toBe(0);

    // the same migration started twice is refused by its workflow id
    await expect(startMigration(t.client, t.settings, { target: TARGET, loaded: slow, requestedBy: 'a' })).rejects.toThrow(MigrationAlreadyRunningError);
    expect(finalState(await watchMigration(first, () => undefined))).toBe('applied');
  });

  it('ends in rollback_failed, naming the table, when a compensation runs but does not restore the data', async () => {
    const loaded = await manifestFrom(`
id: 0007_bad_down
operations:
  - sql: { up: "update users set email = upper(email) where id <= 10", down: "select 1" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'other', loaded, requestedBy: 'a' });
    const outcome = await watchMigration(handle, () => undefined);
    expect(finalState(outcome)).toBe('rollback_failed');
    const p = outcome.kind === 'waiting' ? outcome.progress : null;
    expect(p?.rollback?.equal).toBe(false);
    // The down is checked against the log of what up changed: the ten rows are still as up left them.
    expect(p?.rollback?.differences).toEqual(['restore of public.users (step 1-sql): 10 rows are still as the step left them after the restore']);
    expect(p?.rollback?.restores).toEqual([expect.objectContaining({ kind: 'changes', rows: 10, restored: 0, equal: false })]);
    expect(p?.reason).toMatch(/restore of public\.users/);
    const proof = await db.query(`select detail->>'equal' as equal from godwit.audit_log where migration_id = '0007_bad_down' and event = 'ROLLBACK_PROOF'`);
    expect(proof.rows).toEqual([{ equal: 'false' }]);
    await db.query(`update users set email = 'User' || id || '@Example.com' where id <= 10`);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', note: 'restored the ten emails' }] });
    expect(finalState(await watchMigration(handle, () => undefined))).toBe('resolved_manually');
  });

  it('with data_proof: whole_table, also compares every touched table with its checksum from before the first step', async () => {
    const loaded = await manifestFrom(`
id: 0008_whole_table
operations:
  - sql: { up: "update users set email = lower(email) where id <= 5", down: "select 1", touches: [users] }
checks:
  post:
    - { name: fails on purpose, sql: select false }
policy: { data_proof: whole_table }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'other', loaded, requestedBy: 'a' });
    const outcome = await watchMigration(handle, () => undefined);
    expect(finalState(outcome)).toBe('rollback_failed');
    const p = outcome.kind === 'waiting' ? outcome.progress : null;
    expect(p?.rollback?.dataProof).toBe('whole_table');
    expect(p?.rollback?.data).toEqual([expect.objectContaining({ table: 'public.users', equal: false })]);
    expect(p?.rollback?.differences).toContainEqual(expect.stringMatching(/^data of public\.users: 3000 rows with checksum rowsum64:\w+, was 3000 rows with rowsum64:\w+$/));
    await db.query(`update users set email = 'User' || id || '@Example.com' where id <= 5`);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', note: 'restored the five emails' }] });
    expect(finalState(await watchMigration(handle, () => undefined))).toBe('resolved_manually');
  });

  it('stays open in rollback_failed when a compensation fails, until a human resolves it', async () => {
    const loaded = await manifestFrom(`
id: 0006_broken_undo
operations:
  - add_column: { table: users, column: { name: c1, type: int } }
  - add_column: { table: users, column: { name: c2, type: int } }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'a', faults: { failAtStep: 2, failCompensationOfStep: 1 } });
    const outcome = await watchMigration(handle, () => undefined);
    expect(outcome.kind).toBe('waiting');
    expect(finalState(outcome)).toBe('rollback_failed');
    expect(outcome.kind === 'waiting' && outcome.progress.reason).toMatch(/compensation of step 1 \(add_column users.c1\) failed: .*injected failure compensating step 1/);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    // The row is written by the activity right after the transition the query already shows.
    let state: string | undefined;
    for (let i = 0; i < 50 && state !== 'rollback_failed'; i++) {
      state = (await db.query(`select state from godwit.migrations where migration_id = '0006_broken_undo'`)).rows[0]?.state;
      if (state !== 'rollback_failed') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('rollback_failed');

    await db.query('alter table users drop column c1');
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', note: 'dropped c1 by hand' }] });
    const done = await watchMigration(handle, () => undefined);
    expect(finalState(done)).toBe('resolved_manually');
    expect(await db.query(`select count(*)::int as n from godwit.leases`).then((r) => r.rows[0]!.n)).toBe(0);
  });
});
