/**
 * Stored definitions and sql steps read with the Postgres parser, not with regular
 * expressions: a word inside a string, a comment, a quoted identifier or a dollar quote is
 * not the identifier or the statement it spells.
 */
import { describe, expect, it } from 'vitest';
import type { ConstraintModel } from '../../src/db/schema-model';
import {
  concurrentIndexDefinition,
  mentionsColumn,
  readIndexDefinition,
  renameColumnInConstraint,
  renameIndexInDefinition,
  renameInDefinition,
  retargetTable,
} from '../../src/operations/definitions';
import { lintCodes, only, plan, sqlOf, usersSchema } from './operations-fixtures';
import { rel } from '../../src/operations/model';

describe('renaming a column in a stored definition', () => {
  it.each<[string, string, string, string, string]>([
    [
      'not inside a string',
      `CREATE INDEX i ON public.users USING btree (email) WHERE (note <> 'email'::text)`,
      'email',
      'mail',
      `CREATE INDEX i ON public.users USING btree ("mail") WHERE (note <> 'email'::text)`,
    ],
    [
      'not inside a dollar quote',
      'CREATE INDEX i ON public.users USING btree (email) WHERE (note <> $$an email here$$)',
      'email',
      'mail',
      'CREATE INDEX i ON public.users USING btree ("mail") WHERE (note <> $$an email here$$)',
    ],
    [
      'not inside another, quoted identifier',
      'CREATE INDEX i ON public.users USING btree ("x email y", email)',
      'email',
      'mail',
      'CREATE INDEX i ON public.users USING btree ("x email y", "mail")',
    ],
    [
      'the quoted identifier itself, and not the bare one that folds to another name',
      'CREATE INDEX i ON public.users USING btree ("Email", email)',
      'Email',
      'mail',
      'CREATE INDEX i ON public.users USING btree ("mail", email)',
    ],
    [
      'not inside a comment',
      'CHECK ((score > 0) /* score is positive */)',
      'score',
      'points',
      'CHECK (("points" > 0) /* score is positive */)',
    ],
    [
      'not a function of the same name, and the column where it is qualified by its table',
      'CHECK (((lower(lower) = users.lower) AND (upper <> lower)))',
      'lower',
      'low',
      'CHECK (((lower("low") = users."low") AND (upper <> "low")))',
    ],
    [
      'in an expression key, INCLUDE and WHERE, keeping casts and ordering',
      'CREATE UNIQUE INDEX i ON public.users USING btree (lower((email)::text) DESC NULLS LAST, id) INCLUDE (email) WHERE (email IS NOT NULL)',
      'email',
      'mail',
      'CREATE UNIQUE INDEX i ON public.users USING btree (lower(("mail")::text) DESC NULLS LAST, id) INCLUDE ("mail") WHERE ("mail" IS NOT NULL)',
    ],
    [
      'a column called like a keyword, in an exclusion constraint',
      'EXCLUDE USING gist (room WITH =, during WITH &&) WHERE ((NOT cancelled))',
      'during',
      'period',
      'EXCLUDE USING gist (room WITH =, "period" WITH &&) WHERE ((NOT cancelled))',
    ],
    [
      'in a unique constraint and its INCLUDE',
      'UNIQUE NULLS NOT DISTINCT (a, email) INCLUDE (email)',
      'email',
      'mail',
      'UNIQUE NULLS NOT DISTINCT (a, "mail") INCLUDE ("mail")',
    ],
    [
      'non-ASCII names, counted in bytes by the parser',
      'CREATE INDEX "größe_idx" ON public."Maße" USING btree ("größe") WHERE ("größe" > 0)',
      'größe',
      'weite',
      'CREATE INDEX "größe_idx" ON public."Maße" USING btree ("weite") WHERE ("weite" > 0)',
    ],
  ])('%s', (_name, definition, from, to, expected) => {
    expect(renameInDefinition(definition, from, to)).toBe(expected);
  });

  it("changes only a foreign key's own columns, or only those it references", () => {
    const fk = (): ConstraintModel => ({
      name: 'fk',
      type: 'foreign_key',
      definition: 'FOREIGN KEY (id) REFERENCES public.users(id) ON DELETE CASCADE',
      columns: ['id'],
      valid: true,
      references: { table: 'public.users', columns: ['id'] },
    });
    const local = fk();
    renameColumnInConstraint(local, 'id', 'user_id', 'local');
    expect(local).toMatchObject({ definition: 'FOREIGN KEY ("user_id") REFERENCES public.users(id) ON DELETE CASCADE', columns: ['user_id'], references: { columns: ['id'] } });
    const setNull = { ...fk(), definition: 'FOREIGN KEY (org, id) REFERENCES public.users(org, id) ON DELETE SET NULL (id)' };
    renameColumnInConstraint(setNull, 'id', 'user_id', 'local');
    expect(setNull.definition).toBe('FOREIGN KEY (org, "user_id") REFERENCES public.users(org, id) ON DELETE SET NULL ("user_id")');
    const referenced = fk();
    renameColumnInConstraint(referenced, 'id', 'key', 'referenced');
    expect(referenced).toMatchObject({ definition: 'FOREIGN KEY (id) REFERENCES public.users("key") ON DELETE CASCADE', columns: ['id'], references: { columns: ['key'] } });
  });
});

