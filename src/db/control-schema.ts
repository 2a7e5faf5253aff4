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
  /* 5: retiring refuses what DROP COLUMN / DROP TABLE without CASCADE would refuse (see operations/retire.ts) */ `
  -- users, or billing.invoices outside public (as Godwit's messages name tables).
  create function godwit.display_relation(rel oid) returns text
  language sql stable set search_path = pg_catalog as $$
    select case when n.nspname = 'public' then c.relname::text else n.nspname || '.' || c.relname end
      from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = rel
  $$;
  -- A dependent as Postgres' own DROP error names it: a view, not its _RETURN rule.
  -- With public on the path after pg_catalog, names in public print bare, as in Godwit's messages.
  create function godwit.describe_dependent(dep_class oid, dep_object oid, dep_sub int) returns text
  language sql stable set search_path = pg_catalog, public as $$
    select coalesce(
      (select (case c.relkind when 'm' then 'materialized view ' else 'view ' end) || godwit.display_relation(c.oid)
         from pg_rewrite r join pg_class c on c.oid = r.ev_class
        where dep_class = 'pg_rewrite'::regclass and r.oid = dep_object and r.rulename = '_RETURN'),
      pg_describe_object(dep_class, dep_object, dep_sub))
  $$;
  create function godwit.refuse_dependents(what text, deps text[], drop_kind text) returns void
  language plpgsql set search_path = pg_catalog as $$
  begin
    if cardinality(deps) > 0 then
      raise exception using errcode = 'dependent_objects_still_exist',
        message = format('cannot drop %s because %s', what,
                         case when cardinality(deps) = 1 then deps[1] || ' depends on it'
                              else 'other objects depend on it: ' || array_to_string(deps, ', ') end),
        hint = format('drop or change them first (a real %s would refuse too), then drop it', drop_kind);
    end if;
  end $$;
  -- Objects that depend on the column normally and that DROP COLUMN would not remove with it
  -- (those also depend on it automatically), in the table and every table inheriting it.
  create function godwit.refuse_drop_column(tbl regclass, col name) returns void
  language plpgsql stable set search_path = pg_catalog as $$
  declare deps text[];
  begin
    with recursive tree(oid) as (
      select tbl::oid union select i.inhrelid from pg_inherits i join tree on i.inhparent = tree.oid
    ), target as (
      select a.attrelid, a.attnum from pg_attribute a join tree on a.attrelid = tree.oid where a.attname = col and not a.attisdropped
    ), dependent as (
      select distinct d.classid, d.objid, d.objsubid
        from pg_depend d join target on d.refobjid = target.attrelid and d.refobjsubid = target.attnum
       where d.refclassid = 'pg_class'::regclass and d.deptype = 'n'
         and not exists (select 1 from pg_depend o
                          where o.classid = d.classid and o.objid = d.objid and o.objsubid = d.objsubid and o.refclassid = d.refclassid
                            and o.refobjid = d.refobjid and o.refobjsubid = d.refobjsubid and o.deptype in ('a', 'i'))
    )
    select array_agg(godwit.describe_dependent(classid, objid, objsubid) order by classid, objid, objsubid) into deps from dependent;
    perform godwit.refuse_dependents(format('column %s of table %s', col, godwit.display_relation(tbl)), deps, 'DROP COLUMN');
  end $$;
  -- Objects that depend on the table or its row type normally and are not its own (its own
  -- constraints, triggers, policies and rules depend on it automatically and go with it).
  create function godwit.refuse_drop_table(tbl regclass) returns void
  language plpgsql stable set search_path = pg_catalog as $$
  declare deps text[];
  begin
    with rel as (
      select c.oid, c.reltype, t.typarray from pg_class c join pg_type t on t.oid = c.reltype where c.oid = tbl
    ), dependent as (
      select distinct d.classid, d.objid, d.objsubid from pg_depend d, rel
       where d.deptype = 'n'
         and ((d.refclassid = 'pg_class'::regclass and d.refobjid = rel.oid)
              or (d.refclassid = 'pg_type'::regclass and d.refobjid in (rel.reltype, rel.typarray)))
         and not exists (select 1 from pg_depend o
                          where o.classid = d.classid and o.objid = d.objid and o.objsubid = d.objsubid
                            and o.refclassid = 'pg_class'::regclass and o.refobjid = rel.oid and o.deptype in ('a', 'i'))
    )
    select array_agg(godwit.describe_dependent(classid, objid, objsubid) order by classid, objid, objsubid) into deps from dependent;
    perform godwit.refuse_dependents(format('table %s', godwit.display_relation(tbl)), deps, 'DROP TABLE');
  end $$;
  `,
  // 6: what depends on a column, as its own function: an online type change refuses to swap a
  // column that a view or policy would keep reading under its retired name, with its own words.
  `
  create function godwit.column_dependents(tbl regclass, col name) returns text[]
  language plpgsql stable set search_path = pg_catalog as $$
  declare deps text[];
  begin
    with recursive tree(oid) as (
      select tbl::oid union select i.inhrelid from pg_inherits i join tree on i.inhparent = tree.oid
    ), target as (
      select a.attrelid, a.attnum from pg_attribute a join tree on a.attrelid = tree.oid where a.attname = col and not a.attisdropped
    ), dependent as (
      select distinct d.classid, d.objid, d.objsubid
        from pg_depend d join target on d.refobjid = target.attrelid and d.refobjsubid = target.attnum
       where d.refclassid = 'pg_class'::regclass and d.deptype = 'n'
         and not exists (select 1 from pg_depend o
                          where o.classid = d.classid and o.objid = d.objid and o.objsubid = d.objsubid and o.refclassid = d.refclassid
                            and o.refobjid = d.refobjid and o.refobjsubid = d.refobjsubid and o.deptype in ('a', 'i'))
    )
    select array_agg(godwit.describe_dependent(classid, objid, objsubid) order by classid, objid, objsubid) into deps from dependent;
    return coalesce(deps, '{}');
  end $$;
  create or replace function godwit.refuse_drop_column(tbl regclass, col name) returns void
  language plpgsql stable set search_path = pg_catalog as $$
  begin
    perform godwit.refuse_dependents(format('column %s of table %s', col, godwit.display_relation(tbl)), godwit.column_dependents(tbl, col), 'DROP COLUMN');
  end $$;
  `,
  // 7: TRUNCATE fires no DELETE trigger: the append-only audit log refuses it too.
  `
  create trigger audit_log_no_truncate before truncate on godwit.audit_log
    for each statement execute function godwit.audit_log_append_only();
  `,
  // 8: how fast a run's batched steps may go, as operators changed it (godwit tune, pause,
  // resume); the running batch loop reads its row before every batch.
  `
  create table godwit.throttle (
    run_id text primary key,
    migration_id text not null,
    settings jsonb not null,
    updated_by text,
    updated_at timestamptz not null default now()
  );
  `,
  // 9: revert of applied migrations (activities/revert.ts): the plan each run executed, as
  // prepare made it, so a revert undoes exactly that; and one row per revert run.
  `
  create table godwit.plans (
    run_id       text primary key,
    migration_id text not null,
    steps        jsonb not null,
    policy       jsonb not null,
    recorded_at  timestamptz not null default now()
  );
  create table godwit.reverts (
    run_id       text primary key,
    workflow_id  text not null,
    migration_id text not null,
    chain        jsonb not null,
    state        text not null,
    requested_by text not null,
    approved_by  text,
    reason       text,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    fingerprint_after         text,
    fingerprint_after_entries jsonb
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
