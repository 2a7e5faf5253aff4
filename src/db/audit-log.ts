import type pg from 'pg';
import type { AuditRow } from './audit-chain';

/** Rows per round trip: big enough to be cheap, small enough to keep memory flat. */
const BATCH = 5_000;

/** A row as pg returns it: seq as text (bigint), at as a Date. */
type RawAuditRow = Omit<AuditRow, 'seq' | 'at'> & { seq: string; at: Date };

/**
 * Reads godwit.audit_log in seq order, in keyset batches inside one read-only
 * repeatable-read transaction, so the walk sees one consistent log however long it is.
 */
export async function readAuditLog(client: pg.ClientBase, onRow: (row: AuditRow) => void): Promise<void> {
  await client.query('begin isolation level repeatable read read only');
  try {
    let after = '0';
    for (;;) {
      const { rows } = await client.query<RawAuditRow>(
        `select seq, at, migration_id, workflow_id, run_id, event, from_state, to_state, actor, detail, prev_hash, hash
           from godwit.audit_log where seq > $1 order by seq limit ${BATCH}`,
        [after],
      );
      for (const r of rows) onRow({ ...r, seq: Number(r.seq), at: r.at.toISOString() });
      if (rows.length < BATCH) break;
      after = rows[rows.length - 1]!.seq;
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}
