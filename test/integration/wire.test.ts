import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { MigrationAlreadyRunningError, MigrationFailedError, TemporalRefusedError, TemporalUnreachableError } from '../../src/client/errors';
import { watchRun, type MigrationRun } from '../../src/client/watch';
import { connectWire, startMigrationRun, type TemporalWire } from '../../src/client/wire/run';
import { temporalApiSubset } from '../../scripts/temporal-api-subset';
import committedApi from '../../src/client/wire/temporal-api.json';
import { msToTs } from '@temporalio/common/lib/time.js';
import { findFreePorts } from '../../src/devserver';
import type { MigrationProgress } from '../../workflows/definitions';

/**
 * The CLI's own Temporal client (src/client/wire): the same server and worker as every other
 * test, and the SDK's client beside it to check that both read and write the same things.
 */
let db: TestDatabase;
let t: TestTemporal;
let wire: TemporalWire;
const TARGET = 'app';

beforeAll(async () => {
  db = await createTestDatabase('godwit_wire');
  await db.query(`create table users (id bigint generated always as identity primary key, email text)`);
  await db.query(`insert into users (email) select 'u' || g || '@example.com' from generate_series(1, 500) g`);
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
  wire = await connectWire(t.settings);
});

afterAll(async () => {
  await wire?.close();
  await t?.close();
  await db?.drop();
});

/** The run's progress once a step is running (polled by the wire client's own query), or the last answer. */
async function runningStep(run: MigrationRun): Promise<MigrationProgress | null> {
  let progress: MigrationProgress | null = null;
  for (let i = 0; i < 100 && progress?.currentStep == null; i++) {
    progress = await run.progress().catch(() => null);
    if (progress?.currentStep == null) await new Promise((r) => setTimeout(r, 50));
  }
  return progress;
}

