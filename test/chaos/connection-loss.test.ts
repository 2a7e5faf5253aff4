import pg from 'pg';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { finalState } from '../helpers/migrate';
import { startMigration, watchMigration, type WatchOutcome } from '../../src/client';
import { stateQuery } from '../../src/contract/messages';
import { ensureControlSchema } from '../../src/db/control-schema';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

/**
 * A worker's database connections die under it: a DBA's or a failover's
 * pg_terminate_backend, a restarted Postgres. Only the activity that held the connection
 * fails; Temporal retries it, the `godwit worker` process (run as users run it) stays up,
 * other targets' migrations on it go on, and every effect happens exactly once.
 */
let db: TestDatabase;
let other: TestDatabase;
let t: TestTemporal;
let worker: SpawnedWorker;
/** Rejects, with the worker's output, if the worker process ends. */
let workerDied: Promise<never>;
let admin: pg.Client;
let proxy: TcpProxy;

beforeAll(async () => {
  db = await createTestDatabase('godwit_connloss');
  other = await createTestDatabase('godwit_connloss_other');
  for (const d of [db, other]) await d.query('create table effects (tag text not null, step int not null)');
  await db.query('create table undone (tag text not null)');
  await db.query('create table accounts (id int primary key, balance int not null); insert into accounts select g, g from generate_series(1, 1000) g');
  await withClient(db.url, (c) => ensureControlSchema(c)); // the checksum test locks one of its tables
  // Target 'cut' is the same database reached through a relay the test can cut.
  const direct = new URL(db.url);
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
  const relayed = new URL(db.url);
  relayed.host = `${proxy.host}:${proxy.port}`;
  t = await setupTemporal({ app: db.url, other: other.url, cut: relayed.toString() });
  worker = await spawnWorker(t.env);
  workerDied = waitForExit(worker.child).then((code) => {
    throw new Error(`the worker exited (${code}) while a migration ran:\n${worker.output()}`);
  });
  workerDied.catch(() => undefined); // afterAll kills it
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});

afterEach(() => expectWorkerAlive());

afterAll(async () => {
  await admin?.end();
  if (worker) {
    worker.child.kill('SIGKILL');
    await waitForExit(worker.child);
  }
  await t?.close();
  await proxy?.close();
  await other?.drop();
  await db?.drop();
});

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function expectWorkerAlive(): void {
  expect(worker.child.exitCode, worker.output()).toBeNull();
  expect(worker.child.signalCode, worker.output()).toBeNull();
  expect(worker.output()).not.toMatch(/Unhandled|uncaught|Connection terminated/i);
}

/** Follows a run to its end, failing at once (with the worker's output) if the worker process dies meanwhile. */
async function outcomeOf(handle: WorkflowHandle): Promise<WatchOutcome> {
  return Promise.race([watchMigration(handle, () => undefined, { pollMs: 200 }), workerDied]);
}

