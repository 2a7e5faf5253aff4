import type pg from 'pg';
import type { AuditEntry, AuditHead } from '../src/db/audit';
import { appendAudit } from '../src/db/audit';
import type { RunScope, StepInput } from '../src/contract/migration';
import { checkFence } from '../src/db/lease';
import { inTransaction } from './context';
import { toFailure } from './errors';

export interface LedgerRow {
  forward_done: boolean;
  compensated: boolean;
}

export async function readLedger(client: pg.ClientBase, runId: string, stepId: string): Promise<LedgerRow> {
  const { rows } = await client.query<{ forward_done_at: Date | null; compensated_at: Date | null }>(
    'select forward_done_at, compensated_at from godwit.step_ledger where run_id = $1 and step_id = $2',
    [runId, stepId],
  );
  return { forward_done: rows[0]?.forward_done_at != null, compensated: rows[0]?.compensated_at != null };
}

export async function markForwardDone(client: pg.ClientBase, scope: RunScope, stepId: string, summary: string): Promise<void> {
  await client.query(
    `insert into godwit.step_ledger (run_id, step_id, migration_id, summary, forward_done_at) values ($1, $2, $3, $4, now())
     on conflict (run_id, step_id) do update set forward_done_at = now()`,
    [scope.runId, stepId, scope.migrationId, summary],
  );
}

export async function markCompensated(client: pg.ClientBase, scope: RunScope, stepId: string): Promise<void> {
  await client.query('update godwit.step_ledger set compensated_at = now() where run_id = $1 and step_id = $2', [scope.runId, stepId]);
}

/**
 * Writes pending lifecycle transitions and mirrors the latest state into godwit.migrations.
 * Returns the audit head they made, for the activity to hand back once its transaction committed.
 */
export async function recordTransitions(client: pg.ClientBase, scope: RunScope, audit: readonly AuditEntry[]): Promise<AuditHead | null> {
  if (audit.length === 0) return null;
  const head = await appendAudit(client, scope, audit);
  const last = audit[audit.length - 1]!;
  if (last.to) {
    await client.query('update godwit.migrations set state = $2 where migration_id = $1 and run_id = $3', [scope.migrationId, last.to, scope.runId]);
  }
  return head;
}

/**
 * The transitions a step carries are written in its own transaction, which a failure rolls
 * back. A retry writes them again; a failure that is not retried would lose them (a run whose
 * first step failed had no START in its audit log), so they get a transaction of their own.
 * Only while this run still holds the target's lease; a failure to write them leaves the
 * step's own error to be reported.
 */
export async function keepTransitions(client: pg.ClientBase, input: StepInput, err: unknown): Promise<void> {
  if (input.audit.length === 0 || !toFailure(err).nonRetryable) return;
  await inTransaction(client, null, async () => {
    await checkFence(client, input.target, input.token);
    await recordTransitions(client, input, input.audit);
  }).catch(() => undefined);
}
