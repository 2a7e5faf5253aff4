import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { applyAndWatch, finalState, waitForState } from '../helpers/migrate';
import { MigrationFailedError, migrationInput, resultOf, startMigration, watchMigration } from '../../src/client';
import { approveUpdate, stateQuery } from '../../src/contract/messages';
import { migrationWorkflowId, WORKFLOW_TYPE } from '../../src/contract/migration';

// Policy binds: approval: auto asks a person for a risky plan, an approval that does not come
// ends the run rejected, lint errors stop an apply before its first step, and the workflow's
// input is checked as the CLI checks a file.

let db: TestDatabase;
let t: TestTemporal;
const TARGET = 'app';

beforeAll(async () => {
  db = await createTestDatabase('godwit_policy');
  t = await setupTemporal({ [TARGET]: db.url });
  await t.startWorker();
});

afterAll(async () => {
  await t?.close();
  await db?.drop();
});

beforeEach(async () => {
  await db.query(`
    drop table if exists users, sessions, empty_table cascade;
    create table users (id bigint primary key, name text);
    insert into users select g, 'user ' || g from generate_series(1, 100) g;
    create table sessions (id bigint primary key, token text);
    create table empty_table (id bigint primary key);
  `);
  // A test that failed halfway may have left its run parked, holding the target.
  await db.query('delete from godwit.leases').catch(() => undefined);
});


/** Nothing of the migration reached the target: no record, no lease. */
async function expectNothingApplied(migrationId: string): Promise<void> {
  expect((await db.query('select 1 from godwit.migrations where migration_id = $1', [migrationId])).rowCount).toBe(0);
  expect((await db.query('select 1 from godwit.leases')).rowCount).toBe(0);
}

describe('approval: auto', () => {
  it('asks a person for a plan with a high-risk step, says why, and goes on once another person approves', async () => {
    const loaded = await manifestFrom(`
id: 0001_drop_sessions
operations:
  - drop_table: { table: sessions }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'alice' });
    await waitForState(handle, 'awaiting_approval');
    const progress = await handle.query(stateQuery);
    expect(progress.approvalReason).toMatch(/^approval: auto asks a person when a step reaches high risk: step 1 \(drop_table sessions\) is high risk/);
    // The state query answers as soon as the workflow is in the state; the audit row comes with
    // the finishMigration activity right after.
    let audit: { detail: { approval: string } } | undefined;
    for (let i = 0; i < 300 && audit === undefined; i++) {
      audit = (await db.query<{ detail: { approval: string } }>(`select detail from godwit.audit_log where migration_id = '0001_drop_sessions' and to_state = 'awaiting_approval'`)).rows[0];
      if (audit === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(audit?.detail.approval).toBe(progress.approvalReason);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
    expect(finalState(await watchMigration(handle, () => undefined, { pollMs: 200 }))).toBe('applied');
  });

  it('lets a low-risk plan through, and approval_risk: low asks for it too', async () => {
    const low = await manifestFrom(`
id: 0002_add_nickname
operations:
  - add_column: { table: users, column: { name: nickname, type: text } }
`);
    expect(finalState(await applyAndWatch(t, TARGET, low))).toBe('applied');
    const strict = await manifestFrom(`
id: 0003_add_title
operations:
  - add_column: { table: users, column: { name: title, type: text } }
policy: { approval_risk: low }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded: strict, requestedBy: 'alice' });
    await waitForState(handle, 'awaiting_approval');
    await handle.terminate('done with the test');
    await db.query('delete from godwit.leases');
  });
});

describe('approval_timeout', () => {
  it('ends a run whose approval does not come in time rejected, and frees the target', async () => {
    const loaded = await manifestFrom(`
id: 0004_waits
operations:
  - add_column: { table: users, column: { name: waited, type: text } }
policy: { approval: required, approval_timeout: 2s }
`);
    const handle = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'alice' });
    const result = await resultOf(handle);
    expect(result).toMatchObject({ outcome: 'rejected', state: 'rejected', reason: 'approval timed out' });
    expect(result.transitions.map((x) => x.event)).toEqual(['START', 'APPROVAL_TIMEOUT']);
    expect((await db.query('select 1 from godwit.leases')).rowCount).toBe(0);
    const column = await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'waited'`);
    expect(column.rowCount).toBe(0);
  });
});

describe('lint errors', () => {
  it('stop an apply before its first step, naming each, unless the manifest accepts them by name', async () => {
    const manifest = (id: string, allow: string) => `
id: ${id}
operations:
  - add_column: { table: sessions, column: { name: note, type: text } }
  - add_column: { table: empty_table, column: { name: required_value, type: text, nullable: false } }
${allow}`;
    const refused = applyAndWatch(t, TARGET, await manifestFrom(manifest('0005_lint', '')));
    await expect(refused).rejects.toThrow(MigrationFailedError);
    await expect(refused).rejects.toThrow(
      /0005_lint was not started: step 2 \(add_column empty_table\.required_value\): not_null_without_default: .*accept it by name with policy\.allow_lint: \[not_null_without_default\]/,
    );
    await expectNothingApplied('0005_lint');
    const note = await db.query(`select 1 from information_schema.columns where table_name = 'sessions' and column_name = 'note'`);
    expect(note.rowCount).toBe(0);

    const accepted = await manifestFrom(manifest('0006_lint_allowed', 'policy: { allow_lint: [not_null_without_default] }'));
    expect(finalState(await applyAndWatch(t, TARGET, accepted))).toBe('applied');
  });
});

describe('the workflow input', () => {
  it('is checked as the CLI checks a file: a malformed or altered manifest is refused before anything is applied', async () => {
    const loaded = await manifestFrom(`
id: 0007_hostile
operations:
  - add_column: { table: users, column: { name: hostile, type: text } }
`);
    const start = (id: string, input: ReturnType<typeof migrationInput>) =>
      t.client.workflow.execute(WORKFLOW_TYPE, { workflowId: `${migrationWorkflowId(TARGET, id)}-${Date.now()}`, taskQueue: t.settings.taskQueue, args: [input] });

    // An operation the schema does not know, smuggled past the CLI.
    const malformed = migrationInput({ target: TARGET, loaded, requestedBy: 'mallory' });
    malformed.manifest = { ...loaded.manifest, operations: [{ drop_everything: { table: 'users' } }] } as unknown as typeof loaded.manifest;
    await expect(start('0007_hostile', malformed)).rejects.toThrow();
    const failure = await start('0007_hostile', malformed).catch((e: { cause?: { message?: string } }) => e.cause?.message ?? '');
    expect(failure).toMatch(/the manifest of 0007_hostile in the workflow's input: operations\[0\]: unknown operation 'drop_everything'/);

    // A valid manifest whose checksum is not its own.
    const altered = migrationInput({ target: TARGET, loaded, requestedBy: 'mallory' });
    altered.checksum = 'sha256:' + '0'.repeat(64);
    const mismatch = await start('0007_hostile', altered).catch((e: { cause?: { message?: string } }) => e.cause?.message ?? '');
    expect(mismatch).toMatch(/it does not match the migration it came with/);
    await expectNothingApplied('0007_hostile');
  });
});
