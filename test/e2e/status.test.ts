import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { startMigration } from '../../src/client';
import { targetQuery } from '../../src/client/audit-heads';
import { manifestFrom, setupTemporal, type TestTemporal } from '../helpers/temporal';
import { godwit } from './run-godwit';

/**
 * `godwit status` next to runs it cannot ask: a run whose task queue no worker polls (its
 * worker stopped, or was never started) does not answer its state query. status must still
 * list it, in the state visibility recorded, and exit 0. It used to give up on the query
 * and close the connection while the SDK still retried it, which threw from the retry's
 * timer and ended `status` with exit 1 half a minute later.
 */
let t: TestTemporal;
let open: WorkflowHandle | undefined;
// A target of its own: other test files' runs on the shared server stay out of the listing.
const TARGET = `unanswered-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  t = await setupTemporal({});
  const loaded = await manifestFrom('id: 0001_unanswered\noperations:\n  - add_column: { table: users, column: { name: note, type: text } }\n');
  open = await startMigration(t.client, t.settings, { target: TARGET, loaded, requestedBy: 'test' });
  // Visibility records a start after the fact: wait until the run is listed.
  for (let listed = false; !listed; await new Promise((r) => setTimeout(r, 100))) {
    for await (const wf of t.client.workflow.list({ query: targetQuery(TARGET) })) listed ||= wf.workflowId === open.workflowId;
  }
});

afterAll(async () => {
  await open?.terminate('test over').catch(() => undefined);
  await t?.close();
});

describe('godwit status', () => {
  it('lists a run no worker answers for in its recorded state, and exits 0', async () => {
    const run = await godwit(['status', '--target', TARGET], t.env);
    expect({ code: run.code, output: run.output }).toMatchObject({ code: 0 });
    expect(run.stdout).toMatch(/0001_unanswered\s+planned/);
  });
});
