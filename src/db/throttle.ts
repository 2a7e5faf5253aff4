/**
 * The database side of pacing (src/throttle/pacer.ts): the settings operators changed on a
 * running migration, and the signals Postgres gives about its own load.
 */
import type pg from 'pg';
import type { ThrottleChange } from '../throttle/settings';
import type { LoadSignals } from '../throttle/pacer';

/** Adds `change` to the run's changes (later keys win) in the caller's transaction; returns the merged changes. */
export async function writeThrottleChange(client: pg.ClientBase, runId: string, migrationId: string, change: ThrottleChange, by: string): Promise<ThrottleChange> {
  const { rows } = await client.query<{ settings: ThrottleChange }>(
    `insert into godwit.throttle (run_id, migration_id, settings, updated_by) values ($1, $2, $3, $4)
     on conflict (run_id) do update set settings = godwit.throttle.settings || excluded.settings, updated_by = excluded.updated_by, updated_at = now()
     returning settings`,
    [runId, migrationId, JSON.stringify(change), by],
  );
  return rows[0]!.settings;
}

/** Cumulative counters behind LoadSignals; keep the last reading to compute the next rates. */
export interface LoadReading {
  at: number;
  commits: number;
  walBytes: number | null;
  lagMs: number | null;
}

/** What a batch loop reads from the database at the start of a batch (see readPacing). */
export interface PacingRead {
  /** The operators' changes to the run's pacing, merged in order; null when none. */
  change: ThrottleChange | null;
  reading: LoadReading;
}

/**
 * One query for what a batch loop needs to know before a batch: the run's pacing as operators
 * left it, and the database's load counters (transactions committed and rolled back in this
 * database, the WAL position, the largest standby replay lag, which needs pg_monitor or
 * superuser to be seen).
 *
 * `flush` (Postgres 15+, see canFlushStats): this session's own transaction count reaches
 * pg_stat_database as soon as this transaction ends, not up to a second later, so the
 * loop's own commits can be told from the application's exactly.
 */
export async function readPacing(client: pg.ClientBase, runId: string, flush: boolean): Promise<PacingRead> {
  const { rows } = await client.query<{ settings: ThrottleChange | null; commits: string; wal: string | null; lag_ms: number | null }>(
    `select ${flush ? 'pg_stat_force_next_flush(), ' : ''}(select settings from godwit.throttle where run_id = $1) as settings,
            (select xact_commit + xact_rollback from pg_stat_database where datname = current_database())::text as commits,
            case when pg_is_in_recovery() then null else pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text end as wal,
            (select max(extract(epoch from replay_lag) * 1000)::float8 from pg_stat_replication) as lag_ms`,
    [runId],
  );
  const r = rows[0]!;
  return {
    change: r.settings,
    reading: { at: Date.now(), commits: Number(r.commits), walBytes: r.wal === null ? null : Number(r.wal), lagMs: r.lag_ms },
  };
}

/**
 * Sessions waiting right now for a lock this session holds: the application's writes queued
 * behind a batch's row locks. Run inside the batch's transaction, just before it commits.
 * The OFFSET 0 keeps pg_blocking_pids (it takes the lock manager's locks) to sessions that
 * are waiting for a lock at all.
 */
export async function countWaiters(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n from (select pid from pg_stat_activity where wait_event_type = 'Lock' offset 0) w
      where pg_backend_pid() = any(pg_blocking_pids(w.pid))`,
  );
  return rows[0]?.n ?? 0;
}

/** Whether this server has pg_stat_force_next_flush() (Postgres 15+). */
export async function canFlushStats(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`select to_regprocedure('pg_stat_force_next_flush()') is not null as ok`);
  return rows[0]?.ok === true;
}

/** The load between two readings; `ownCommits`: this loop's own transactions in between, left out of the application's rate. */
export function loadBetween(prev: LoadReading, next: LoadReading, ownCommits: number): LoadSignals {
  const seconds = Math.max(0.001, (next.at - prev.at) / 1000);
  return {
    otherCommitsPerSec: Math.max(0, next.commits - prev.commits - ownCommits) / seconds,
    lagMs: next.lagMs,
    walMbPerSec: next.walBytes === null || prev.walBytes === null ? null : (next.walBytes - prev.walBytes) / 1e6 / seconds,
  };
}
