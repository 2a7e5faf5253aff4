/**
 * The rollback tests' witness (test/helpers/witness.ts) sees what it must: it is only worth
 * something if it fails where Godwit's own proof could be wrong.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { takeWitness } from '../helpers/witness';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('godwit_witness');
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.query(`
    drop schema if exists public cascade; create schema public; drop schema if exists godwit cascade; create schema godwit;
    create table t (id int primary key, v text, n int);
    insert into t select g, 'v' || g, g from generate_series(1, 100) g;`);
});

describe('the witness of a rollback', () => {
  it('sees nothing where nothing changed', async () => {
    const w = await takeWitness(db.url);
    await db.query(`update t set v = v where id < 10`);
    expect(await w.differences()).toEqual([]);
  });

  it('sees a changed value, and a row duplicated, that a count would miss', async () => {
    const w = await takeWitness(db.url);
    await db.query(`alter table t drop constraint t_pkey; update t set v = 'x' where id = 1; insert into t select * from t where id = 2; delete from t where id = 3`);
    const differences = await w.differences();
    expect(differences).toContain('data of "public"."t": 2 rows only after, 2 rows only before');
    expect(differences.some((d) => d.startsWith('schema, only before: ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);'))).toBe(true);
  });

  it('sees a schema change, in a default or an index, and not in godwit\'s own schemas', async () => {
    const w = await takeWitness(db.url);
    await db.query(`alter table t alter column n set default 0; create index t_v_idx on t (v); create table godwit.ledger (id int)`);
    expect(await w.differences()).toEqual([
      'schema, only before: CREATE TABLE public.t (\n    id integer NOT NULL\n    n integer\n    v text\n);\n\n\nALTER TABLE public.t OWNER TO postgres;',
      'schema, only after: CREATE INDEX t_v_idx ON public.t USING btree (v);',
      'schema, only after: CREATE TABLE public.t (\n    id integer NOT NULL\n    n integer DEFAULT 0\n    v text\n);\n\n\nALTER TABLE public.t OWNER TO postgres;',
    ]);
  });

  it('leaves column order out: a column re-added at the end, with its values, is the same table', async () => {
    const w = await takeWitness(db.url);
    await db.query(`alter table t rename column v to v_old; alter table t add column v text; update t set v = v_old; alter table t drop column v_old`);
    expect(await w.differences()).toEqual([]);
  });
});
