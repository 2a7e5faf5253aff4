import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { diffFingerprints, schemaFingerprint, type SchemaFingerprint } from '../../src/db/fingerprint';
import { GODWIT_SCHEMAS } from '../../src/db/introspect';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
let client: pg.Client;

/** Runs statements one by one: VACUUM, CLUSTER and CONCURRENTLY refuse a transaction block,
 * which a multi-statement query string is. */
async function run(sql: string | string[]): Promise<void> {
  for (const statement of Array.isArray(sql) ? sql : [sql]) await client.query(statement);
}

const fingerprint = (): Promise<SchemaFingerprint> => schemaFingerprint(client);

/** Every case starts from this schema `s`, rebuilt before each test. */
const FIXTURE = `
  drop schema if exists s cascade;
  create schema s;
  create table s.t (id serial primary key, name varchar(200) not null, note text);
  create index t_name_idx on s.t (name);
  create view s.v as select id from s.t;
  create sequence s.seq;
  create type s.mood as enum ('happy', 'sad');
  create function s.f() returns int language sql as 'select 1';
  create function s.touch() returns trigger language plpgsql as 'begin return new; end';
  insert into s.t (name, note) values ('a', 'x'), ('b', 'y'), ('c', null);
`;

beforeAll(async () => {
  db = await createTestDatabase('godwit_fingerprint');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

beforeEach(async () => {
  await client.query(FIXTURE);
});

interface ChangeCase {
  name: string;
  /** Extra DDL on top of the fixture, before the "before" fingerprint. */
  setup?: string;
  change: string | string[] | (() => Promise<void>);
  /** The exact diff lines. */
  diff: string[];
}

const changes: ChangeCase[] = [
  { name: 'add column', change: 'alter table s.t add column email text', diff: ['column s.t.email: added'] },
  {
    name: 'change column type',
    change: 'alter table s.t alter column name type text',
    diff: ['column s.t.name: type text, was character varying(200)'],
  },
  {
    name: 'set default',
    change: `alter table s.t alter column note set default 'none'`,
    diff: [`column s.t.note: default 'none'::text, was null`],
  },
  { name: 'drop not null', change: 'alter table s.t alter column name drop not null', diff: ['column s.t.name: nullable true, was false'] },
  {
    name: 'column collation',
    change: 'alter table s.t alter column note type text collate "C"',
    diff: ['column s.t.note: collation pg_catalog."C", was (none)'],
  },
  { name: 'add index', change: 'create index t_note_idx on s.t (note)', diff: ['index s.t_note_idx: added'] },
  {
    name: 'index left invalid by a failed CREATE INDEX CONCURRENTLY',
    setup: 'create unique index t_note_key on s.t (note)',
    change: async () => {
      await run(['drop index s.t_note_key', `insert into s.t (name, note) values ('d', 'dup'), ('e', 'dup')`]);
      await expect(run('create unique index concurrently t_note_key on s.t (note)')).rejects.toThrow(/could not create unique index/);
    },
    diff: ['index s.t_note_key: valid false, was true'],
  },
  {
    name: 'add constraint',
    change: `alter table s.t add constraint t_name_check check (name <> '')`,
    diff: ['constraint s.t.t_name_check: added'],
  },
  {
    name: 'validate a NOT VALID constraint',
    setup: `alter table s.t add constraint t_note_check check (note <> '') not valid`,
    change: 'alter table s.t validate constraint t_note_check',
    diff: [`constraint s.t.t_note_check: definition CHECK ((note <> ''::text)), was CHECK ((note <> ''::text)) NOT VALID; valid true, was false`],
  },
  {
    name: 'make a constraint deferrable',
    setup: 'alter table s.t add constraint t_name_key unique (name)',
    change: 'alter table s.t drop constraint t_name_key, add constraint t_name_key unique (name) deferrable',
    diff: ['constraint s.t.t_name_key: definition UNIQUE (name) DEFERRABLE, was UNIQUE (name); deferrable true, was false'],
  },
  { name: 'create view', change: 'create view s.w as select 1 as x', diff: ['view s.w: added'] },
  {
    name: 'change view definition',
    change: 'create or replace view s.v as select id from s.t where id > 0',
    diff: ['view s.v: definition changed'],
  },
  { name: 'create materialized view', change: 'create materialized view s.mv as select 1 as x', diff: ['materialized view s.mv: added'] },
  { name: 'create sequence', change: 'create sequence s.seq2', diff: ['sequence s.seq2: added'] },
  { name: 'change sequence increment', change: 'alter sequence s.seq increment by 10', diff: ['sequence s.seq: increment 10, was 1'] },
  { name: 'sequence owned by a column', change: 'alter sequence s.seq owned by s.t.note', diff: ['sequence s.seq: owned_by s.t.note, was null'] },
  { name: 'create enum', change: `create type s.color as enum ('red')`, diff: ['type s.color: added'] },
  {
    name: 'add enum label',
    change: `alter type s.mood add value 'calm' before 'sad'`,
    diff: ['type s.mood: labels ["happy","calm","sad"], was ["happy","sad"]'],
  },
  { name: 'create domain', change: 'create domain s.positive as int check (value > 0)', diff: ['domain constraint s.positive.positive_check: added', 'domain s.positive: added'] },
  { name: 'comment on column', change: `comment on column s.t.note is 'free text'`, diff: ['comment on column s.t.note: added'] },
  {
    name: 'change a table comment',
    setup: `comment on table s.t is 'things'`,
    change: `comment on table s.t is 'stuff'`,
    diff: ['comment on table s.t: text stuff, was things'],
  },
  { name: 'replica identity full', change: 'alter table s.t replica identity full', diff: ['table s.t: replica_identity full, was default'] },
  {
    name: 'unlogged table',
    change: 'alter table s.t set unlogged',
    diff: ['sequence s.t_id_seq: persistence unlogged, was (none)', 'table s.t: persistence unlogged, was permanent'],
  },
  {
    name: 'grant',
    change: 'grant select on s.t to public',
    diff: ['table s.t: acl ["=r/postgres","postgres=arwdDxt/postgres"], was ["postgres=arwdDxt/postgres"]'],
  },
  {
    name: 'create trigger',
    change: 'create trigger t_touch before update on s.t for each row execute function s.touch()',
    diff: ['trigger s.t.t_touch: added'],
  },
  {
    name: 'disable trigger',
    setup: 'create trigger t_touch before update on s.t for each row execute function s.touch()',
    change: 'alter table s.t disable trigger t_touch',
    diff: ['trigger s.t.t_touch: enabled disabled, was origin'],
  },
  {
    name: 'replace function body',
    change: `create or replace function s.f() returns int language sql as 'select 2'`,
    diff: ['function s.f(): definition changed'],
  },
  { name: 'create function', change: `create function s.g(a int) returns int language sql as 'select a'`, diff: ['function s.g(a integer): added'] },
  { name: 'create schema', change: 'create schema other', diff: ['schema other: added'] },
  { name: 'create extension', change: 'create extension citext schema s', diff: ['extension citext: added'] },
];

describe('schemaFingerprint: schema changes change the hash and the diff names the object', () => {
  it.each(changes)('$name', async ({ setup, change, diff }) => {
    if (setup) await run(setup);
    const before = await fingerprint();
    if (typeof change === 'function') await change();
    else await run(change);
    const after = await fingerprint();

    expect(after.hash).not.toBe(before.hash);
    expect(diffFingerprints(before, after)).toEqual(diff);
    await run('drop schema if exists other');
  });
});

const noise: { name: string; sql: string[] }[] = [
  { name: 'inserting rows', sql: [`insert into s.t (name) select 'n' || g from generate_series(1, 500) g`] },
  { name: 'deleting rows', sql: ['delete from s.t where note is null'] },
  { name: 'updating rows', sql: [`update s.t set note = repeat('z', 5000)`] },
  { name: 'ANALYZE', sql: ['analyze s.t'] },
  { name: 'VACUUM FULL', sql: [`update s.t set note = 'w'`, 'vacuum full s.t'] },
  { name: 'CLUSTER', sql: ['cluster s.t using t_pkey'] },
  { name: 'nextval on a sequence', sql: [`select nextval('s.seq')`, `select setval('s.t_id_seq', 1000)`] },
  { name: 'REFRESH MATERIALIZED VIEW', sql: ['create materialized view s.mv as select 1 as x with no data'] },
  { name: 'REINDEX', sql: ['reindex table s.t'] },
];

describe('schemaFingerprint: data and physical changes leave the hash alone', () => {
  it.each(noise)('$name', async ({ name, sql }) => {
    // The materialized view has to exist before the fingerprint for REFRESH to be noise.
    if (name.startsWith('REFRESH')) {
      await run(sql);
      sql = ['refresh materialized view s.mv'];
    }
    const before = await fingerprint();
    await run(sql);
    const after = await fingerprint();
    expect(diffFingerprints(before, after)).toEqual([]);
    expect(after.hash).toBe(before.hash);
  });
});

describe('schemaFingerprint: undoing a change gives back the original hash', () => {
  it('add then drop a column', async () => {
    const before = await fingerprint();
    await run([`alter table s.t add column extra int default 7 not null`, `comment on column s.t.extra is 'x'`, 'alter table s.t drop column extra']);
    expect((await fingerprint()).hash).toBe(before.hash);
  });

  it('drop a column, then add it back (at the end) as it was', async () => {
    const before = await fingerprint();
    await run(['drop view s.v', 'alter table s.t drop column name', 'alter table s.t add column name varchar(200) not null default \'\'',
      'alter table s.t alter column name drop default', 'create index t_name_idx on s.t (name)', 'create view s.v as select id from s.t']);
    expect((await fingerprint()).hash).toBe(before.hash);
  });

  it('change a column type and back', async () => {
    const before = await fingerprint();
    await run(['alter table s.t alter column name type text', 'alter table s.t alter column name type varchar(200)']);
    expect((await fingerprint()).hash).toBe(before.hash);
  });

  it('drop a table and recreate it with the same DDL', async () => {
    const ddl = [
      `create table s.r (
         id bigint generated always as identity primary key,
         serial_no serial,
         t_id int references s.t (id) on delete cascade deferrable,
         label text collate "C" not null default 'x' check (label <> ''),
         twice int generated always as (serial_no * 2) stored,
         unique (label, t_id))`,
      'create index r_label_idx on s.r (lower(label)) where t_id is not null',
      `comment on table s.r is 'recreated'`,
      `comment on column s.r.label is 'a label'`,
      'create trigger r_touch before update on s.r for each row execute function s.touch()',
      'alter table s.r replica identity full',
      'grant select on s.r to public',
    ];
    await run(ddl);
    await run(`insert into s.r (t_id, label) select id, name from s.t`);
    const before = await fingerprint();
    await run('drop table s.r');
    await run(ddl);
    const after = await fingerprint();
    expect(diffFingerprints(before, after)).toEqual([]);
    expect(after.hash).toBe(before.hash);
  });
});

describe('schemaFingerprint: scope', () => {
  it.each(GODWIT_SCHEMAS)('ignores everything in %s', async (schema) => {
    const before = await fingerprint();
    await run([
      `create schema ${schema}`,
      `create table ${schema}.x (id serial primary key, v text)`,
      `create index on ${schema}.x (v)`,
      `create view ${schema}.xv as select id from ${schema}.x`,
      `create type ${schema}.e as enum ('a')`,
      `create function ${schema}.fn() returns int language sql as 'select 1'`,
      `comment on table ${schema}.x is 'ours'`,
    ]);
    const after = await fingerprint();
    await run(`drop schema ${schema} cascade`);
    expect(diffFingerprints(before, after)).toEqual([]);
    expect(after.hash).toBe(before.hash);
  });

  it('describes an empty database by its public schema and plpgsql alone', async () => {
    const empty = await createTestDatabase('godwit_fingerprint_empty');
    const other = new pg.Client({ connectionString: empty.url });
    await other.connect();
    try {
      expect((await schemaFingerprint(other)).entries).toEqual([
        'comment on schema public: text="standard public schema"',
        'extension plpgsql: version=1.0 schema=pg_catalog',
        'schema public: owner=pg_database_owner acl=["=U/pg_database_owner","pg_database_owner=UC/pg_database_owner"]',
      ]);
    } finally {
      await other.end();
      await empty.drop();
    }
  });

  it('leaves out sequence values', async () => {
    await run(`select setval('s.seq', 42)`);
    const { entries } = await fingerprint();
    expect(entries).toContain('sequence s.seq: type=bigint start=1 increment=1 min=1 max=9223372036854775807 cache=1 cycle=false owned_by=null owner=postgres acl=["postgres=rwU/postgres"]');
  });

  it('does not depend on the search_path, and leaves it as it was', async () => {
    const plain = await fingerprint();
    await run('set search_path = s, public');
    const onS = await fingerprint();
    const path = (await client.query('show search_path')).rows[0];
    await run('reset search_path');
    expect(onS.hash).toBe(plain.hash);
    expect(path).toEqual({ search_path: 's, public' });
  });

  it('reads uncommitted DDL inside the caller\'s transaction', async () => {
    const before = await fingerprint();
    await run('begin');
    await run('alter table s.t add column pending int');
    const inside = await fingerprint();
    await run('rollback');
    expect(diffFingerprints(before, inside)).toEqual(['column s.t.pending: added']);
  });
});

describe('fingerprint format', () => {
  it('is sha256 over the sorted entries joined by newlines', async () => {
    const { hash, entries } = await fingerprint();
    expect(entries).toEqual([...entries].sort());
    expect(hash).toBe(`sha256:${createHash('sha256').update(entries.join('\n')).digest('hex')}`);
  });

  it('prints one line per object keyed by kind and qualified name', async () => {
    const { entries } = await fingerprint();
    expect(entries).toContain('column s.t.note: type=text nullable=true default=null');
    expect(entries).toContain(`column s.t.id: type=integer nullable=false default=nextval('s.t_id_seq'::regclass)`);
    expect(entries.every((e) => !e.includes('\n'))).toBe(true);
  });

  it('keeps identifiers that contain ": " intact when diffing', async () => {
    const before = await fingerprint();
    await run(`alter table s.t add column "odd: name" int default 1`);
    const added = await fingerprint();
    await run(`alter table s.t alter column "odd: name" set default 2`);
    const changed = await fingerprint();
    expect(diffFingerprints(before, added)).toEqual(['column s.t."odd: name": added']);
    expect(diffFingerprints(added, changed)).toEqual(['column s.t."odd: name": default 2, was 1']);
  });

  it('says "removed" for objects that are gone', async () => {
    const before = await fingerprint();
    await run('drop index s.t_name_idx');
    expect(diffFingerprints(before, await fingerprint())).toEqual(['index s.t_name_idx: removed']);
  });
});
