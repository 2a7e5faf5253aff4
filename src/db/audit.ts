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

/**
 * The last row of the chain as a writer left it. Runs keep it outside the table, in
 * their Temporal memo, so that `godwit audit verify` notices rows cut off the end.
 */
export interface AuditHead {
  seq: number;
  hash: string;
  event: string;
  /** The row's time, ISO 8601. */
  at: string;
}

/** The columns of an audit row that its hash covers (all but seq, prev_hash and hash). */
export interface AuditRecord {
  at: string;
  migration_id: string;
  workflow_id: string;
  run_id: string;
  event: string;
  from_state: string | null;
  to_state: string | null;
  actor: string | null;
  detail: Record<string, unknown> | null;
}

const AUDIT_LOCK_KEY = 0x60d_a0d;
export const GENESIS_HASH = 'sha256:' + '0'.repeat(64);

/** sha256(prev_hash || canonical row): each row seals the one before it. */
export function auditRowHash(prevHash: string, row: AuditRecord): string {
  return 'sha256:' + createHash('sha256').update(prevHash).update(canonicalJson(row)).digest('hex');
}

/**
 * Appends entries to the hash-chained audit log. Must run inside the caller's
 * transaction, so the entries commit (or not) together with the work they describe.
 * Returns the new head, which is only true once that transaction has committed.
 */
export async function appendAudit(client: pg.ClientBase, scope: AuditScope, entries: readonly AuditEntry[]): Promise<AuditHead | null> {
  if (entries.length === 0) return null;
  await client.query('select pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
  const last = await client.query<{ hash: string; now: Date }>(
    `select coalesce((select hash from godwit.audit_log order by seq desc limit 1), $1) as hash, now() as now`,
    [GENESIS_HASH],
  );
  let prevHash = last.rows[0]!.hash;
  const at = last.rows[0]!.now.toISOString();
  let head: AuditHead | null = null;
  for (const e of entries) {
    const row: AuditRecord = {
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
    const { rows } = await client.query<{ seq: string }>(
      `insert into godwit.audit_log (at, migration_id, workflow_id, run_id, event, from_state, to_state, actor, detail, prev_hash, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning seq`,
      [at, row.migration_id, row.workflow_id, row.run_id, row.event, row.from_state, row.to_state, row.actor, row.detail, prevHash, hash],
    );
    head = { seq: Number(rows[0]!.seq), hash, event: e.event, at };
    prevHash = hash;
  }
  return head;
}
