/** Godwit's own schemas in every target (no imports: planning code uses them too). */

/** The control tables: migrations, step_ledger, leases, snapshots, audit_log. */
export const CONTROL_SCHEMA = 'godwit';
/** Copies of data that destructive steps destroy, and what restores from them. */
export const SNAPSHOT_SCHEMA = 'godwit_snapshots';

/** Schemas Godwit creates in every target: its control tables and its snapshots. */
export const GODWIT_SCHEMAS = [CONTROL_SCHEMA, SNAPSHOT_SCHEMA] as const;
