import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { waitForState } from '../helpers/migrate';
import { schemaDump } from '../helpers/witness';
import { migrationStatus, resultOf, startMigration, watchMigration } from '../../src/client';
import { savedQueries } from '../../src/client/links';
import { rejectUpdate, resolveUpdate } from '../../src/contract/messages';
import { OUTCOME_FAILURE_TYPE } from '../../src/contract/migration';

// Each outcome as Temporal records it (what the Web UI's list shows), and read back exactly
// by Godwit's one reader of a run's end (src/client/outcome.ts).
let db: TestDatabase;
let t: TestTemporal;
const TARGET = 'outcomes';

beforeAll(async () => {
  db = await createTestDatabase('godwit_outcomes');
  await db.query('create table users (id int primary key, email text)');
  await db.query(`insert into users select g, 'u' || g || '@x' from generate_series(1, 200) g`);
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

/** The failure the run closed with, as the SDK reports it (the UI shows its type and message). */
async function closingFailure(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** Visibility is written after the fact: waits until the list query finds the run. */
async function listed(query: string, workflowId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    for await (const wf of t.client.workflow.list({ query })) if (wf.workflowId === workflowId) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${workflowId} never listed by ${query}`);
}

describe('how each outcome closes its run', () => {
  it('applied: the run completes with its result', async () => {
    const loaded = await manifestFrom('id: o1_applied\noperations:\n  - add_column: { table: users, column: { name: note, type: text } }\n');
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'a' });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'applied', state: 'applied' });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await resultOf(handle)).toEqual(result);
  });

  it('rolled_back: the run fails with MigrationRolledBack carrying the result and its proof, and the schema is as before', async () => {
    const before = await schemaDump(db.url);
    const loaded = await manifestFrom(`
id: o2_rolled_back
operations:
  - add_column: { table: users, column: { name: c2, type: int } }
  - sql: { up: "select 1/0", down: "select 1" }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'a' });
    const failure = await closingFailure(handle);
    expect(failure.type).toBe(OUTCOME_FAILURE_TYPE.rolled_back);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^rolled_back: .*division by zero/);
    expect((await handle.describe()).status.name).toBe('FAILED');

    const result = await resultOf(handle);
    expect(result).toMatchObject({ outcome: 'rolled_back', state: 'rolled_back', alreadyApplied: false });
    expect(result.rollback?.equal).toBe(true);
    expect(result.rollback?.fingerprintAfter).toBe(result.rollback?.fingerprintBefore);
    expect(result.steps.map((s) => s.status)).toEqual(['compensated', 'failed']);
    expect(failure.details?.[0]).toEqual(result);
    // an independent witness agrees with the proof
    expect(await schemaDump(db.url)).toEqual(before);

    // apply --wait's reader: the same result, through the watcher
    const watched = await watchMigration(handle, () => undefined);
    expect(watched).toEqual({ kind: 'finished', result });

    // the saved query `godwit status` prints finds it, and status tells the outcome
    await listed(savedQueries(t.settings, TARGET).rolledBack.query, handle.workflowId);
    await listed(savedQueries(t.settings, TARGET).notApplied.query, handle.workflowId);
    const row = (await migrationStatus(t.client, t.settings, TARGET)).find((r) => r.migrationId === 'o2_rolled_back');
    expect(row).toMatchObject({ state: 'rolled_back', status: 'FAILED' });
  });

  it('rejected: the run fails with MigrationRejected', async () => {
    const loaded = await manifestFrom('id: o3_rejected\noperations:\n  - add_column: { table: users, column: { name: c3, type: int } }\npolicy: { approval: required }\n');
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'alice' });
    await waitForState(handle, 'awaiting_approval');
    await listed(`${savedQueries(t.settings, TARGET).waiting.query} AND GodwitTarget="${TARGET}"`, handle.workflowId);
    await handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'not today' }] });
    const failure = await closingFailure(handle);
    expect(failure.type).toBe(OUTCOME_FAILURE_TYPE.rejected);
    expect(await resultOf(handle)).toMatchObject({ outcome: 'rejected', state: 'rejected' });
  });

  it('rollback_failed stays open (Running, GodwitState rollback_failed, in the waiting list); resolved, it fails with MigrationResolvedManually', async () => {
    const loaded = await manifestFrom(`
id: o4_resolved
operations:
  - add_column: { table: users, column: { name: c4, type: int } }
  - add_column: { table: users, column: { name: c5, type: int } }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'a', faults: { failAtStep: 2, failCompensationOfStep: 1 } });
    const outcome = await watchMigration(handle, () => undefined);
    expect(outcome.kind).toBe('waiting');
    const described = await handle.describe();
    expect(described.status.name).toBe('RUNNING');
    await listed(`${savedQueries(t.settings, TARGET).waiting.query} AND GodwitTarget="${TARGET}"`, handle.workflowId);

    await db.query('alter table users drop column c4');
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', note: 'dropped c4 by hand' }] });
    const failure = await closingFailure(handle);
    expect(failure.type).toBe(OUTCOME_FAILURE_TYPE.resolved_manually);
    expect(await resultOf(handle)).toMatchObject({ outcome: 'resolved_manually', state: 'resolved_manually' });
  });
});
