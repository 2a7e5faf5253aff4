import type pg from 'pg';
import { diffFingerprints, schemaFingerprint } from '../src/db/fingerprint';
import { listSnapshots, pruneSnapshots } from '../src/db/snapshots';
import { listRetired } from '../src/db/purge';
import { readAuditLog } from '../src/db/audit-log';
import { AuditChainWalker } from '../src/db/audit-chain';
import type { AuditVerifyInput, AuditVerifyReport, DriftInput, DriftReport, SnapshotsInput, SnapshotsReport, UnlockInput, UnlockReport } from '../src/contract/migration';
import { appendAudit } from '../src/db/audit';
import { readLease } from '../src/db/lease';
import { type ActivityDeps, heartbeatDetails, inTransaction, temporalHolderCheck, withTarget } from './context';

/** A revert that finished after `since` (or any, when null), as the baseline of drift: `since` names it `revert of <id>`. */
async function latestRevertSince(client: pg.ClientBase, since: Date | null): Promise<AppliedRow | undefined> {
  const exists = await client.query<{ present: boolean }>(`select to_regclass('godwit.reverts') is not null as present`);
  if (!exists.rows[0]?.present) return undefined;
  const { rows } = await client.query<AppliedRow>(
    `select 'revert of ' || migration_id as migration_id, '' as checksum, finished_at, fingerprint_after, fingerprint_after_entries
       from godwit.reverts where fingerprint_after is not null and ($1::timestamptz is null or finished_at > $1) order by finished_at desc limit 1`,
    [since],
  );
  return rows[0];
}

interface AppliedRow {
  migration_id: string;
  checksum: string;
  finished_at: Date;
  fingerprint_after: string | null;
  fingerprint_after_entries: string[] | null;
}

