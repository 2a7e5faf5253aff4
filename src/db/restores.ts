/**
 * The proof of each restore, written by the compensation that did it (in its transaction)
 * and read by the rollback proof: what the step changed, what came back, what the
 * application's later writes kept, and whether the restore's own check held.
 */
import type pg from 'pg';

export interface RestoreRecord {
  stepId: string;
  ordinal: number;
  /** `changes` (a change log), `columns` or `table` (a copy), `retired` (renamed back). */
  kind: 'changes' | 'columns' | 'table' | 'retired';
  /** The table (or column) restored: `public.accounts`. */
  source: string;
  /** Rows (or keys) the step changed, as far as its log or copy holds them. */
  rows: number;
  /** Put back as they were, each checked. */
  restored: number;
  /** Changed again by the application after the step: its values were kept. */
  kept: number;
  /** Deleted by the application after the step: they stay deleted. */
  gone: number;
  equal: boolean;
  detail: string | null;
}

export async function recordRestore(client: pg.ClientBase, scope: { migrationId: string; runId: string }, r: RestoreRecord): Promise<void> {
  await client.query(
    `insert into godwit.restores (run_id, step_id, ordinal, migration_id, kind, source, rows, restored, kept, gone, equal, detail)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (run_id, step_id, kind, ordinal) do update set source = excluded.source, rows = excluded.rows,
       restored = excluded.restored, kept = excluded.kept, gone = excluded.gone, equal = excluded.equal, detail = excluded.detail, at = now()`,
    [scope.runId, r.stepId, r.ordinal, scope.migrationId, r.kind, r.source, r.rows, r.restored, r.kept, r.gone, r.equal, r.detail],
  );
}

/** The restores of a run, newest step first (the order the compensations ran in). */
export async function listRestores(client: pg.ClientBase, runId: string): Promise<RestoreRecord[]> {
  const { rows } = await client.query(
    `select step_id, ordinal, kind, source, rows::float8 as rows, restored::float8 as restored, kept::float8 as kept, gone::float8 as gone, equal, detail
       from godwit.restores where run_id = $1 order by at, step_id, ordinal`,
    [runId],
  );
  return rows.map((r) => ({
    stepId: r.step_id,
    ordinal: r.ordinal,
    kind: r.kind,
    source: r.source,
    rows: r.rows,
    restored: r.restored,
    kept: r.kept,
    gone: r.gone,
    equal: r.equal,
    detail: r.detail,
  }));
}
