import { connectClient, manageSnapshots } from '../../client';
import { temporalSettings } from '../../config/temporal';
import { bold, dim } from '../output';

/** `godwit snapshots list|prune`: snapshots of destroyed data kept in godwit_snapshots. */
export async function snapshotsCommand(
  action: 'list' | 'prune',
  opts: { target: string; json?: boolean; address?: string; namespace?: string; taskQueue?: string },
  out: (line: string) => void = console.log,
): Promise<void> {
  const settings = temporalSettings(opts);
  const client = await connectClient(settings);
  try {
    const report = await manageSnapshots(client, settings, { target: opts.target, action });
    if (opts.json) {
      out(JSON.stringify(report, null, 2));
      return;
    }
    if (action === 'prune') out(`dropped ${report.dropped.length} expired snapshot(s)${report.dropped.length ? `: ${report.dropped.join(', ')}` : ''}`);
    out(bold(`target ${opts.target}: ${report.snapshots.length} snapshot(s)`));
    for (const s of report.snapshots) {
      out(`  godwit_snapshots.${s.snapshotTable}  ${s.kind} of ${s.source}, ${s.rowCount} rows  ${dim(`${s.migrationId} step ${s.stepId}, kept until ${s.retainUntil}${s.restoredAt ? ', restored' : ''}`)}`);
    }
  } finally {
    await client.connection.close();
  }
}
