/** Godwit's own schemas in every target (no imports: planning code uses them too). */

/** The control tables: migrations, step_ledger, leases, snapshots, audit_log. */
export const CONTROL_SCHEMA = 'godwit';
/** Copies of data that destructive steps destroy, and what restores from them. */
export const SNAPSHOT_SCHEMA = 'godwit_snapshots';

/** Tables a migration dropped, kept out of the application's way until they are purged. */
export const RETIRED_SCHEMA = 'godwit_retired';
/**
 * Prefix of a column a migration dropped, renamed out of the application's way until it is
 * purged. The schema fingerprint leaves such columns (and what mentions them) out.
 */
export const RETIRED_COLUMN_PREFIX = '_godwit_retired_';

/**
 * Prefix of the trigger (and its function, in SNAPSHOT_SCHEMA) that keeps an online type
 * change's two columns in step while the migration runs. Removed when it ends, either way.
 */
export const SYNC_TRIGGER_PREFIX = '_godwit_sync_';

/** Schemas Godwit creates in every target: its control tables, its snapshots and what it retired. */
export const GODWIT_SCHEMAS = [CONTROL_SCHEMA, SNAPSHOT_SCHEMA, RETIRED_SCHEMA] as const;
