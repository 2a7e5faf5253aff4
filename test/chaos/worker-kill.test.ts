import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { finalState } from '../helpers/migrate';
import { startMigration, watchMigration } from '../../src/client';
import { stateQuery } from '../../src/contract/messages';

let db: TestDatabase;
let t: TestTemporal;
const workers: SpawnedWorker[] = [];

beforeAll(async () => {
  db = await createTestDatabase('godwit_chaos');
  await db.query('create table effects (step int not null, at timestamptz not null default clock_timestamp())');
  t = await setupTemporal({ app: db.url });
});

afterAll(async () => {
  for (const w of workers) {
    w.child.kill('SIGKILL');
    await waitForExit(w.child);
  }
  await t?.close();
  await db?.drop();
});

describe('durability', () => {
  it('finishes a migration on a new worker after the first is SIGKILLed mid-step, each effect exactly once', async () => {
    const loaded = await manifestFrom(`
id: 0001_durable
operations:
  - sql: { up: "insert into effects (step) values (1)", down: "delete from effects where step = 1" }
  - sql: { up: "insert into effects (step) values (2); select pg_sleep(4)", down: "delete from effects where step = 2" }
  - sql: { up: "insert into effects (step) values (3)", down: "delete from effects where step = 3" }
`);
    const first = await spawnWorker(t.env);
    workers.push(first);
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });

    // Wait until step 2 (which sleeps 4 s inside its transaction) is running, then kill the worker.
    let running = false;
    for (let i = 0; i < 200 && !running; i++) {
      const p = await handle.query(stateQuery).catch(() => null);
      running = p?.currentStep?.startsWith('2.') ?? false;
      if (!running) await new Promise((r) => setTimeout(r, 50));
    }
    expect(running).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    first.child.kill('SIGKILL');
    await waitForExit(first.child);

    // Postgres notices the dead client and aborts its transaction: step 2 left nothing behind.
    await new Promise((r) => setTimeout(r, 1500));
    const mid = await db.query<{ step: number }>('select step from effects order by step');
    expect(mid.rows.map((r) => r.step)).toEqual([1]);

    workers.push(await spawnWorker(t.env));
    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('applied');

    const rows = await db.query<{ step: number; n: number }>('select step, count(*)::int as n from effects group by step order by step');
    expect(rows.rows).toEqual([
      { step: 1, n: 1 },
      { step: 2, n: 1 },
      { step: 3, n: 1 },
    ]);
    const ledger = await db.query<{ n: number }>(`select count(*)::int as n from godwit.step_ledger where migration_id = '0001_durable' and forward_done_at is not null`);
    expect(ledger.rows[0]!.n).toBe(3);
  }, 120_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('shuts down gracefully on %s, exiting 0', async (signal) => {
    const w = await spawnWorker(t.env);
    workers.push(w);
    w.child.kill(signal);
    expect(await waitForExit(w.child)).toBe(0);
    expect(w.output()).toMatch(/godwit worker: stopped/);
  });
});
