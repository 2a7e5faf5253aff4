import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { finalState } from '../helpers/migrate';
import { runCli, spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { startMigration, watchMigration } from '../../src/client';

// A backfill is paced, paused, resumed and tuned while it runs, through the CLI an operator
// uses, and survives killed workers: every row is updated exactly once (v starts at 0 and the
// backfill adds 1), checked by counting rows, not with Godwit's own bookkeeping.

const ROWS = 40_000;
let db: TestDatabase;
let t: TestTemporal;
const workers: SpawnedWorker[] = [];

beforeAll(async () => {
  db = await createTestDatabase('godwit_pacing');
  t = await setupTemporal({ app: db.url });
});

afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await t?.close();
  await db?.drop();
});

beforeEach(async () => {
  await db.query(`
    drop table if exists items;
    create table items (id bigint primary key, v int not null default 0);
    insert into items (id) select g from generate_series(1, ${ROWS}) g;
    analyze items;
  `);
  // A test that failed halfway may have left its run parked, holding the target.
  for await (const w of t.client.workflow.list({ query: `TaskQueue = '${t.settings.taskQueue}' and ExecutionStatus = 'Running'` })) {
    await t.client.workflow.getHandle(w.workflowId).terminate('next test').catch(() => undefined);
  }
  await db.query('delete from godwit.leases').catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function counts(): Promise<{ done: number; twice: number }> {
  const { rows } = await db.query<{ done: number; twice: number }>(`select count(*) filter (where v = 1)::int as done, count(*) filter (where v > 1)::int as twice from items`);
  return rows[0]!;
}

/** The batches the backfill committed, from its ledger row. */
async function batches(migrationId: string): Promise<number> {
  const { rows } = await db.query<{ n: number | null }>(`select (progress->>'batches')::int as n from godwit.step_ledger where migration_id = $1 and progress is not null`, [migrationId]);
  return rows[0]?.n ?? 0;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function cli(...args: string[]): Promise<string> {
  const r = await runCli(args, t.env);
  expect(r.code, r.output).toBe(0);
  return r.output;
}

async function replaceWorker(old: SpawnedWorker): Promise<SpawnedWorker> {
  old.child.kill('SIGKILL');
  await waitForExit(old.child);
  const w = await spawnWorker(t.env);
  workers.push(w);
  return w;
}

describe('a paced backfill', () => {
  it('pauses within one batch, stays paused across a killed worker, resumes and takes a new rate, all audited', async () => {
    const id = '0001_paced';
    const loaded = await manifestFrom(`
id: ${id}
operations:
  - backfill: { table: items, set: { v: "v + 1" } }
policy: { approval: never, throttle: { rate: 3000 } }
`);
    const worker = await spawnWorker(t.env);
    workers.push(worker);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'ci' });
    await until('the first batches', async () => (await counts()).done > 1_000);

    expect(await cli('pause', id, '--target', 'app', '--by', 'ops')).toMatch(/pacing of 0001_paced on 'app' is now: PAUSED; .*rate 3000\/s/);
    const atPause = await batches(id);
    await sleep(2_000);
    const settled = await batches(id);
    expect(settled - atPause).toBeLessThanOrEqual(1);
    const held = (await counts()).done;
    await sleep(1_500);
    expect((await counts()).done).toBe(held);

    // A new worker picks the step up (after the heartbeat timeout) and finds it paused.
    await replaceWorker(worker);
    await sleep(8_000);
    expect((await counts()).done).toBe(held);
    // status shows the step's progress from its heartbeats: the rows done match the table's.
    let status = '';
    await until('status to show the held fill', async () => {
      status = (await runCli(['status', '--target', 'app'], t.env)).output;
      return /held: paused/.test(status);
    });
    const shown = /fill ([\d,]+) of ~([\d,]+) rows \((\d+)%\), held: paused; batch [\d,]+ rows/.exec(status);
    expect(shown, status).not.toBeNull();
    expect(Number(shown![1]!.replace(/,/g, ''))).toBe(held);
    expect(Number(shown![2]!.replace(/,/g, ''))).toBe(ROWS);
    expect(status).toMatch(/pacing: PAUSED; batch 50ms, rate 3000\/s/);

    expect(await cli('tune', id, '--target', 'app', '--by', 'ops', '--rate', 'none', '--batch-ms', '20')).toMatch(/PAUSED; batch 20ms, rate unlimited/);
    expect(await cli('resume', id, '--target', 'app', '--by', 'ops')).toMatch(/now: batch 20ms, rate unlimited/);
    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('applied');
    expect(await counts()).toEqual({ done: ROWS, twice: 0 });

    const audit = await db.query<{ event: string; actor: string; detail: { change: unknown } }>(
      `select event, actor, detail from godwit.audit_log where migration_id = $1 and event in ('PAUSED', 'RESUMED', 'TUNED') order by seq`,
      [id],
    );
    expect(audit.rows.map((r) => [r.event, r.actor, r.detail.change])).toEqual([
      ['PAUSED', 'ops', { paused: true }],
      ['TUNED', 'ops', { rate: null, batch_ms: 20 }],
      ['RESUMED', 'ops', { paused: false }],
    ]);
  }, 300_000);

  it('updates every row exactly once when its worker is SIGKILLed three times', async () => {
    const id = '0002_killed';
    const loaded = await manifestFrom(`
id: ${id}
operations:
  - backfill: { table: items, set: { v: "v + 1" } }
policy: { approval: never, throttle: { rate: 4000 } }
`);
    let worker = await spawnWorker(t.env);
    workers.push(worker);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'ci' });
    for (const share of [0.15, 0.35, 0.6]) {
      await until(`${share * 100}% of the rows`, async () => (await counts()).done >= ROWS * share);
      worker = await replaceWorker(worker);
    }
    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    // the reason travels with a failure, so that one on a busy machine says why
    expect(finalState(outcome), outcome.kind === 'finished' ? (outcome.result.reason ?? '') : outcome.progress.reason ?? '').toBe('applied');
    expect(await counts()).toEqual({ done: ROWS, twice: 0 });
  }, 300_000);

  it("apply --wait prints the fill's rows, rate and ETA as it goes (plain lines, not a terminal)", async () => {
    const worker = await spawnWorker(t.env);
    workers.push(worker);
    const file = join(mkdtempSync(join(tmpdir(), 'godwit-pacing-')), '0003_watched.yaml');
    writeFileSync(file, `
id: 0003_watched
operations:
  - backfill: { table: items, set: { v: "v + 1" } }
policy: { approval: never, throttle: { rate: 5000 } }
`);
    const r = await runCli(['apply', file, '--target', 'app', '--wait'], t.env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/step 1\. backfill items\.v: fill [\d,]+ of ~40,000 rows \(\d+%\)(, [\d,]+ rows\/s)?(, ETA \w+)?; batch [\d,]+ rows, \d+ ms/);
    expect(await counts()).toEqual({ done: ROWS, twice: 0 });
  }, 300_000);

  it('refuses a tune that changes nothing or gives a bad value, naming the option', async () => {
    const none = await runCli(['tune', 'whatever', '--target', 'app'], t.env);
    expect(none.code).toBe(1);
    expect(none.output).toMatch(/tune needs at least one of --rate, --batch-ms/);
    const bad = await runCli(['tune', 'whatever', '--target', 'app', '--batch-ms', 'fast'], t.env);
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/--batch-ms expects a number, got 'fast'/);
    const zero = await runCli(['tune', 'whatever', '--target', 'app', '--batch-ms', '0'], t.env);
    expect(zero.output).toMatch(/--batch-ms: expected at least 1/);
    const lanes = await runCli(['tune', 'whatever', '--target', 'app', '--lanes', '1.5'], t.env);
    expect(lanes.code).toBe(1);
    expect(lanes.output).toMatch(/--lanes: expected a whole number of lanes/);
  });
});
