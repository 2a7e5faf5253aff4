import { createHash } from 'node:crypto';
import type pg from 'pg';
import { canonicalJson } from '../manifest/canonical';

/** One lifecycle transition (or other notable event) to append to godwit.audit_log. */
export interface AuditEntry {
  event: string;
  from: string | null;
  to: string | null;
  actor?: string | null;
  detail?: Record<string, unknown> | null;
}

export interface AuditScope {
  migrationId: string;
  workflowId: string;
  runId: string;
}

const AUDIT_LOCK_KEY = 0x60d_a0d;
export const GENESIS_HASH = 'sha256:' + '0'.repeat(64);

export function auditRowHash(prevHash: string, row: Record<string, unknown>): string {
  return 'sha256:' + createHash('sha256').update(prevHash).update(canonicalJson(row)).digest('hex');
}

/**
 * Appends entries to the hash-chained audit log. Must run inside the caller's
 * transaction, so the entries commit (or not) together with the work they describe.
 */
export async function appendAudit(client: pg.ClientBase, scope: AuditScope, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await client.query('select pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
  const last = await client.query<{ hash: string; now: Date }>(
    `select coalesce((select hash from godwit.audit_log order by seq desc limit 1), $1) as hash, now() as now`,
    [GENESIS_HASH],
  );
  let prevHash = last.rows[0]!.hash;
  const at = last.rows[0]!.now.toISOString();
  for (const e of entries) {
    const row = {
      at,
      migration_id: scope.migrationId,
      workflow_id: scope.workflowId,
      run_id: scope.runId,
      event: e.event,
      from_state: e.from,
      to_state: e.to,
      actor: e.actor ?? null,
      detail: e.detail ?? null,
    };
    const hash = auditRowHash(prevHash, row);
    await client.query(
      `insert into godwit.audit_log (at, migration_id, workflow_id, run_id, event, from_state, to_state, actor, detail, prev_hash, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [at, row.migration_id, row.workflow_id, row.run_id, row.event, row.from_state, row.to_state, row.actor, row.detail, prevHash, hash],
    );
    prevHash = hash;
  }
}