describe("the apply path's Temporal client (src/client/wire)", () => {
  it('starts a migration the SDK and the worker read as their own, and follows it to applied', async () => {
    const loaded = await manifestFrom(`
id: 0001_wire
description: through the wire client
operations:
  - add_column: { table: users, column: { name: note, type: text } }
checks:
  post:
    - { name: column exists, sql: "select count(*) = 1 from information_schema.columns where table_name = 'users' and column_name = 'note'" }
`);
    const run = await startMigrationRun(wire, t.settings, { target: TARGET, loaded, requestedBy: 'wire-test' });
    expect(run.workflowId).toBe(`godwit/${TARGET}/0001_wire`);
    const events: string[] = [];
    const outcome = await watchRun(run, (e) => events.push(e.kind), { pollMs: 20 });
    expect(outcome.kind).toBe('finished');
    const result = outcome.kind === 'finished' ? outcome.result : null;
    expect(result?.state).toBe('applied');
    expect(result?.steps.map((s) => [s.summary, s.status])).toEqual([['add_column users.note', 'done']]);

    // The SDK decodes the same run: its input, result, search attributes and UI texts.
    const handle = t.client.workflow.getHandle(run.workflowId, run.runId);
    expect(await handle.result()).toEqual(result);
    const described = await handle.describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(described.typedSearchAttributes.getAll().filter((p) => p.key.name.startsWith('Godwit')).map((p) => [p.key.name, p.value]).sort()).toEqual([
      ['GodwitMigrationId', '0001_wire'],
      ['GodwitState', 'applied'],
      ['GodwitTarget', TARGET],
    ]);
    expect(await described.staticSummary()).toBe('0001_wire → app: through the wire client');
    expect(await described.staticDetails()).toMatch(/^\*\*0001_wire\*\* on `app`, requested by wire-test\n[^]*1\. add_column users\.note \(risk low\)/);
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(started?.taskQueue?.name).toBe(t.settings.taskQueue);
    expect(started?.workflowType?.name).toBe('migrationWorkflow');
  });

  it('answers the state query with the same progress the SDK reads', async () => {
    const loaded = await manifestFrom(`
id: 0002_wire_query
operations:
  - add_column: { table: users, column: { name: c2, type: int } }
`);
    const run = await startMigrationRun(wire, t.settings, { target: TARGET, loaded, requestedBy: 'wire-test', faults: { sleepAtStep: { step: 1, ms: 1500 } } });
    const progress = await runningStep(run);
    expect(progress?.state).toBe('in_progress');
    expect(progress?.currentStep).toBe('1. add_column users.c2');
    const viaSdk = await t.client.workflow.getHandle(run.workflowId, run.runId).query<MigrationProgress>('stateQuery');
    expect(viaSdk.migrationId).toBe(progress?.migrationId);
    expect(viaSdk.steps.length).toBe(progress?.steps.length);
    expect((await run.result()).state).toBe('applied');
  });

  it('refuses a second start of a running migration, and reports a failed run with its failure type', async () => {
    const slow = await manifestFrom(`
id: 0003_wire_slow
operations:
  - add_column: { table: users, column: { name: c3, type: int } }
`);
    const first = await startMigrationRun(wire, t.settings, { target: TARGET, loaded: slow, requestedBy: 'a', faults: { sleepAtStep: { step: 1, ms: 2500 } } });
    await expect(startMigrationRun(wire, t.settings, { target: TARGET, loaded: slow, requestedBy: 'a' })).rejects.toThrow(MigrationAlreadyRunningError);
    await runningStep(first);
    const other = await manifestFrom(`
id: 0004_wire_other
operations:
  - add_column: { table: users, column: { name: c4, type: int } }
`);
    const second = await startMigrationRun(wire, t.settings, { target: TARGET, loaded: other, requestedBy: 'b' });
    const failed = await second.result().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(MigrationFailedError);
    expect((failed as MigrationFailedError).message).toMatch(/target 'app' is busy: godwit\/app\/0003_wire_slow holds its lease/);
    expect((failed as MigrationFailedError).type).toBe('LeaseHeldError');
    expect((failed as MigrationFailedError).runId).toBe(second.runId);
    expect((await first.result()).state).toBe('applied');
  });

  it('says a terminated run was terminated, with the reason', async () => {
    const loaded = await manifestFrom(`
id: 0005_wire_terminated
operations:
  - add_column: { table: users, column: { name: c5, type: int } }
`);
    const run = await startMigrationRun(wire, t.settings, { target: TARGET, loaded, requestedBy: 'a', faults: { sleepAtStep: { step: 1, ms: 3000 } } });
    const result = run.result().catch((err: unknown) => err);
    await t.client.workflow.getHandle(run.workflowId, run.runId).terminate('stopped by the test');
    const err = await result;
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect((err as Error).message).toBe('the workflow was terminated: stopped by the test');
  });

  it('says what to do when nothing listens at the address', async () => {
    const [port] = await findFreePorts(1);
    await expect(connectWire({ address: `127.0.0.1:${port}`, namespace: 'default' })).rejects.toThrow(TemporalUnreachableError);
    await expect(connectWire({ address: `127.0.0.1:${port}`, namespace: 'default' })).rejects.toThrow(/cannot reach Temporal at 127\.0\.0\.1:\d+ .*godwit dev/);
  });

  it("says how to register Godwit's search attributes when the namespace lacks them", async () => {
    const namespace = `godwit-bare-${Date.now().toString(36)}`;
    await t.client.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const loaded = await manifestFrom(`id: 0006_wire_bare\noperations:\n  - add_column: { table: users, column: { name: c6, type: int } }\n`);
    const bare = { ...t.settings, namespace };
    const elsewhere = await connectWire(bare);
    try {
      let err: unknown;
      for (let i = 0; i < 50; i++) {
        // a namespace just registered takes a moment to be known to the frontend
        err = await startMigrationRun(elsewhere, bare, { target: TARGET, loaded, requestedBy: 'a' }).then(() => null, (e: unknown) => e);
        if (!(err instanceof Error && /not found|NotFound/i.test(err.message) && !/search attribute/i.test(err.message))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(err).toBeInstanceOf(TemporalRefusedError);
      expect((err as Error).message).toMatch(new RegExp(`search attributes are missing in namespace '${namespace}': start \`godwit worker\``));
    } finally {
      await elsewhere.close();
    }
  });

  it('ships the slice of the Temporal API that scripts/gen-temporal-api.ts makes from the installed SDK', () => {
    expect(committedApi).toEqual(JSON.parse(JSON.stringify(temporalApiSubset())));
  });
});
