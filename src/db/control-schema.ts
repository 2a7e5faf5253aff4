import type pg from 'pg';

/**
 * The control schema `godwit` that Godwit keeps in every target. Each entry is one
 * upgrade, applied in order and recorded in godwit.schema_version; never edit an
 * entry that has shipped, append a new one.
 */
const UPGRADES: readonly string[] = [
  /* 1 */ `
  create table godwit.migrations (
    migration_id        text primary key,
    description         text not null default '',
    checksum            text not null,
    state               text not null,
    workflow_id         text not null,
    run_id              text not null,
    requested_by        text not null,
    approved_by         text,
    reason              text,
    started_at          timestamptz not null default now(),
    finished_at         timestamptz,
    fingerprint_before  text,
    fingerprint_after   text,
    fingerprint_before_entries jsonb
  );
  create table godwit.step_ledger (
    run_id          text not null,
    step_id         text not null,
    migration_id    text not null,
    summary         text not null,
    forward_done_at timestamptz,
    compensated_at  timestamptz,
    primary key (run_id, step_id)
  );
  create table godwit.leases (
    target      text primary key,
    holder      text not null,
    token       bigint not null,
    acquired_at timestamptz not null default now(),
    expires_at  timestamptz not null
  );
  create sequence godwit.fencing_tokens;
  create table godwit.audit_log (
    seq          bigint primary key generated always as identity,
    at           timestamptz not null,
    migration_id text not null,
    workflow_id  text not null,
    run_id       text not null,
    event        text not null,
    from_state   text,
    to_state     text,
    actor        text,
    detail       jsonb,
    prev_hash    text not null,
    hash         text not null unique
  );
  -- append-only: the audit log refuses updates and deletes
  create function godwit.audit_log_append_only() returns trigger language plpgsql as $$
  begin
    raise exception 'godwit.audit_log is append-only';
  end $$;
  create trigger audit_log_append_only before update or delete on godwit.audit_log
    for each statement execute function godwit.audit_log_append_only();
  `,
  /* 2: snapshots of data that destructive steps destroy, and checksums for the rollback proof */ `
  create schema if not exists godwit_snapshots;
  create table godwit.snapshots (
    snapshot_table text primary key,
    migration_id   text not null,
    run_id         text not null,
    step_id        text not null,
    ordinal        int not null,
    kind           text not null check (kind in ('table', 'columns')),
    source_schema  text not null,
    source_table   text not null,
    key_columns    text[] not null default '{}',
    columns        text[] not null default '{}',
    where_clause   text,
    row_count      bigint not null,
    checksum       text not null,
    created_at     timestamptz not null default now(),
    retain_until   timestamptz not null,
    restored_at    timestamptz,
    unique (run_id, step_id, ordinal)
  );
  alter table godwit.migrations add column checksums_before jsonb;
  alter table godwit.migrations add column fingerprint_after_entries jsonb;
  `,
  /* 3: progress of steps that commit in batches (backfill), so a retry resumes */ `
  alter table godwit.step_ledger add column progress jsonb;
  `,
  /* 4: live databases: change logs, retired columns and tables, and the proof of each restore */ `
  alter table godwit.snapshots drop constraint snapshots_kind_check;
  alter table godwit.snapshots add constraint snapshots_kind_check check (kind in ('table', 'columns', 'changes'));
  create schema if not exists godwit_retired;
  create table godwit.retired (
    retired_name   text not null,
    kind           text not null check (kind in ('column', 'table')),
    migration_id   text not null,
    run_id         text not null,
    step_id        text not null,
    ordinal        int not null,
    source_schema  text not null,
    source_table   text not null,
    source_column  text,
    retired_at     timestamptz not null default now(),
    retain_until   timestamptz not null,
    restored_at    timestamptz,
    purged_at      timestamptz,
    primary key (run_id, step_id, ordinal)
  );
  create table godwit.restores (
    run_id         text not null,
    step_id        text not null,
    ordinal        int not null,
    migration_id   text not null,
    kind           text not null,
    source         text not null,
    rows           bigint not null,
    restored       bigint not null,
    kept           bigint not null,
    gone           bigint not null,
    equal          boolean not null,
    detail         text,
    at             timestamptz not null default now(),
    primary key (run_id, step_id, kind, ordinal)
  );
  `,
];

export const CONTROL_SCHEMA_VERSION = UPGRADES.length;

// Arbitrary constant key for the advisory lock that serialises control-schema upgrades.
const UPGRADE_LOCK_KEY = 0x60d_317;

const ensured = new WeakSet<object>();

/** Creates or upgrades the control schema; cheap after the first call per pool. */
export async function ensureControlSchema(client: pg.ClientBase, cacheKey?: object): Promise<void> {
  if (cacheKey && ensured.has(cacheKey)) return;
  const exists = await client.query<{ present: boolean }>(`select to_regclass('godwit.schema_version') is not null as present`);
  const version = exists.rows[0]?.present
    ? ((await client.query<{ v: number | null }>('select max(version) as v from godwit.schema_version')).rows[0]?.v ?? 0)
    : 0;
  if (version < CONTROL_SCHEMA_VERSION) {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock($1)', [UPGRADE_LOCK_KEY]);
      await client.query('create schema if not exists godwit');
      await client.query('create table if not exists godwit.schema_version (version int primary key, applied_at timestamptz not null default now())');
      const { rows } = await client.query<{ v: number | null }>('select max(version) as v from godwit.schema_version');
      for (let v = (rows[0]?.v ?? 0) + 1; v <= CONTROL_SCHEMA_VERSION; v++) {
        await client.query(UPGRADES[v - 1]!);
        await client.query('insert into godwit.schema_version (version) values ($1)', [v]);
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback');
      throw err;
    }
  }
  if (cacheKey) ensured.add(cacheKey);
}
