import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { applyAndWatch, finalState } from '../helpers/migrate';
import { schemaDump } from '../helpers/witness';
import type { WatchOutcome } from '../../src/client';
import type { MigrationProgress } from '../../src/contract/migration';
import { pruneSnapshots } from '../../src/db/snapshots';
import { directCalls } from '../helpers/direct';

// These migrations are destructive, so approval: auto would wait for a person: each says
// approval: never, as a pipeline that does not gate them would.
//
// Rollback on a live database: an application writes during the whole migration, and the
// rollback must undo the migration's writes and nothing else. The witness is plain SQL against
// a copy taken before the migration (EXCEPT ALL), and the application's own bookkeeping: every
// committed increment of a balance has its row in the ledger, so sum(balance) = count(ledger)
// unless a write was lost.

const ROWS = 20_000;
/** The writer deletes only accounts in this range, and inserts only above ROWS. */
const DELETABLE = { from: 19_001, to: 20_000 };
const LOCK_TIMEOUT_MS = 2_000;

let db: TestDatabase;
/** The id the writer gives the next account it inserts: one sequence for every writer of a test. */
let nextId = ROWS + 1;
const { withClient } = directCalls(() => db.url);
let t: TestTemporal;

beforeAll(async () => {
  db = await createTestDatabase('godwit_live');
  t = await setupTemporal({ app: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

beforeEach(async () => {
  nextId = ROWS + 1;
  await db.query(`
    drop table if exists accounts, ledger, accounts_before cascade;
    create table accounts (id int primary key, owner text not null, note text, balance bigint not null default 0);
    insert into accounts select g, 'owner ' || g, case when g % 3 = 0 then null else 'note ' || g end, 0 from generate_series(1, ${ROWS}) g;
    create table ledger (id bigserial primary key, account_id int not null);
    create table accounts_before as select * from accounts;
  `);
});

interface WriterReport {
  committed: number;
  inserted: number[];
  deleted: number[];
  /** Statements that gave up waiting for a lock (each waits at most a little over the policy's lock_timeout). */
  lockWaitsTooLong: number;
  errors: string[];
}

/**
 * The application: `clients` connections in a loop until stopped. Each transaction adds 1 to a
 * random balance and writes its ledger row; now and then one inserts a new account or deletes
 * one from DELETABLE. Every statement may wait for a lock a little longer than the migration's
 * lock_timeout, no more: a longer wait counts as a failure.
 */
function startWriter(clients = 3): { stop(): Promise<WriterReport> } {
  const report: WriterReport = { committed: 0, inserted: [], deleted: [], lockWaitsTooLong: 0, errors: [] };
  let running = true;
  const loops = Array.from({ length: clients }, async (_v, n) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`set lock_timeout = '${LOCK_TIMEOUT_MS + 1_000}ms'`);
    let i = 0;
    try {
      while (running) {
        i++;
        const id = 1 + Math.floor(Math.random() * (DELETABLE.from - 1));
        try {
          await c.query('begin');
          // Like any application, it books only what it changed.
          const u = await c.query('update accounts set balance = balance + 1 where id = $1', [id]);
          if (u.rowCount === 1) await c.query('insert into ledger (account_id) values ($1)', [id]);
          let inserted: number | null = null;
          let deleted: number | null = null;
          if (i % 25 === n) {
            inserted = nextId++;
            await c.query(`insert into accounts (id, owner) values ($1::int, 'app ' || $1::text)`, [inserted]);
          }
          if (i % 40 === n) {
            const victim = DELETABLE.from + Math.floor(Math.random() * (DELETABLE.to - DELETABLE.from + 1));
            const r = await c.query('delete from accounts where id = $1 and balance = 0', [victim]);
            if (r.rowCount === 1) deleted = victim;
          }
          await c.query('commit');
          report.committed++;
          if (inserted !== null) report.inserted.push(inserted);
          if (deleted !== null) report.deleted.push(deleted);
        } catch (err) {
          await c.query('rollback').catch(() => undefined);
          const e = err as { code?: string; message: string };
          if (e.code === '55P03') report.lockWaitsTooLong++;
          else report.errors.push(e.message);
        }
      }
    } finally {
      await c.end();
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}

async function runWhileWriting(manifest: string, failAtStep?: number): Promise<{ outcome: WatchOutcome; writer: WriterReport }> {
  const loaded = await manifestFrom(manifest);
  const writer = startWriter();
  await new Promise((r) => setTimeout(r, 300));
  const outcome = await applyAndWatch(t, 'app', loaded, failAtStep === undefined ? undefined : { failAtStep });
  await new Promise((r) => setTimeout(r, 300));
  return { outcome, writer: await writer.stop() };
}

function progressOf(outcome: WatchOutcome): MigrationProgress {
  return outcome.kind === 'finished' ? outcome.result : outcome.progress;
}

/** No write lost, none waited past the lock timeout, the inserted rows are there and the deleted ones gone. */
async function expectApplicationIntact(writer: WriterReport): Promise<void> {
  expect([...new Set(writer.errors)]).toEqual([]);
  expect(writer.lockWaitsTooLong).toBe(0);
  expect(writer.committed).toBeGreaterThan(20);
  const { rows } = await db.query<{ sum: string; ledger: string }>('select (select sum(balance) from accounts)::bigint::text as sum, (select count(*) from ledger)::text as ledger');
  expect(rows[0]!.sum).toBe(rows[0]!.ledger);
  const inserted = await db.query('select id from accounts where id = any($1::int[])', [writer.inserted]);
  expect(inserted.rowCount).toBe(writer.inserted.length);
  const deleted = await db.query('select id from accounts where id = any($1::int[])', [writer.deleted]);
  expect(deleted.rowCount).toBe(0);
}

/** Plain SQL, no Godwit code: every account that existed before and still exists has its columns but balance as before. */
async function expectColumnsAsBefore(columns: string[]): Promise<void> {
  const list = ['id', ...columns].join(', ');
  const { rows } = await db.query<{ n: string }>(`
    select count(*)::text as n from (
      (select ${list} from accounts_before where id in (select id from accounts)
       except all
       select ${list} from accounts where id <= ${ROWS})
      union all
      (select ${list} from accounts where id <= ${ROWS}
       except all
       select ${list} from accounts_before)
    ) d`);
  expect(rows[0]!.n).toBe('0');
}

/** No sync trigger or its function is left on the target. */
async function expectNoSyncTrigger(): Promise<void> {
  const left = await db.query<{ n: number }>(
    `select (select count(*) from pg_trigger where tgname like '\\_godwit\\_sync\\_%')::int + (select count(*) from pg_proc where proname like '\\_godwit\\_sync\\_%')::int as n`,
  );
  expect(left.rows[0]!.n).toBe(0);
}

describe('rollback while the application writes', () => {
  it('sql without down: undoes only the rows the statement changed; the application keeps every write', async () => {
    const { outcome, writer } = await runWhileWriting(
      `
id: 0001_upper_owners
operations:
  - sql: { up: "update accounts set owner = upper(owner), note = 'migrated' where id % 10 = 0" }
  - sql: { up: "select pg_sleep(1)", down: "select 1" }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never }
`,
      3,
    );
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    const restore = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'changes');
    // Every tenth account still there when the statement ran (the application deletes a few, and inserts).
    expect(restore).toMatchObject({ source: 'public.accounts', equal: true, kept: 0 });
    expect(restore!.rows).toBeGreaterThan(ROWS / 10 - 100);
    expect(restore!.restored + restore!.gone).toBe(restore!.rows);
    // The whole-table comparison is off by default: nothing was checksummed.
    expect(progressOf(outcome).rollback?.data).toEqual([]);
  });

  it('overwriting backfill: puts back the overwritten values batch by batch; the application keeps every write', async () => {
    const { outcome, writer } = await runWhileWriting(
      `
id: 0002_backfill_owner
operations:
  - backfill: { table: accounts, set: { owner: "'o' || id", note: "coalesce(note, '') || '!'" }, batch_size: 2000 }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never }
`,
      2,
    );
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    const restore = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'changes');
    expect(restore).toMatchObject({ source: 'public.accounts (owner, note)', equal: true, kept: 0 });
    expect(restore!.restored + restore!.gone).toBe(restore!.rows);
  });

  it('backfill with sync: rows the application inserts while it runs get the value too, and the trigger goes once applied', async () => {
    // When each row was written: the trigger lives until the migration ends, and the writer goes on a little longer.
    await db.query('alter table accounts add column written timestamptz default clock_timestamp()');
    const { outcome, writer } = await runWhileWriting(`
id: 0010_sync
operations:
  - add_column: { table: accounts, column: { name: owner_up, type: text } }
  - backfill: { table: accounts, set: { owner_up: "upper(owner)" }, sync: true }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never, throttle: { rate: 8000 } }
`);
    expect(finalState(outcome)).toBe('applied');
    await expectApplicationIntact(writer);
    expect(writer.inserted.length).toBeGreaterThan(0);
    // Every row written before the backfill step finished (the trigger was there for certain) has the value.
    const during = `written < (select forward_done_at from godwit.step_ledger where migration_id = '0010_sync' and summary like 'backfill%')`;
    const off = await db.query<{ n: number; inserted: number }>(
      `select count(*) filter (where owner_up is distinct from upper(owner))::int as n, count(*) filter (where id > ${ROWS})::int as inserted from accounts where ${during}`,
    );
    expect(off.rows[0]!.n).toBe(0);
    expect(off.rows[0]!.inserted).toBeGreaterThan(0);
    await expectNoSyncTrigger();
  });

  it("backfill with sync, rolled back: the trigger's writes are undone with the batches', the application's own values stay", async () => {
    const { outcome, writer } = await runWhileWriting(
      `
id: 0011_sync_rollback
operations:
  - backfill: { table: accounts, set: { note: "'n:' || owner" }, sync: true }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never, throttle: { rate: 8000 } }
`,
      2,
    );
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    // The application inserted its accounts without a note: the trigger gave them one, the rollback took it back.
    expect(writer.inserted.length).toBeGreaterThan(0);
    const noted = await db.query<{ n: number }>('select count(*)::int as n from accounts where id > $1 and note is not null', [ROWS]);
    expect(noted.rows[0]!.n).toBe(0);
    const restore = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'changes');
    expect(restore).toMatchObject({ source: 'public.accounts (note)', equal: true });
    await expectNoSyncTrigger();
  });

  it('keeps the value the application wrote after the migration did, and counts it', async () => {
    const loaded = await manifestFrom(`
id: 0003_app_wins
operations:
  - sql: { up: "update accounts set owner = 'm ' || id where id <= 100" }
  - sql: { up: "select pg_sleep(2)", down: "select 1" }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { approval: never }
`);
    const run = applyAndWatch(t, 'app', loaded, { failAtStep: 3 });
    // While step 2 sleeps, the application changes ten of the rows step 1 changed.
    for (let i = 0; i < 100; i++) {
      const { rows } = await db.query<{ n: string }>(`select count(*)::text as n from accounts where owner like 'm %'`);
      if (rows[0]!.n === '100') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await db.query(`update accounts set owner = 'app ' || id where id <= 10`);
    const outcome = await run;
    expect(finalState(outcome)).toBe('rolled_back');
    const { rows } = await db.query<{ id: number; owner: string }>('select id, owner from accounts where id <= 12 order by id');
    expect(rows.map((r) => r.owner)).toEqual([...Array.from({ length: 10 }, (_v, i) => `app ${i + 1}`), 'owner 11', 'owner 12']);
    await db.query(`update accounts set owner = 'owner ' || id where id <= 10`);
    await expectColumnsAsBefore(['owner', 'note']);
    const restore = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'changes');
    expect(restore).toMatchObject({ rows: 100, restored: 90, kept: 10, gone: 0, equal: true });
  });

  it('alter_column_type without down_using: the balances the application changed after the type change keep their values', async () => {
    const { outcome, writer } = await runWhileWriting(
      `
id: 0005_retype_balance
operations:
  - alter_column_type: { table: accounts, column: balance, type: "numeric(20,2)" }
  - sql: { up: "select pg_sleep(1)", down: "select 1" }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never }
`,
      3,
    );
    expect(finalState(outcome)).toBe('rolled_back');
    // Every increment survives: those made after the type change were kept by the restore.
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    const type = await db.query<{ t: string }>(`select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'accounts'::regclass and attname = 'balance'`);
    expect(type.rows[0]!.t).toBe('bigint');
    const restore = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'columns');
    expect(restore).toMatchObject({ source: 'public.accounts (balance)', equal: true });
    expect(restore!.kept).toBeGreaterThan(0);
    expect(restore!.restored + restore!.kept + restore!.gone).toBe(restore!.rows);
  });

  it('create_index concurrently: built and dropped again while the application writes, without a write waiting', async () => {
    const { outcome, writer } = await runWhileWriting(
      `
id: 0006_index_owner
operations:
  - create_index: { table: accounts, columns: [owner], concurrently: true }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never }
`,
      2,
    );
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    const index = await db.query(`select 1 from pg_indexes where tablename = 'accounts' and indexdef like '%(owner)%'`);
    expect(index.rowCount).toBe(0);
    expect(progressOf(outcome).rollback).toMatchObject({ equal: true, restores: [] });
  });

  it('sql that inserts and deletes rows: rolling back deletes what it inserted and brings back what it deleted', async () => {
    const { outcome, writer } = await runWhileWriting(
      `
id: 0004_insert_delete
operations:
  - sql:
      up: |
        delete from accounts where id between 100 and 199;
        insert into accounts (id, owner) select g, 'migration ' || g from generate_series(900001, 900050) g;
        merge into accounts a using (values (5, 'merged'), (900100, 'merged new')) v(id, owner) on a.id = v.id
          when matched then update set owner = v.owner when not matched then insert (id, owner) values (v.id, v.owner);
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never }
`,
      2,
    );
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    const leftovers = await db.query('select id from accounts where id > 900000');
    expect(leftovers.rowCount).toBe(0);
    const back = await db.query('select id from accounts where id between 100 and 199');
    expect(back.rowCount).toBe(100);
    const restore = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'changes');
    expect(restore).toMatchObject({ rows: 152, equal: true });
  });
});

