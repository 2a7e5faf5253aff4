/**
 * Destroy late: columns and tables a migration drops are retired instead (renamed out of the
 * application's way) and recorded in `godwit.retired`. Rolling back renames them back; the
 * physical drop happens only after the migration is applied and its retention has ended.
 */
import type pg from 'pg';
import type { RetireSpec } from '../operations/types';
import { quoteIdent } from './ident';
import type { RestoreRecord } from './restores';
import { retiredName, DEFAULT_RETENTION, type SnapshotScope } from './snapshots';

/** Records what the step's forward SQL just retired, in the step's transaction. */
export async function recordRetired(client: pg.ClientBase, scope: SnapshotScope, specs: readonly RetireSpec[], retention = DEFAULT_RETENTION): Promise<void> {
  for (const [ordinal, spec] of specs.entries()) {
    await client.query(
      `insert into godwit.retired (retired_name, kind, migration_id, run_id, step_id, ordinal, source_schema, source_table, source_column, retain_until)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + $10::interval)
       on conflict (run_id, step_id, ordinal) do update set retired_at = now(), retain_until = excluded.retain_until, restored_at = null`,
      [retiredName(scope, ordinal), spec.kind, scope.migrationId, scope.runId, scope.stepId, ordinal, spec.schema, spec.table, spec.kind === 'column' ? spec.column : null, retention],
    );
  }
}

/**
 * After the inverse renamed them back: the proof of each retired object, which must be in its
 * place again under its own name, with nothing left under the retired name.
 */
export async function proveUnretired(client: pg.ClientBase, scope: SnapshotScope, specs: readonly RetireSpec[]): Promise<RestoreRecord[]> {
  const out: RestoreRecord[] = [];
  for (const [ordinal, spec] of specs.entries()) {
    const table = `${spec.schema}.${spec.table}`;
    const problems: string[] = [];
    if (spec.kind === 'column') {
      const { rows } = await client.query<{ back: boolean; left: boolean }>(
        `select exists (select 1 from pg_attribute where attrelid = to_regclass($1) and attname = $2 and not attisdropped) as back,
                exists (select 1 from pg_attribute where attrelid = to_regclass($1) and attname = $3 and not attisdropped) as left`,
        [`${quoteIdent(spec.schema)}.${quoteIdent(spec.table)}`, spec.column, retiredName(scope, ordinal)],
      );
      if (!rows[0]?.back) problems.push(`column ${table}.${spec.column} is not back`);
      if (rows[0]?.left) problems.push(`column ${table}.${retiredName(scope, ordinal)} is still there`);
    } else {
      const { rows } = await client.query<{ back: boolean }>(
        `select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2) as back`,
        [spec.schema, spec.table],
      );
      if (!rows[0]?.back) problems.push(`table ${table} is not back`);
    }
    await client.query('update godwit.retired set restored_at = now() where run_id = $1 and step_id = $2 and ordinal = $3', [scope.runId, scope.stepId, ordinal]);
    const source = spec.kind === 'column' ? `${table}.${spec.column}` : table;
    const equal = problems.length === 0;
    out.push({ stepId: scope.stepId, ordinal, kind: 'retired', source, rows: 0, restored: 0, kept: 0, gone: 0, equal, detail: equal ? 'renamed back' : problems.join('; ') });
  }
  return out;
}
