import { snapshots, type SnapshotsOptions } from '../../library/snapshots';
import type { RetiredRecord } from '../../db/purge';
import { RETIRED_SCHEMA } from '../../db/schemas';
import { bold, dim, yellow } from '../output';

/** `column public.users.bio, now _godwit_retired_…` / `table public.orders, now godwit_retired._godwit_retired_…` */
function describeRetired(r: RetiredRecord): string {
  return `${r.kind} ${r.source}, now ${r.kind === 'table' ? `${RETIRED_SCHEMA}.` : ''}${r.retiredName}`;
}

/** Why a retired object is still there: its retention has not ended, its migration is not applied yet, or never will be. */
function waitingFor(r: RetiredRecord): string {
  if (r.runState === 'applied') return `kept until ${r.retainUntil}`;
  if (r.runState === null || r.runState === 'resolved_manually' || r.runState === 'rolled_back') {
    return `never purged by prune: its run ${r.runState === null ? 'was replaced by another' : `ended ${r.runState}`}; drop it by hand once nothing needs it`;
  }
  return `purged once its migration is applied (now ${r.runState}) and kept until ${r.retainUntil}`;
}

/** `godwit snapshots list|prune`: snapshots of destroyed data kept in godwit_snapshots, and retired columns and tables. */
export async function snapshotsCommand(action: 'list' | 'prune', opts: SnapshotsOptions & { json?: boolean }, out: (line: string) => void = console.log): Promise<void> {
  const report = await snapshots(action, opts);
  if (opts.json) {
    out(JSON.stringify(report, null, 2));
    return;
  }
  if (action === 'prune') {
    out(`dropped ${report.dropped.length} expired snapshot(s)${report.dropped.length ? `: ${report.dropped.join(', ')}` : ''}`);
    out(`purged ${report.purged.length} retired column(s) and table(s)${report.purged.length ? `: ${report.purged.map((r) => `${r.kind} ${r.source}`).join(', ')}` : ''}`);
    for (const d of report.deferred) out(yellow(`  not purged: ${describeRetired(d.record)}: ${d.reason}`));
  }
  out(bold(`target ${opts.target}: ${report.snapshots.length} snapshot(s)`));
  for (const s of report.snapshots) {
    out(`  godwit_snapshots.${s.snapshotTable}  ${s.kind} of ${s.source}, ${s.rowCount} rows  ${dim(`${s.migrationId} step ${s.stepId}, kept until ${s.retainUntil}${s.restoredAt ? ', restored' : ''}`)}`);
  }
  out(bold(`${report.retired.length} retired column(s) and table(s)`));
  for (const r of report.retired) out(`  ${describeRetired(r)}  ${dim(`${r.migrationId} step ${r.stepId}, ${waitingFor(r)}`)}`);
}