/** The table as pg_dump prints its definition: a witness that shares no code with Godwit's fingerprint. */
const dumpAccounts = () => schemaDump(db.url, { table: 'public.accounts' });

describe('online alter_column_type while the application writes', () => {
  const manifest = (id: string, using = '') => `
id: ${id}
operations:
  - alter_column_type: { table: accounts, column: balance, type: "numeric(20,2)", online: true${using} }
  - sql: { up: "select pg_sleep(1)", down: "select 1" }
  - add_column: { table: accounts, column: { name: tier, type: text } }
policy: { lock_timeout: ${LOCK_TIMEOUT_MS}ms, approval: never }
`;
  beforeEach(async () => {
    await db.query(`create index accounts_balance_idx on accounts (balance, id); alter table accounts add constraint balance_not_negative check (balance >= 0)`);
  });

  it('rolled back after the swap: renamed back, exact to pg_dump, with every write the application made', async () => {
    const before = await dumpAccounts();
    const { outcome, writer } = await runWhileWriting(manifest('0007_online_after_swap'), 7);
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    expect(await dumpAccounts()).toEqual(before);
    const triggers = await db.query(`select tgname from pg_trigger where tgrelid = 'accounts'::regclass and not tgisinternal`);
    expect(triggers.rows).toEqual([]);
    const retired = progressOf(outcome).rollback?.restores?.find((r) => r.kind === 'retired');
    expect(retired).toMatchObject({ source: 'public.accounts.balance', equal: true });
    expect(progressOf(outcome).rollback?.equal).toBe(true);
  });

  it('refuses to swap a column a view reads, naming the view, and rolls back', async () => {
    await db.query('create view rich as select id from accounts where balance > 100');
    try {
      const before = await dumpAccounts();
      const outcome = await applyAndWatch(t, 'app', await manifestFrom(manifest('0010_online_view')));
      expect(finalState(outcome)).toBe('rolled_back');
      expect(progressOf(outcome).reason).toMatch(/cannot change the type of accounts\.balance online: view rich would keep reading the old column after the swap/);
      expect(await dumpAccounts()).toEqual(before);
    } finally {
      await db.query('drop view rich');
    }
  });

  it('rolled back before the swap: the new column is dropped, nothing else changed', async () => {
    const before = await dumpAccounts();
    // With using, the trigger computes the new column by the manifest's expression over the row.
    const { outcome, writer } = await runWhileWriting(manifest('0008_online_before_swap', ', using: "balance * 1.00 + 0 * id"'), 3);
    expect(finalState(outcome)).toBe('rolled_back');
    await expectApplicationIntact(writer);
    expect(await dumpAccounts()).toEqual(before);
  });

  it('applied: the column has the new type, its index and check, and the trigger is gone', async () => {
    const { outcome, writer } = await runWhileWriting(manifest('0009_online_applied'));
    expect(finalState(outcome)).toBe('applied');
    await expectApplicationIntact(writer);
    await expectColumnsAsBefore(['owner', 'note']);
    const type = await db.query<{ t: string; nullable: boolean; def: string | null }>(
      `select format_type(atttypid, atttypmod) as t, not attnotnull as nullable, pg_get_expr(d.adbin, d.adrelid) as def
         from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where attrelid = 'accounts'::regclass and attname = 'balance'`,
    );
    expect(type.rows[0]).toMatchObject({ t: 'numeric(20,2)', nullable: false, def: '0' });
    const index = await db.query<{ def: string }>(`select indexdef as def from pg_indexes where indexname = 'accounts_balance_idx'`);
    expect(index.rows[0]!.def).toBe('CREATE INDEX accounts_balance_idx ON public.accounts USING btree (balance, id)');
    const check = await db.query<{ def: string }>(`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'balance_not_negative'`);
    expect(check.rows[0]!.def).toBe('CHECK ((balance >= (0)::numeric))');
    const triggers = await db.query(`select tgname from pg_trigger where tgrelid = 'accounts'::regclass and not tgisinternal`);
    expect(triggers.rows).toEqual([]);
    // Every value came across (sum(balance) = count(ledger) above); the old column is retired, to be purged by prune.
    const retired = await db.query<{ source_column: string }>(`select source_column from godwit.retired where migration_id = '0009_online_applied' and purged_at is null`);
    expect(retired.rows).toEqual([{ source_column: 'balance' }]);

    // Once its retention ends, prune drops the old column, and its old index and check with it, while the application writes.
    await db.query(`update godwit.retired set retain_until = now() - interval '1 second' where migration_id = '0009_online_applied'`);
    const after = startWriter();
    const pruned = await withClient((c) => pruneSnapshots(c));
    const late = await after.stop();
    expect(pruned.purged.map((r) => r.source)).toEqual(['public.accounts.balance']);
    await expectApplicationIntact({ ...late, committed: late.committed + writer.committed });
    const leftovers = await db.query<{ name: string }>(
      `select attname::text as name from pg_attribute where attrelid = 'accounts'::regclass and attname like '\\_godwit%' and not attisdropped
       union all select relname::text from pg_class where relname like '\\_godwit%'
       union all select conname::text from pg_constraint where conname like '\\_godwit%'`,
    );
    expect(leftovers.rows).toEqual([]);
  });
});
