import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { spawnWorker, waitForExit, type SpawnedWorker } from '../helpers/process';
import { finalState } from '../helpers/migrate';
import { startMigration, watchMigration } from '../../src/client';
import { rollbackUpdate, stateQuery } from '../../src/contract/messages';
import type { MigrationProgress } from '../../src/contract/migration';

let db: TestDatabase;
let t: TestTemporal;
const workers: SpawnedWorker[] = [];

beforeAll(async () => {
  db = await createTestDatabase('godwit_chaos_probes');
  await db.query('create table app_errors (id int generated always as identity primary key)');
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

async function until(handle: WorkflowHandle, ok: (p: MigrationProgress) => boolean): Promise<MigrationProgress> {
  for (;;) {
    const p = await handle.query(stateQuery).catch(() => null);
    if (p && ok(p)) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function kill(w: SpawnedWorker): Promise<void> {
  w.child.kill('SIGKILL');
  await waitForExit(w.child);
}

const taken = (p: MigrationProgress) => p.health?.probes[0]?.taken ?? 0;

describe('a worker killed during the bake window', () => {
  it('resumes the probes on a new worker, and nothing fires twice', async () => {
    const loaded = await manifestFrom(`
id: 0001_bake_kill
operations:
  - sql: { up: "create table released (id int)", down: "drop table released" }
policy:
  approval: never
  bake_seconds: 600
  on_unhealthy: ask
  probes:
    - { name: app errors, kind: sql, sql: "select count(*) from app_errors", fail_when: "> 0", interval: 1s, consecutive: 2 }
`);
    workers.push(await spawnWorker(t.env));
    const handle = await startMigration(t.client, t.settings, { target: 'app', loaded, requestedBy: 'chaos' });

    // Killed while the probes sample a healthy release.
    const before = taken(await until(handle, (p) => taken(p) >= 3));
    await kill(workers.at(-1)!);
    workers.push(await spawnWorker(t.env));
    await until(handle, (p) => taken(p) >= before + 3);

    // Then unhealthy: the probe fires and the run asks; killed again while it waits.
    await db.query('insert into app_errors default values');
    await until(handle, (p) => p.state === 'unhealthy');
    await kill(workers.at(-1)!);
    workers.push(await spawnWorker(t.env));
    const waiting = await until(handle, (p) => p.state === 'unhealthy');
    expect(waiting.health!.probes[0]!.firings).toBe(1);

    await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'oncall', reason: 'confirmed after the restarts' }] });
    const outcome = await watchMigration(handle, () => undefined, { pollMs: 250 });
    expect(finalState(outcome)).toBe('rolled_back');
    const result = outcome.kind === 'finished' ? outcome.result : null;

    // One firing, one question, one rollback: in the audit log and in the run's own story.
    const events = await db.query<{ event: string; n: number }>(
      `select event, count(*)::int as n from godwit.audit_log where migration_id = '0001_bake_kill' and event in ('PROBE_FIRED', 'UNHEALTHY', 'FAIL', 'ROLLBACK_VERIFIED') group by event order by event`,
    );
    expect(events.rows).toEqual([
      { event: 'FAIL', n: 1 },
      { event: 'PROBE_FIRED', n: 1 },
      { event: 'ROLLBACK_VERIFIED', n: 1 },
      { event: 'UNHEALTHY', n: 1 },
    ]);
    expect(result!.transitions.map((x) => `${x.from}>${x.to}`)).toEqual(['planned>in_progress', 'in_progress>validated', 'validated>unhealthy', 'unhealthy>rolling_back', 'rolling_back>rolled_back']);
    // The schedule went on where it was: sample numbers only grow, none taken twice.
    const numbers = result!.health!.probes[0]!.samples.map((s) => s.n);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(result!.health!.probes[0]!.taken).toBeGreaterThanOrEqual(before + 3);
    const table = await db.query(`select to_regclass('public.released') as t`);
    expect(table.rows[0]!.t).toBeNull();
  }, 240_000);
});
