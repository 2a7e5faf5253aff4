import type { SnapshotsReport } from '../contract/migration';
import { withTemporal, type TemporalOptions } from './session';

export interface SnapshotsOptions extends TemporalOptions {
  target: string;
}

/**
 * The snapshots of destroyed data kept for rollback, and the retired columns and tables not yet
 * purged; `prune` first drops the expired ones (never one a migration that can still roll back needs).
 */
export async function snapshots(action: 'list' | 'prune', opts: SnapshotsOptions): Promise<SnapshotsReport> {
  return withTemporal(opts, async (client, settings) => {
    const { manageSnapshots } = await import('../client/inspect');
    return manageSnapshots(client, settings, { target: opts.target, action });
  });
}
