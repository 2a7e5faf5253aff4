/**
 * The stored definitions Godwit rewrites after a rename (src/operations/definitions.ts),
 * checked against Postgres itself: rename a column or a table for real, then drop every index
 * and constraint and recreate them from the rewritten definitions. The catalog must then say
 * exactly what it said after Postgres' own rename.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { introspectSchema } from '../../src/db/introspect';
import { quoteIdent } from '../../src/db/ident';
import type { SchemaModel } from '../../src/db/schema-model';
import { loadSqlParser } from '../../src/operations';
import { renameColumnInConstraint, renameInDefinition, retargetTable } from '../../src/operations/definitions';
import { rel } from '../../src/operations/model';

let db: TestDatabase;

const FIXTURE = `
  create extension if not exists btree_gist;
  create table parent (org int, id int, primary key (org, id));
  create table t (
    id int primary key,
    org int,
    "Mixed Case" text,
    name text,
    email text constraint email_not_email check (email <> 'email' and "Mixed Case" <> $$name$$),
    n int,
    during tstzrange,
    note text,
    constraint t_parent_fk foreign key (org, n) references parent (org, id) on delete set null (n),
    constraint t_no_overlap exclude using gist (n with =, during with &&) where (note is not null),
    constraint t_email_name unique nulls not distinct (email, name) include (note)
  );
  create index t_email_idx on t (email) where (note <> 'email');
  create index t_lower_idx on t (lower(email), "Mixed Case" desc nulls last) include (name);
  create unique index t_expr_idx on t ((n + id), (email || name)) with (fillfactor = 70);
  create table child (id int primary key, t_id int references t (id) on delete cascade, "email" text);`;

/** The catalog's definitions of every index and constraint, by name. */
async function definitions(c: pg.ClientBase): Promise<Record<string, string>> {
  const { rows } = await c.query<{ name: string; def: string }>(`
    select 'index ' || c.relname as name, pg_get_indexdef(i.indexrelid) as def from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
    union all
    select 'constraint ' || conname, pg_get_constraintdef(oid) from pg_constraint where connamespace = 'public'::regnamespace
    order by 1`);
  return Object.fromEntries(rows.map((r) => [r.name, r.def]));
}

/** Drops every index and constraint of the tables, then recreates them from `model`'s definitions. */
async function recreate(c: pg.ClientBase, model: SchemaModel): Promise<void> {
  const tables = Object.values(model.tables);
  for (const table of tables) {
    for (const con of Object.values(table.constraints ?? {})) {
      if (con.type === 'foreign_key') await c.query(`alter table ${quoteIdent(table.schema)}.${quoteIdent(table.name)} drop constraint ${quoteIdent(con.name)}`);
    }
  }
  for (const table of tables) {
    for (const con of Object.values(table.constraints ?? {})) {
      if (con.type !== 'foreign_key') await c.query(`alter table ${quoteIdent(table.schema)}.${quoteIdent(table.name)} drop constraint ${quoteIdent(con.name)}`);
    }
  }
  for (const index of Object.values(model.indexes)) if (!index.constraint) await c.query(`drop index ${quoteIdent(index.schema)}.${quoteIdent(index.name)}`);
  for (const table of tables) {
    const at = `alter table ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
    for (const con of Object.values(table.constraints ?? {})) {
      // Primary key and unique come back from their index, as Godwit recreates them (keeps its storage).
      if (con.type !== 'foreign_key') await c.query(`${at} add constraint ${quoteIdent(con.name)} ${con.definition}`);
    }
  }
  for (const table of tables) {
    const at = `alter table ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
    for (const con of Object.values(table.constraints ?? {})) if (con.type === 'foreign_key') await c.query(`${at} add constraint ${quoteIdent(con.name)} ${con.definition}`);
  }
  for (const index of Object.values(model.indexes)) if (!index.constraint) await c.query(index.definition);
}

/** Runs `rename` for real and, separately, the rewritten definitions; both catalogs must agree. */
async function expectFollows(rename: string, rewrite: (model: SchemaModel) => void): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query('begin');
    const model = await introspectSchema(c);
    rewrite(model);
    await c.query(rename);
    const byPostgres = await definitions(c);
    await recreate(c, model);
    expect(await definitions(c)).toEqual(byPostgres);
  } finally {
    await c.query('rollback');
    await c.end();
  }
}

beforeAll(async () => {
  await loadSqlParser();
  db = await createTestDatabase('godwit_definitions');
  await db.query(FIXTURE);
});

afterAll(async () => {
  await db?.drop();
});

describe('stored definitions follow a rename as Postgres does', () => {
  it.each(['email', 'Mixed Case', 'name', 'n', 'note', 'id', 'during'])('column %s of t', async (column) => {
    await expectFollows(`alter table t rename column ${quoteIdent(column)} to "renamed col"`, (model) => {
      for (const index of Object.values(model.indexes)) if (index.table === 'public.t') index.definition = renameInDefinition(index.definition, column, 'renamed col');
      for (const con of Object.values(model.tables['public.t']?.constraints ?? {})) renameColumnInConstraint(con, column, 'renamed col', 'local');
      for (const con of Object.values(model.tables['public.child']?.constraints ?? {})) {
        if (con.references?.table === 'public.t') renameColumnInConstraint(con, column, 'renamed col', 'referenced');
      }
    });
  });

  it('column id of parent, referenced by t', async () => {
    await expectFollows(`alter table parent rename column id to "Key"`, (model) => {
      for (const index of Object.values(model.indexes)) if (index.table === 'public.parent') index.definition = renameInDefinition(index.definition, 'id', 'Key');
      for (const con of Object.values(model.tables['public.parent']?.constraints ?? {})) renameColumnInConstraint(con, 'id', 'Key', 'local');
      for (const con of Object.values(model.tables['public.t']?.constraints ?? {})) {
        if (con.references?.table === 'public.parent') renameColumnInConstraint(con, 'id', 'Key', 'referenced');
      }
    });
  });

  it('table t, its indexes and the foreign keys that reference it', async () => {
    await expectFollows(`alter table t rename to "T two"`, (model) => {
      const from = rel('public', 't');
      const to = rel('public', 'T two');
      model.tables['public.t']!.name = 'T two';
      for (const index of Object.values(model.indexes)) if (index.table === 'public.t') index.definition = retargetTable(index.definition, from, to);
      for (const con of Object.values(model.tables['public.child']?.constraints ?? {})) con.definition = retargetTable(con.definition, from, to);
    });
  });
});
