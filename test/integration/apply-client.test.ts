import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import type { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { connectClient } from '../../src/client/connect';
import { MigrationAlreadyRunningError, MigrationFailedError, TemporalRefusedError, TemporalUnreachableError } from '../../src/client/errors';
import { sdkRun, startMigration, watchMigration, type MigrationRun, type StartOptions } from '../../src/client/migrations';
import { findFreePorts } from '../../src/devserver';
import type { MigrationProgress } from '../../src/contract/migration';

/**
 * How `godwit apply` starts and follows a migration (src/client/connect.ts and
 * migrations.ts), on a client of its own as the CLI connects it: what the worker and the
 * Web UI read from the run, the errors a pipeline sees.
 */
let db: TestDatabase;
let t: TestTemporal;
let client: Client;
const TARGET = 'app';

/** Starts a migration as apply does, and the run as apply follows it. */
async function startRun(opts: StartOptions, settings = t.settings, on = client): Promise<MigrationRun> {
  return sdkRun(await startMigration(on, settings, opts), { settings });
}

beforeAll(async () => {
  db = await createTestDatabase('godwit_apply_client');
  await db.query(`create table users (id bigint generated always as identity primary key, email text)`);
  await db.query(`insert into users (email) select 'u' || g || '@example.com' from generate_series(1, 500) g`);
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
  client = await connectClient(t.settings);
});

afterAll(async () => {
  await client?.connection.close();
  await t?.close();
  await db?.drop();
});

/** The run's progress once a step is running (polled through its state query), or the last answer. */
async function runningStep(run: MigrationRun): Promise<MigrationProgress | null> {
  let progress: MigrationProgress | null = null;
  for (let i = 0; i < 100 && progress?.currentStep == null; i++) {
    progress = await run.progress().catch(() => null);
    if (progress?.currentStep == null) await new Promise((r) => setTimeout(r, 50));
  }
  return progress;
}

describe("the apply path's Temporal client", () => {
  it('starts a migration with its search attributes and UI texts, and follows it to applied', async () => {
    const loaded = await manifestFrom(`
id: 0001_apply
description: through the apply path
operations:
  - add_column: { table: users, column: { name: note, type: text } }
checks:
  post:
    - { name: column exists, sql: "select count(*) = 1 from information_schema.columns where table_name = 'users' and column_name = 'note'" }
`);
    const handle = await startMigration(client, t.settings, { target: TARGET, loaded, requestedBy: 'apply-test' });
    expect(handle.workflowId).toBe(`godwit/${TARGET}/0001_apply`);
    const events: string[] = [];
    const outcome = await watchMigration(handle, (e) => events.push(e.kind), { pollMs: 20, settings: t.settings });
    expect(outcome.kind).toBe('finished');
    const result = outcome.kind === 'finished' ? outcome.result : null;
    expect(result?.state).toBe('applied');
    expect(result?.steps.map((s) => [s.summary, s.status])).toEqual([['add_column users.note', 'done']]);

    expect(events).toContain('step');
    const described = await handle.describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(described.typedSearchAttributes.getAll().filter((p) => p.key.name.startsWith('Godwit')).map((p) => [p.key.name, p.value]).sort()).toEqual([
      ['GodwitMigrationId', '0001_apply'],
      ['GodwitState', 'applied'],
      ['GodwitTarget', TARGET],
    ]);
    expect(await described.staticSummary()).toBe('0001_apply → app: through the apply path');
    expect(await described.staticDetails()).toMatch(/^\*\*0001_apply\*\* on `app`, requested by apply-test\n[^]*1\. add_column users\.note \(risk low\)/);
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(started?.taskQueue?.name).toBe(t.settings.taskQueue);
    expect(started?.workflowType?.name).toBe('migrationWorkflow');
  });

  it('answers the state query while a step runs', async () => {
    const loaded = await manifestFrom(`
id: 0002_apply_query
operations:
  - add_column: { table: users, column: { name: c2, type: int } }
`);
    const run = await startRun({ target: TARGET, loaded, requestedBy: 'apply-test', faults: { sleepAtStep: { step: 1, ms: 1500 } } });
    const progress = await runningStep(run);
    expect(progress?.state).toBe('in_progress');
    expect(progress?.currentStep).toBe('1. add_column users.c2');
    expect(progress?.migrationId).toBe('0002_apply_query');
    expect((await run.result()).state).toBe('applied');
  });

  it('refuses a second start of a running migration, and reports a failed run with its failure type', async () => {
    const slow = await manifestFrom(`
id: 0003_apply_slow
operations:
  - add_column: { table: users, column: { name: c3, type: int } }
`);
    const first = await startRun({ target: TARGET, loaded: slow, requestedBy: 'a', faults: { sleepAtStep: { step: 1, ms: 2500 } } });
    await expect(startRun({ target: TARGET, loaded: slow, requestedBy: 'a' })).rejects.toThrow(MigrationAlreadyRunningError);
    await runningStep(first);
    const other = await manifestFrom(`
id: 0004_apply_other
operations:
  - add_column: { table: users, column: { name: c4, type: int } }
`);
    const second = await startRun({ target: TARGET, loaded: other, requestedBy: 'b' });
    const failed = await second.result().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(MigrationFailedError);
    expect((failed as MigrationFailedError).message).toMatch(/target 'app' is busy: godwit\/app\/0003_apply_slow holds its lease/);
    expect((failed as MigrationFailedError).type).toBe('LeaseHeldError');
    expect((failed as MigrationFailedError).runId).toBe(second.runId);
    expect((await first.result()).state).toBe('applied');
  });

  it('says a terminated run was terminated, with the reason', async () => {
    const loaded = await manifestFrom(`
id: 0005_apply_terminated
operations:
  - add_column: { table: users, column: { name: c5, type: int } }
`);
    const run = await startRun({ target: TARGET, loaded, requestedBy: 'a', faults: { sleepAtStep: { step: 1, ms: 3000 } } });
    const result = run.result().catch((err: unknown) => err);
    await t.client.workflow.getHandle(run.workflowId, run.runId).terminate('stopped by the test');
    const err = await result;
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect((err as Error).message).toBe('the workflow was terminated: stopped by the test');
  });

  it('says what to do when nothing listens at the address', async () => {
    const [port] = await findFreePorts(1);
    const nowhere = { ...t.settings, address: `127.0.0.1:${port}` };
    const err = await connectClient(nowhere).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalUnreachableError);
    expect((err as Error).message).toMatch(/^cannot reach Temporal at 127\.0\.0\.1:\d+ \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)\. .*godwit dev/);
  });

  it("says how to register Godwit's search attributes when the namespace lacks them", async () => {
    const namespace = `godwit-bare-${Date.now().toString(36)}`;
    await t.client.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const loaded = await manifestFrom(`id: 0006_apply_bare\noperations:\n  - add_column: { table: users, column: { name: c6, type: int } }\n`);
    const bare = { ...t.settings, namespace };
    const elsewhere = await connectClient(bare);
    try {
      let err: unknown;
      for (let i = 0; i < 50; i++) {
        // a namespace just registered takes a moment to be known to the frontend
        err = await startRun({ target: TARGET, loaded, requestedBy: 'a' }, bare, elsewhere).then(() => null, (e: unknown) => e);
        if (!(err instanceof Error && /not found|NotFound/i.test(err.message) && !/search attribute/i.test(err.message))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(err).toBeInstanceOf(TemporalRefusedError);
      expect((err as Error).message).toMatch(new RegExp(`search attributes are missing in namespace '${namespace}': start \`godwit worker\``));
    } finally {
      await elsewhere.connection.close();
    }
  });
});