/** Polls pg_stat_activity until one of the worker's backends in the test database matches, and returns its pid. */
async function workerBackend(where: string, params: unknown[] = []): Promise<{ pid: number; query: string }> {
  for (let i = 0; i < 1200; i++) {
    const { rows } = await admin.query<{ pid: number; query: string }>(
      `select pid, query from pg_stat_activity where datname = $1 and application_name = 'godwit' and (${where})`,
      [db.name, ...params],
    );
    if (rows[0]) return rows[0];
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no worker backend where ${where}`);
}

async function terminate(pid: number): Promise<void> {
  // With a timeout, pg_terminate_backend waits until the backend is gone.
  const { rows } = await admin.query<{ done: boolean }>('select pg_terminate_backend($1, 10000) as done', [pid]);
  expect(rows[0]!.done).toBe(true);
}

/** The failures Temporal recorded for each activity that needed more than one attempt. */
async function retriedActivities(handle: WorkflowHandle): Promise<{ type: string; attempt: number; lastFailure: string }[]> {
  const history = await handle.fetchHistory();
  const types = new Map<string, string>();
  const out: { type: string; attempt: number; lastFailure: string }[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '');
    const started = e.activityTaskStartedEventAttributes;
    if (started && (started.attempt ?? 1) > 1) {
      out.push({ type: types.get(String(started.scheduledEventId)) ?? '', attempt: started.attempt!, lastFailure: started.lastFailure?.message ?? '' });
    }
  }
  return out;
}

describe('a worker survives its database connections', () => {
  it('retries a step whose backend is terminated mid-statement, while another target migrates on the same worker', async () => {
    const loaded = await manifestFrom(`
id: 0001_step
operations:
  - sql: { up: "insert into effects values ('a', 1)", down: "delete from effects where tag = 'a' and step = 1" }
  - sql: { up: "insert into effects values ('a', 2); select pg_sleep(3)", down: "delete from effects where tag = 'a' and step = 2" }
  - sql: { up: "insert into effects values ('a', 3)", down: "delete from effects where tag = 'a' and step = 3" }
`);
    const elsewhere = await manifestFrom(`
id: 0001_elsewhere
operations:
  - sql: { up: "insert into effects values ('other', 1); select pg_sleep(3)", down: "delete from effects where tag = 'other'" }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
    const otherHandle = await startMigration(t.client, t.settings, { target: 'other', loaded: elsewhere, requestedBy: 'chaos' });

    const step = await workerBackend(`state = 'active' and query like '%pg_sleep%'`);
    await terminate(step.pid);

    expect(finalState(await outcomeOf(handle))).toBe('applied');
    expect(finalState(await outcomeOf(otherHandle))).toBe('applied');
    const effects = await db.query(`select step, count(*)::int as n from effects where tag = 'a' group by step order by step`);
    expect(effects.rows).toEqual([
      { step: 1, n: 1 },
      { step: 2, n: 1 },
      { step: 3, n: 1 },
    ]);
    expect((await other.query(`select count(*)::int as n from effects where tag = 'other'`)).rows[0]!.n).toBe(1);
    const ledger = await db.query(`select count(*)::int as n from godwit.step_ledger where migration_id = '0001_step' and forward_done_at is not null`);
    expect(ledger.rows[0]!.n).toBe(3);
    expect(await retriedActivities(handle)).toEqual([
      { type: 'runStep', attempt: 2, lastFailure: expect.stringMatching(/^step 2 \(.*\) failed: the connection to target 'app' was lost: terminating connection due to administrator command/) },
    ]);
  });

  it('retries a compensation whose backend is terminated, and the rollback is proven', async () => {
    const loaded = await manifestFrom(`
id: 0002_compensation
operations:
  - sql:
      up: "insert into effects values ('b', 1)"
      down: "delete from effects where tag = 'b'; insert into undone values ('b'); select pg_sleep(3)"
checks:
  post:
    - { name: fails on purpose, sql: select false }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
    const compensation = await workerBackend(`state = 'active' and query like '%insert into undone%'`);
    await terminate(compensation.pid);

    expect(finalState(await outcomeOf(handle))).toBe('rolled_back');
    expect((await db.query(`select count(*)::int as n from effects where tag = 'b'`)).rows[0]!.n).toBe(0);
    expect((await db.query(`select tag from undone`)).rows).toEqual([{ tag: 'b' }]);
    const ledger = await db.query(`select count(*)::int as n from godwit.step_ledger where migration_id = '0002_compensation' and compensated_at is not null`);
    expect(ledger.rows[0]!.n).toBe(1);
    expect(await retriedActivities(handle)).toEqual([
      { type: 'compensateStep', attempt: 2, lastFailure: expect.stringMatching(/^compensation of step 1 \(.*\) failed: the connection to target 'app' was lost/) },
    ]);
  });

  it('retries a prepare whose backend is terminated while it checksums a table', async () => {
    const loaded = await manifestFrom(`
id: 0003_checksum
operations:
  - sql: { up: "update accounts set balance = balance + 1 where id <= 10", down: "update accounts set balance = balance - 1 where id <= 10" }
checks:
  post:
    - { name: fails on purpose, sql: select false }
policy: { data_proof: whole_table }
`);
    const gate = new pg.Client({ connectionString: db.url });
    const locker = new pg.Client({ connectionString: db.url });
    await gate.connect();
    await locker.connect();
    try {
      // Hold the prepare at the end of its lease transaction (its insert into godwit.migrations),
      // lock accounts meanwhile, then let it go: it commits, and its checksum of accounts waits
      // for that lock, where the test terminates it.
      await gate.query('begin; lock table godwit.migrations in share mode');
      const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
      const prepare = await workerBackend(`wait_event_type = 'Lock' and query like '%insert into godwit.migrations%'`);
      const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await locker.query('begin; lock table accounts in access exclusive mode');
      await gate.query('rollback');
      const checksum = await workerBackend(`$2 = any(pg_blocking_pids(pid))`, [lockerPid]);
      expect(checksum.pid).toBe(prepare.pid);
      expect(checksum.query).toMatch(/pg_relation_size|hashtextextended/);
      await terminate(checksum.pid);
      await locker.query('commit');

      expect(finalState(await outcomeOf(handle))).toBe('rolled_back');
      // The proof compared accounts with the checksum the retried prepare took.
      const { rollback } = await handle.query(stateQuery);
      expect(rollback?.dataProof).toBe('whole_table');
      expect(rollback?.data).toEqual([expect.objectContaining({ table: 'public.accounts', equal: true })]);
      expect(await retriedActivities(handle)).toEqual([
        { type: 'prepareMigration', attempt: 2, lastFailure: expect.stringMatching(/^preparing 0003_checksum on 'app': the connection to target 'app' was lost/) },
      ]);
    } finally {
      await gate.end();
      await locker.end();
    }
  });

  it('retries pre and post checks whose backends are terminated, instead of counting them as failed', async () => {
    const loaded = await manifestFrom(`
id: 0004_checks
operations:
  - sql: { up: "insert into effects values ('c', 1)", down: "delete from effects where tag = 'c'" }
checks:
  pre:
    - { name: slow pre, sql: "select count(*) = 1 from (select pg_sleep(3)) pre" }
  post:
    - { name: slow post, sql: "select count(*) = 1 from (select pg_sleep(3)) post" }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });
    await terminate((await workerBackend(`state = 'active' and query like '%pg_sleep(3)) pre'`)).pid);
    await terminate((await workerBackend(`state = 'active' and query like '%pg_sleep(3)) post'`)).pid);

    expect(finalState(await outcomeOf(handle))).toBe('applied');
    expect((await db.query(`select count(*)::int as n from effects where tag = 'c'`)).rows[0]!.n).toBe(1);
    expect(await retriedActivities(handle)).toEqual([
      { type: 'prepareMigration', attempt: 2, lastFailure: expect.stringMatching(/^preparing 0004_checks on 'app': the connection to target 'app' was lost/) },
      { type: 'runChecks', attempt: 2, lastFailure: expect.stringMatching(/^post checks of 0004_checks: the connection to target 'app' was lost/) },
    ]);
  });

  it('retries a step whose network connection is cut (reset) mid-statement', async () => {
    const loaded = await manifestFrom(`
id: 0005_network_cut
operations:
  - sql: { up: "insert into effects values ('e', 1); select pg_sleep(3)", down: "delete from effects where tag = 'e'" }
`);
    const handle = await startMigration(t.client, t.settings, { target: 'cut', loaded, requestedBy: 'chaos' });
    await workerBackend(`state = 'active' and query like '%''e'', 1); select pg_sleep%'`);
    expect(proxy.open()).toBeGreaterThan(0);
    proxy.cut();

    expect(finalState(await outcomeOf(handle))).toBe('applied');
    expect((await db.query(`select count(*)::int as n from effects where tag = 'e'`)).rows[0]!.n).toBe(1);
    const ledger = await db.query(`select count(*)::int as n from godwit.step_ledger where migration_id = '0005_network_cut' and forward_done_at is not null`);
    expect(ledger.rows[0]!.n).toBe(1);
    expect(await retriedActivities(handle)).toEqual([
      { type: 'runStep', attempt: 2, lastFailure: expect.stringMatching(/^step 1 \(.*\) failed: the connection to target 'cut' was lost: .*ECONNRESET/) },
    ]);
  });

  it('runs the next migration when every connection of an idle worker was terminated (as a Postgres restart does)', async () => {
    const migrate = async (id: string) => {
      const loaded = await manifestFrom(`
id: ${id}
operations:
  - sql: { up: "insert into effects values ('${id}', 1)", down: "delete from effects where tag = '${id}'" }
`);
      for (const target of ['app', 'other']) {
        const handle = await startMigration(t.client, t.settings, { target, loaded, requestedBy: 'chaos' });
        expect(finalState(await outcomeOf(handle))).toBe('applied');
      }
    };
    await migrate('0006_before'); // both targets' pools now hold idle connections
    const { rows } = await admin.query<{ n: number }>(
      `select count(*) filter (where pg_terminate_backend(pid, 10000))::int as n
         from pg_stat_activity where datname in ($1, $2) and application_name = 'godwit'`,
      [db.name, other.name],
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);

    await migrate('0007_after');
    for (const d of [db, other]) expect((await d.query(`select count(*)::int as n from effects where tag = '0007_after'`)).rows[0]!.n).toBe(1);
  });
});