describe('reading an index definition', () => {
  it('finds a column where the definition uses it, and not where a string or another name spells it', () => {
    const definition = `CREATE INDEX i ON public.users USING btree ("x email y") WHERE (note <> 'email'::text)`;
    expect(mentionsColumn(definition, 'email')).toBe(false);
    expect(mentionsColumn(definition, 'note')).toBe(true);
    expect(mentionsColumn(definition, 'x email y')).toBe(true);
  });

  it('tells plain keys from expressions, INCLUDE and the predicate', () => {
    expect(readIndexDefinition(`CREATE UNIQUE INDEX i ON public.t USING btree (a text_pattern_ops DESC, lower(b), (c + d)) INCLUDE (e) NULLS NOT DISTINCT WHERE (f AND g.h <> 'NULLS NOT DISTINCT')`)).toEqual({
      keys: [{ column: 'a', reads: [] }, { reads: ['b'] }, { reads: ['c', 'd'] }],
      included: ['e'],
      predicate: ['f', 'h'],
      nullsNotDistinct: true,
    });
    expect(readIndexDefinition(`CREATE UNIQUE INDEX i ON public.t USING btree (a) WHERE (b <> 'NULLS NOT DISTINCT')`).nullsNotDistinct).toBe(false);
  });
});

describe('renaming a table or an index in a stored definition', () => {
  it('retargets ON and REFERENCES, and not a string that spells the table', () => {
    const from = rel('public', 'users');
    const to = rel('public', 'accounts');
    expect(retargetTable(`CREATE INDEX i ON public.users USING btree (a) WHERE (kind <> 'public.users'::text)`, from, to)).toBe(
      `CREATE INDEX i ON "public"."accounts" USING btree (a) WHERE (kind <> 'public.users'::text)`,
    );
    expect(retargetTable('CREATE INDEX i ON ONLY public.users USING btree (a)', from, to)).toBe('CREATE INDEX i ON ONLY "public"."accounts" USING btree (a)');
    expect(retargetTable('FOREIGN KEY (user_id) REFERENCES public.users(id)', from, to)).toBe('FOREIGN KEY (user_id) REFERENCES "public"."accounts"(id)');
    expect(retargetTable('FOREIGN KEY (user_id) REFERENCES billing.users(id)', from, to)).toBe('FOREIGN KEY (user_id) REFERENCES billing.users(id)');
  });

  it('renames the index, however its name is spelt, and makes it concurrent once', () => {
    expect(renameIndexInDefinition('CREATE INDEX "on ""x"" ON" ON public.t USING btree (a)', 'new')).toBe('CREATE INDEX "new" ON public.t USING btree (a)');
    expect(renameIndexInDefinition('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON public.t (a)', 'new')).toBe('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "new" ON public.t (a)');
    expect(concurrentIndexDefinition('CREATE UNIQUE INDEX index ON public.t USING btree (a)')).toBe('CREATE UNIQUE INDEX CONCURRENTLY index ON public.t USING btree (a)');
    expect(concurrentIndexDefinition('CREATE INDEX CONCURRENTLY i ON public.t USING btree (a)')).toBe('CREATE INDEX CONCURRENTLY i ON public.t USING btree (a)');
  });
});

describe('a rename followed by a drop in one manifest', () => {
  it('recreates the index with the new column name and its string untouched', () => {
    const schema = usersSchema();
    schema.indexes['public.users_email_idx']!.definition = `CREATE INDEX users_email_idx ON public.users USING btree (email) WHERE (name <> 'email'::text)`;
    const steps = plan([{ rename_column: { table: 'users', from: 'email', to: 'mail' } }, { drop_index: { name: 'users_email_idx' } }], schema);
    expect(sqlOf(steps[1]?.inverse)).toEqual([`CREATE INDEX users_email_idx ON public.users USING btree ("mail") WHERE (name <> 'email'::text)`]);
  });
});

describe('an sql step, read by its statements rather than its words', () => {
  it.each<[string, string]>([
    ['a string that says vacuum', "update users set name = 'vacuum later' where id = 1"],
    ['a comment that says concurrently', '-- not concurrently: this runs in the transaction\nupdate users set name = null where id = 1'],
    ['a dollar quote that says create database', 'update users set name = $$create database x$$ where id = 1'],
    ['a quoted identifier called vacuum', 'update users set "vacuum" = 1 where id = 1'],
    ['ANALYZE, which runs in a transaction', 'analyze users'],
  ])('runs in a transaction with %s', (_name, up) => {
    expect(lintCodes(only({ sql: { up, down: 'select 1' } }))).not.toContain('error:needs_no_transaction');
  });

  it.each<[string, string]>([
    ['CREATE INDEX CONCURRENTLY', 'create index concurrently i on users (name)'],
    ['VACUUM', 'vacuum users'],
    ['VACUUM as the second statement', 'select 1; vacuum (analyze) users'],
    ['DROP INDEX CONCURRENTLY', 'drop index concurrently users_email_idx'],
    ['REINDEX CONCURRENTLY', 'reindex index concurrently users_email_idx'],
    ['DETACH PARTITION CONCURRENTLY', 'alter table users detach partition users_old concurrently'],
    ['CREATE DATABASE', 'create database other'],
    ['ALTER SYSTEM', "alter system set work_mem = '64MB'"],
  ])('needs no transaction for %s', (_name, up) => {
    expect(lintCodes(only({ sql: { up, down: 'select 1' } }))).toContain('error:needs_no_transaction');
  });

  it('logs the rows of SQL whose string says truncate, and copies the table only where it truncates', () => {
    const step = only({ sql: { up: "update users set name = 'truncate me' where id = 1" } });
    expect(lintCodes(step)).toContain('info:restored_from_change_log');
    expect(lintCodes(only({ sql: { up: 'truncate users' } }))).toContain('warning:restored_from_snapshot');
  });
});
