import pg from 'pg';
import type { TestTemporal } from './temporal';
import { startMigration, watchMigration, type WatchOutcome } from '../../src/client';
import type { LoadedManifest } from '../../src/manifest';
import type { FaultInjection } from '../../src/contract/migration';
import type { WorkflowHandle } from '@temporalio/client';
import { stateQuery } from '../../src/contract/messages';
import { schemaFingerprint, type SchemaFingerprint } from '../../src/db/fingerprint';

/** Starts a migration through Temporal and follows it to its end (or to a human wait). */
export async function applyAndWatch(t: TestTemporal, target: string, loaded: LoadedManifest, faults?: FaultInjection): Promise<WatchOutcome> {
  const handle = await startMigration(t.client, t.settings, { target, loaded, requestedBy: 'test', ...(faults ? { faults } : {}) });
  return watchMigration(handle, () => undefined, { pollMs: 200 });
}

export async function fingerprintOf(url: string): Promise<SchemaFingerprint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await schemaFingerprint(client);
  } finally {
    await client.end();
  }
}

export function finalState(outcome: WatchOutcome): string {
  return outcome.kind === 'finished' ? outcome.result.state : outcome.progress.state;
}

/** Polls the run's state query until it says `state` (up to 30 s): apply --wait keeps waiting through an approval, this does not. */
export async function waitForState(handle: WorkflowHandle, state: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const p = await handle.query(stateQuery).catch(() => null);
    if (p?.state === state) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never reached ${state}`);
}
