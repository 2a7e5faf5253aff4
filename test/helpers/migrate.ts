import pg from 'pg';
import type { TestTemporal } from './temporal';
import { startMigration, watchMigration, type WatchOutcome } from '../../src/client';
import type { LoadedManifest } from '../../src/manifest';
import type { FaultInjection } from '../../workflows/definitions';
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
