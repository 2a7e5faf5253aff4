import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';

// Histories recorded from real runs (scripts/record-histories.ts), replayed against
// today's workflow code: a non-deterministic change to workflows/ or the lifecycle
// machine fails here before it can break a migration that is already running.
const DIR = fileURLToPath(new URL('./histories', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
/** How many histories test/replay/histories holds: a history that goes missing fails here too. */
const RECORDED = 27;
const replayed: string[] = [];

describe('replay of recorded histories', () => {
  it(`has the ${RECORDED} recorded histories to replay`, () => {
    expect(files).toHaveLength(RECORDED);
  });

  it.each(files)('replays %s without non-determinism', async (file) => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // already installed in this test worker
    }
    const history = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as unknown;
    const results = Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, [{ workflowId: file, history }]);
    const ids: string[] = [];
    for await (const result of results) {
      expect(result.error).toBeUndefined();
      ids.push(result.workflowId);
    }
    // A replay that yields no result would pass the loop above without checking anything.
    expect(ids).toEqual([file]);
    replayed.push(file);
  });

  it(`replayed all ${RECORDED}`, () => {
    expect(replayed).toEqual(files);
  });
});
