import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { directCalls } from '../helpers/direct';
import { createActivities } from '../../activities';
import { TargetPools } from '../../src/db/pool';
import { tableChecksum } from '../../src/db/checksum';

// The activities called directly, as Temporal would on a retry: at least once.
let db: TestDatabase;
let pools: TargetPools;
let acts: ReturnType<typeof createActivities>;
const { withClient, plan, stepInput } = directCalls(() => db.url);




beforeAll(async () => {
  db = await createTestDatabase('godwit_acts');
  pools = new TargetPools(() => db.url);
  acts = createActivities({ pools });
});

beforeEach(async () => {
  await db.query('drop table if exists users; create table users (id int primary key, email text)');
  await db.query(`insert into users select g, 'u' || g || '@x' from generate_series(1, 1000) g`);
});

afterAll(async () => {
  await pools?.close();
  await db?.drop();
});

describe('step activities', () => {
  it('runs a step once when it is delivered twice', async () => {
    const [step] = await plan(`
id: m1
operations:
  - sql: { up: "update users set email = email || '!'", down: "update users set email = rtrim(email, '!')" }
`);
    const input = await stepInput(step!);
    expect((await acts.runStep(input)).skipped).toBe(false);
    expect((await acts.runStep(input)).skipped).toBe(true);
    const bangs = await db.query(`select count(*)::int as n from users where email like '%!!'`);
    expect(bangs.rows[0]!.n).toBe(0);
  });

  it("refuses a run's fault injection on a worker not started for tests, before the step touches the database", async () => {
    const [step] = await plan(`
id: m1
operations:
  - add_column: { table: users, column: { name: hooked, type: int } }
`);
    const input = { ...(await stepInput(step!)), faults: { failAtStep: 1 } };
    const allowed = process.env.GODWIT_ALLOW_FAULTS;
    delete process.env.GODWIT_ALLOW_FAULTS;
    try {
      const err = (await acts.runStep(input).catch((e: unknown) => e)) as ApplicationFailure;
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err.type).toBe('FaultsRefused');
      expect(err.nonRetryable).toBe(true);
      expect(err.message).toMatch(/carries fault injection \(failAtStep\), a test hook this worker does not run on 'app'; .*GODWIT_ALLOW_FAULTS=1/);
    } finally {
      process.env.GODWIT_ALLOW_FAULTS = allowed;
    }
    const col = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'hooked'`);
    expect(col.rowCount).toBe(0);
    // A test worker runs it: the step fails where the hook says.
    const err = (await acts.runStep(input).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.type).toBe('InjectedFault');
  });

  it('compensates a step once when the compensation is delivered twice', async () => {
    const [step] = await plan(`
id: m1
operations:
  - add_column: { table: users, column: { name: extra, type: int } }
`);
    const input = await stepInput(step!);
    await acts.runStep(input);
    expect((await acts.compensateStep(input)).skipped).toBe(false);
    expect((await acts.compensateStep(input)).skipped).toBe(true);
  });

  it('refuses to write with a fencing token that is no longer the lease holder', async () => {
    const [step] = await plan(`
id: m1
operations:
  - add_column: { table: users, column: { name: fenced, type: int } }
`);
    const stale = await stepInput(step!);
    await stepInput(step!); // a newer holder takes the lease
    const err = await acts.runStep(stale).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('StaleLeaseError');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    const cols = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'fenced'`);
    expect(cols.rowCount).toBe(0);
  });

  it('drops an INVALID index left by an interrupted CREATE INDEX CONCURRENTLY before retrying', async () => {
    await db.query(`update users set email = 'dup@x' where id <= 2`);
    await db.query('create unique index concurrently users_email_key on users (email)').catch(() => undefined);
    const invalid = await db.query(`select indisvalid from pg_index where indexrelid = 'users_email_key'::regclass`);
    expect(invalid.rows[0]!.indisvalid).toBe(false);
    await db.query(`update users set email = 'u' || id || '@x' where id <= 2`);

    const [step] = await plan(`
id: m1
operations:
  - create_index: { table: users, columns: [email], name: users_email_key, unique: true, concurrently: true }
`);
    await acts.runStep(await stepInput(step!));
    const idx = await db.query(`select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname like 'users_email%'`);
    expect(idx.rows).toEqual([{ relname: 'users_email_key', indisvalid: true }]);
  });

  it('leaves no INVALID index behind when CREATE INDEX CONCURRENTLY fails', async () => {
    await db.query(`update users set email = 'dup@x' where id <= 2`);
    const [step] = await plan(`
id: m1
operations:
  - create_index: { table: users, columns: [email], name: users_email_key, unique: true, concurrently: true }
`);
    const err = await acts.runStep(await stepInput(step!)).catch((e: unknown) => e);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    const idx = await db.query(`select 1 from pg_class where relname = 'users_email_key'`);
    expect(idx.rowCount).toBe(0);
  });

  it('gives up within the lock timeout while another session holds a lock, as a retryable failure', async () => {
    const [step] = await plan(`
id: m1
operations:
  - add_column: { table: users, column: { name: blocked, type: int } }
`);
    const input = await stepInput(step!, { lock_timeout: '200ms' });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('begin; lock table users in access share mode');
      const err = await acts.runStep(input).catch((e: unknown) => e);
      expect((err as ApplicationFailure).type).toBe('LockTimeout');
      expect((err as ApplicationFailure).nonRetryable).toBe(false);
      await holder.query('rollback');
      expect((await acts.runStep(input)).skipped).toBe(false);
    } finally {
      await holder.end();
    }
  });

  it('runs a backfill in committed batches and resumes after a failure without updating any row twice', async () => {
    await db.query('alter table users add column score int not null default 0');
    const [step] = await plan(`
id: m1
operations:
  - backfill: { table: users, set: { score: "score + 1" }, batch_size: 100 }
`);
    const input = await stepInput(step!, { lock_timeout: '200ms' });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // A row in the last batch is locked: nine batches commit, the tenth times out (retryable).
      await holder.query('begin; select * from users where id = 950 for update');
      const err = await acts.runStep(input).catch((e: unknown) => e);
      expect((err as ApplicationFailure).type).toBe('LockTimeout');
      const partial = await db.query(`select count(*) filter (where score = 1)::int as done, count(*) filter (where score = 0)::int as todo from users`);
      expect(partial.rows[0]).toEqual({ done: 900, todo: 100 });
      await holder.query('rollback');
      expect((await acts.runStep(input)).skipped).toBe(false);
    } finally {
      await holder.end();
    }
    const scores = await db.query(`select min(score) as lo, max(score) as hi from users`);
    expect(scores.rows[0]).toEqual({ lo: 1, hi: 1 });
    const ledger = await db.query(`select progress->>'batches' as batches, progress->>'rows' as rows from godwit.step_ledger where run_id = $1`, [input.runId]);
    expect(ledger.rows[0]).toEqual({ batches: '10', rows: '1000' });
  });

  it('fills a big table in two key ranges, each resuming after a failure, without updating any row twice', async () => {
    await db.query('drop table if exists big; create table big (id bigint primary key, n int not null default 0)');
    await db.query('insert into big (id) select g from generate_series(1, 120000) g; analyze big');
    const [step] = await plan(`
id: m1
operations:
  - backfill: { table: big, set: { n: "n + 1" } }
`);
    const input = await stepInput(step!, { lock_timeout: '200ms' });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // A row in the second range is locked: that lane times out (retryable) and the other stops.
      await holder.query('begin; select * from big where id = 110000 for update');
      const err = await acts.runStep(input).catch((e: unknown) => e);
      expect((err as ApplicationFailure).type).toBe('LockTimeout');
      await holder.query('rollback');
      expect((await acts.runStep(input)).skipped).toBe(false);
    } finally {
      await holder.end();
    }
    const n = await db.query(`select min(n) as lo, max(n) as hi, count(*)::int as rows from big`);
    expect(n.rows[0]).toEqual({ lo: 1, hi: 1, rows: 120000 });
    const ledger = await db.query(`select jsonb_array_length(progress->'lanes') as lanes, progress->>'rows' as rows from godwit.step_ledger where run_id = $1`, [input.runId]);
    expect(ledger.rows[0]).toEqual({ lanes: 2, rows: '120000' });
  });

  it('splits a composite key into ranges of whole key values too, and fills every row once', async () => {
    // Tenants of very different sizes: a split on the first column alone could not even out.
    await db.query('drop table if exists multi; create table multi (tenant int, id int, n int not null default 0, primary key (tenant, id))');
    await db.query('insert into multi (tenant, id) select case when g <= 100000 then 1 else 1 + g % 7 end, g from generate_series(1, 130000) g; analyze multi');
    const [step] = await plan(`
id: m1
operations:
  - backfill: { table: multi, set: { n: "n + 1" } }
`);
    const input = await stepInput(step!);
    expect((await acts.runStep(input)).skipped).toBe(false);
    // Witness: every row once, counted in SQL.
    const n = await db.query(`select min(n) as lo, max(n) as hi, count(*)::int as rows from multi`);
    expect(n.rows[0]).toEqual({ lo: 1, hi: 1, rows: 130000 });
    const ledger = await db.query<{ lanes: { lastKey: string[] | null; until: string[] | null; rows: number }[]; rows: string }>(
      `select progress->'lanes' as lanes, progress->>'rows' as rows from godwit.step_ledger where run_id = $1`,
      [input.runId],
    );
    const { lanes, rows } = ledger.rows[0]!;
    expect(rows).toBe('130000');
    expect(lanes).toHaveLength(2);
    // The split is a whole (tenant, id), inside tenant 1, where most rows are.
    expect(lanes[0]!.until).toHaveLength(2);
    expect(lanes[0]!.until![0]).toBe('1');
    expect(lanes[0]!.rows + lanes[1]!.rows).toBe(130000);
    expect(Math.min(lanes[0]!.rows, lanes[1]!.rows)).toBeGreaterThan(0);
  });

  it('cancels a batch that holds its locks past the cap and fills its rows in smaller batches, each once', async () => {
    await db.query('alter table users add column n int not null default 0');
    // Each row sleeps at least a millisecond (pg_sleep's void reads as ''), so the first batches
    // (200 rows) outlast the cap (70 ms) however fast the machine is.
    const [step] = await plan(`
id: m1
operations:
  - backfill: { table: users, set: { n: "n + 1 + length(pg_sleep(0.001)::text)" } }
`);
    const input = await stepInput(step!);
    expect((await acts.runStep(input)).skipped).toBe(false);
    const n = await db.query(`select min(n) as lo, max(n) as hi from users`);
    expect(n.rows[0]).toEqual({ lo: 1, hi: 1 });
    const ledger = await db.query(`select (progress->>'cutShort')::int > 0 as cut, progress->>'rows' as rows from godwit.step_ledger where run_id = $1`, [input.runId]);
    expect(ledger.rows[0]).toEqual({ cut: true, rows: '1000' });
  });

  it('puts back what committed batches changed when a backfill fails for good', async () => {
    const before = await withClient((c) => tableChecksum(c, 'public', 'users'));
    const [step] = await plan(`
id: m1
operations:
  - backfill: { table: users, set: { email: "upper(email)" }, where: "id % 3 = 0", batch_size: 50 }
`);
    const input = { ...(await stepInput(step!)), faults: { failAtStep: 1 } };
    const err = await acts.runStep(input).catch((e: unknown) => e);
    expect((err as ApplicationFailure).type, (err as Error).message).toBe('InjectedFault');
    expect(await withClient((c) => tableChecksum(c, 'public', 'users'))).toEqual(before);
  });
});
