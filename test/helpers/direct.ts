import pg from 'pg';
import { manifestFrom } from './temporal';
import { acquireLease } from '../../src/db/lease';
import { ensureControlSchema } from '../../src/db/control-schema';
import { introspectSchema } from '../../src/db/introspect';
import { loadSqlParser, planManifest } from '../../src/operations';
import type { PlannedStep } from '../../src/operations/types';
import type { StepInput } from '../../src/contract/migration';

/**
 * For tests that call the activities directly, as Temporal would on a retry: a short-lived
 * connection, a plan against the live catalog, and a step's input with a fresh lease on
 * target `app`. `url` is read when called (test databases are made in beforeAll).
 */
export function directCalls(url: () => string) {
  let runSeq = 0;

  async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: url() });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  async function plan(yaml: string): Promise<PlannedStep[]> {
    const loaded = await manifestFrom(yaml);
    await loadSqlParser();
    return withClient(async (c) => planManifest(loaded.manifest, await introspectSchema(c)));
  }

  async function stepInput(step: PlannedStep, policy: Partial<StepInput['policy']> = {}): Promise<StepInput> {
    const runId = `run-${++runSeq}`;
    const token = await withClient(async (c) => {
      await ensureControlSchema(c);
      await c.query('delete from godwit.leases');
      return (await acquireLease(c, 'app', `wf-${runId}`)).token;
    });
    return {
      target: 'app',
      migrationId: 'm1',
      workflowId: `wf-${runId}`,
      runId,
      token,
      step,
      policy: { approval: 'auto', bake_seconds: 0, lock_timeout: '5s', statement_timeout: '0', ...policy },
      audit: [],
    };
  }

  return { withClient, plan, stepInput };
}