export function makeInspect(deps: ActivityDeps) {
  return {
    /** Applied manifests whose file changed since, and schema changes made outside Godwit since the last applied migration. */
    async inspectDrift(input: DriftInput): Promise<DriftReport> {
      return withTarget(deps, input.target, `checking drift on '${input.target}'`, async (client) => {
        const { rows } = await client.query<AppliedRow>(
          `select migration_id, checksum, finished_at, fingerprint_after, fingerprint_after_entries
             from godwit.migrations where state = 'applied' order by finished_at`,
        );
        const applied = new Map(rows.map((r) => [r.migration_id, r]));
        const changedFiles = input.manifests
          .filter((m) => applied.has(m.id) && applied.get(m.id)!.checksum !== m.checksum)
          .map((m) => ({ id: m.id, file: m.file, recorded: applied.get(m.id)!.checksum, current: m.checksum }));
        const pending = input.manifests.filter((m) => !applied.has(m.id)).map((m) => m.id);
        const known = new Set(input.manifests.map((m) => m.id));
        const appliedWithoutFile = rows.filter((r) => !known.has(r.migration_id)).map((r) => r.migration_id);

        // The latest change Godwit made: the last applied migration, or a revert finished after it.
        const lastApplied = rows.filter((r) => r.fingerprint_after).at(-1);
        const last = (await latestRevertSince(client, lastApplied?.finished_at ?? null)) ?? lastApplied;
        let schemaDrift: DriftReport['schemaDrift'] = null;
        if (last) {
          const now = await schemaFingerprint(client);
          if (now.hash !== last.fingerprint_after) {
            schemaDrift = {
              since: last.migration_id,
              recorded: last.fingerprint_after!,
              current: now.hash,
              differences: last.fingerprint_after_entries ? diffFingerprints({ hash: last.fingerprint_after!, entries: last.fingerprint_after_entries }, now) : [],
            };
          }
        }
        return { target: input.target, changedFiles, schemaDrift, pending, appliedWithoutFile };
      });
    },

    /**
     * Walks the audit log's hash chain and holds it against the heads runs recorded in
     * Temporal. One repeatable-read snapshot: the heads were listed before it was taken,
     * so every recorded row had committed and must be in it.
     */
    async verifyAuditLog(input: AuditVerifyInput): Promise<AuditVerifyReport> {
      return withTarget(deps, input.target, `verifying the audit log of '${input.target}'`, async (client) => {
        const walker = new AuditChainWalker();
        await readAuditLog(client, (row) => {
          walker.push(row);
          heartbeatDetails({ seq: row.seq });
        });
        return { target: input.target, ...walker.finish(input.recorded) };
      });
    },

    async manageSnapshots(input: SnapshotsInput): Promise<SnapshotsReport> {
      return withTarget(deps, input.target, `${input.action} snapshots on '${input.target}'`, async (client) => {
        const pruned = input.action === 'prune' ? await pruneSnapshots(client) : null;
        return {
          target: input.target,
          snapshots: await listSnapshots(client),
          dropped: pruned?.dropped ?? [],
          retired: await listRetired(client),
          purged: pruned?.purged ?? [],
          deferred: pruned?.deferred ?? [],
        };
      });
    },

    /**
     * Frees a target whose lease holder's run no longer exists (terminated in the UI, or its
     * history lost), and puts that on the audit log. A run that is still open keeps its
     * target, whatever the clock says: it is resolved, not unlocked.
     */
    async unlockTarget(input: UnlockInput): Promise<UnlockReport> {
      return withTarget(deps, input.target, `unlocking '${input.target}'`, async (client) => {
        const lease = await readLease(client, input.target);
        if (lease === null) return { target: input.target, released: false, holder: null, holderState: null, migrationId: null };
        const holderState = await temporalHolderCheck()(lease.holder);
        const { rows } = await client.query<{ migration_id: string; run_id: string }>(
          'select migration_id, run_id from godwit.migrations where workflow_id = $1 order by started_at desc limit 1',
          [lease.holder],
        );
        // A revert's holder is in godwit.reverts, not godwit.migrations.
        const { rows: reverts } = await client.query<{ migration_id: string; run_id: string; chain: { migrationId: string }[] }>(
          'select migration_id, run_id, chain from godwit.reverts where workflow_id = $1 and finished_at is null order by started_at desc limit 1',
          [lease.holder],
        );
        const revert = reverts[0];
        const run = rows[0] ?? (revert ? { migration_id: revert.migration_id, run_id: revert.run_id } : undefined);
        const report = {
          target: input.target,
          holder: lease.holder,
          holderState,
          migrationId: run?.migration_id ?? null,
          revert: revert ? { migrationId: revert.migration_id, chain: revert.chain.map((c) => c.migrationId) } : null,
        };
        if (holderState !== 'closed') return { ...report, released: false };
        const released = await inTransaction(client, null, async () => {
          const deleted = await client.query('delete from godwit.leases where target = $1 and token = $2::bigint', [input.target, lease.token]);
          if (deleted.rowCount !== 1) return false;
          const detail: Record<string, unknown> = { target: input.target, holder: lease.holder, acquiredAt: lease.acquiredAt.toISOString() };
          if (revert) {
            // Its runs stay `reverting`: their copies and retired objects are kept, and the next
            // revert of them takes them back from where this one stopped (undone steps are skipped).
            await client.query(
              `update godwit.reverts set state = 'revert_abandoned', reason = $2, finished_at = now() where run_id = $1`,
              [revert.run_id, `its run closed without finishing; unlocked by ${input.by}`],
            );
            detail.revert = { run_id: revert.run_id, chain: report.revert!.chain, state: 'revert_abandoned' };
          }
          await appendAudit(client, { migrationId: run?.migration_id ?? '', workflowId: lease.holder, runId: run?.run_id ?? '' }, [
            { event: 'LEASE_UNLOCKED', from: null, to: null, actor: input.by, detail },
          ]);
          return true;
        });
        return { ...report, released };
      });
    },
  };
}
