/**
 * drop_column and drop_table retire what they drop (rename it out of the application's way,
 * rename it back on rollback), and copy it under a write lock only where retiring cannot work.
 */
import { describe, expect, it } from 'vitest';
import type { SchemaModel, TableModel } from '../../src/db/schema-model';
import { last, lintCodes, only, planError, sqlOf, usersSchema } from './operations-fixtures';

const USERS = 'ALTER TABLE "public"."users"';
const LOCK = 'LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE';
const guard = (column: string) => `SELECT "godwit".refuse_drop_column('"public"."users"', '${column}')`;
const RENAME = (column: string) => `${USERS} RENAME COLUMN "${column}" TO {{retired:0}}`;
const BACK = (column: string) => `${USERS} RENAME COLUMN {{retired:0}} TO "${column}"`;

/** usersSchema() with `change` applied to public.users. */
function users(change: (t: TableModel, s: SchemaModel) => void): SchemaModel {
  const schema = usersSchema();
  change(schema.tables['public.users']!, schema);
  return schema;
}

const index = (name: string, definition: string, unique = true) => ({ schema: 'public', name, table: 'public.users', definition, unique, valid: true, constraint: false });

describe('drop_column retires the column', () => {
  it('renames a nullable column out of the way and back, and records it for the executor', () => {
    const step = only({ drop_column: { table: 'users', column: 'email' } });
    expect(sqlOf(step.forward)).toEqual([LOCK, guard('email'), RENAME('email')]);
    expect(sqlOf(step.inverse)).toEqual([BACK('email')]);
    expect(step.retire).toEqual([{ kind: 'column', schema: 'public', table: 'users', column: 'email' }]);
    expect(step.snapshots).toBeUndefined();
    expect(step.touches).toEqual(['public.users']);
    expect(step.risk).toBe('high');
  });

  it('says in the plan what a retired column still does until it is purged, and when that is', () => {
    const retired = only({ drop_column: { table: 'users', column: 'email' } }).lint.find((l) => l.code === 'retired');
    expect(retired?.message).toBe(
      'column users.email is renamed to a retired name (_godwit_retired_<16 hex>) instead of being dropped. Rolling back renames it back. ' +
        'Until it is purged it is still there for Postgres: it shows in select *, positional INSERTs and ORM introspection, its indexes are still maintained ' +
        'and their names stay taken. `godwit snapshots prune` purges it once the migration is applied and its retention (policy.retention, default 14 days) has ended',
    );
  });

  it('keeps a NOT NULL column with a default as it is: new rows get the default', () => {
    const schema = users((t) => (t.columns.name = { name: 'name', type: 'text', nullable: false, default: "'anon'::text" }));
    const step = only({ drop_column: { table: 'users', column: 'name' } }, schema);
    expect(sqlOf(step.forward)).toEqual([LOCK, guard('name'), RENAME('name')]);
    expect(sqlOf(step.inverse)).toEqual([BACK('name')]);
    expect(step.lint.find((l) => l.code === 'retired')?.message).toMatch(/instead of being dropped; rows inserted meanwhile get its default 'anon'::text\. /);
  });

  it("relaxes NOT NULL without a default while retired, and on rollback first counts the application's NULLs", () => {
    const schema = users((t) => (t.columns.name = { name: 'name', type: 'text', nullable: false, default: null }));
    const step = only({ drop_column: { table: 'users', column: 'name' } }, schema);
    expect(sqlOf(step.forward)).toEqual([LOCK, guard('name'), RENAME('name'), `${USERS} ALTER COLUMN {{retired:0}} DROP NOT NULL`]);
    const inverse = sqlOf(step.inverse)!;
    expect(inverse).toHaveLength(3);
    expect([inverse[1], inverse[2]]).toEqual([BACK('name'), `${USERS} ALTER COLUMN "name" SET NOT NULL`]);
    expect(inverse[0]).toMatch(/^DO '\ndeclare n bigint;\nbegin\n {2}select count\(\*\) into n from "public"\."users" where \{\{retired:0\}\} is null;/);
    expect(inverse[0]).toContain("cannot restore NOT NULL column users.name: '' || n || '' rows inserted while it was retired have no value in it (NULL in {{retired:0}})");
    expect(inverse[0]).toContain('fill them (UPDATE "public"."users" SET {{retired:0}} = <value> WHERE {{retired:0}} IS NULL) and run godwit retry-rollback');
    expect(inverse[0]).toContain('give drop_column a down');
    expect(lintCodes(step)).toEqual(['warning:destructive', 'info:retired', 'warning:not_null_relaxed']);
  });

  it('gives rows inserted while retired the value of down instead, and puts the previous default back', () => {
    const notNull = users((t) => (t.columns.name = { name: 'name', type: 'text', nullable: false, default: null }));
    const step = only({ drop_column: { table: 'users', column: 'name', down: "''" } }, notNull);
    expect(sqlOf(step.forward)).toEqual([LOCK, guard('name'), RENAME('name'), `${USERS} ALTER COLUMN {{retired:0}} SET DEFAULT ''`]);
    expect(sqlOf(step.inverse)).toEqual([BACK('name'), `${USERS} ALTER COLUMN "name" DROP DEFAULT`]);
    expect(lintCodes(step)).toEqual(['warning:destructive', 'info:retired']);

    const withDefault = users((t) => (t.columns.name = { name: 'name', type: 'text', nullable: true, default: "'x'::text" }));
    expect(sqlOf(only({ drop_column: { table: 'users', column: 'name', down: "'gone'" } }, withDefault).inverse)).toEqual([
      BACK('name'),
      `${USERS} ALTER COLUMN "name" SET DEFAULT 'x'::text`,
    ]);
  });

  it.each<[string, Partial<import('../../src/db/schema-model').ColumnModel>]>([
    ['an identity column', { identity: 'always', nullable: false }],
    ['a generated column', { generated: '(id * 2)' }],
  ])('retires %s as it is: Postgres computes its value for new rows, so down does not apply', (_what, shape) => {
    const schema = users((t) => (t.columns.n = { name: 'n', type: 'bigint', nullable: true, default: null, ...shape }));
    expect(sqlOf(only({ drop_column: { table: 'users', column: 'n' } }, schema).forward)).toEqual([LOCK, guard('n'), RENAME('n')]);
    const error = planError([{ drop_column: { table: 'users', column: 'n', down: '0' } }], schema);
    expect(error.message).toMatch(/^column users\.n is an? (identity|generated) column: Postgres computes its value for new rows, so down does not apply$/);
  });

  it('warns that a foreign key on the retired column is still enforced, and how to avoid that', () => {
    const schema = users((t) => {
      t.columns.org = { name: 'org', type: 'bigint', nullable: true, default: null };
      t.constraints!.users_org_fk = { name: 'users_org_fk', type: 'foreign_key', definition: 'FOREIGN KEY (org) REFERENCES billing.invoices(id)', columns: ['org'], valid: true, references: { table: 'billing.invoices', columns: ['id'] } };
    });
    const step = only({ drop_column: { table: 'users', column: 'org' } }, schema);
    expect(step.retire).toHaveLength(1);
    expect(step.lint.find((l) => l.code === 'retired_foreign_key')?.message).toMatch(/^foreign key users_org_fk is still enforced until it is purged: .*drop it first with drop_constraint/);
  });

  it('warns that a check reading the column must accept the down value', () => {
    const schema = users((t) => {
      t.columns.name = { name: 'name', type: 'text', nullable: false, default: null };
      t.constraints!.name_long = { name: 'name_long', type: 'check', definition: 'CHECK ((length(name) > 2))', columns: ['name'], valid: true };
    });
    const step = only({ drop_column: { table: 'users', column: 'name', down: "'???'" } }, schema);
    expect(step.retire).toHaveLength(1);
    expect(step.lint.find((l) => l.code === 'down_checked')?.message).toBe("check name_long reads users.name: rows inserted while it is retired get '???', which it must accept");
  });

  it.each<[string, (t: TableModel, s: SchemaModel) => void]>([
    ['in an ordinary unique index, new rows getting NULL', (_t, s) => (s.indexes['public.users_name_key'] = index('users_name_key', 'CREATE UNIQUE INDEX users_name_key ON public.users USING btree (email, name text_pattern_ops DESC)'))],
    [
      'in a unique index, new rows getting a value of their own',
      (t, s) => {
        t.columns.name = { name: 'name', type: 'uuid', nullable: false, default: 'gen_random_uuid()' };
        s.indexes['public.users_name_key'] = index('users_name_key', 'CREATE UNIQUE INDEX users_name_key ON public.users USING btree (name)');
      },
    ],
    ['only included in a NULLS NOT DISTINCT index', (_t, s) => (s.indexes['public.users_email_key'] = index('users_email_key', 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email) INCLUDE (name) NULLS NOT DISTINCT'))],
    ['read by a check, nullable', (t) => (t.constraints!.name_check = { name: 'name_check', type: 'check', definition: "CHECK ((name <> ''::text))", columns: ['name'], valid: true })],
  ])('retires a column %s', (_what, change) => {
    const step = only({ drop_column: { table: 'users', column: 'name' } }, users(change));
    expect(step.retire).toHaveLength(1);
    expect(step.snapshots).toBeUndefined();
  });
});

describe('drop_column copies instead, under a write lock, where retiring cannot work', () => {
  it.each<[string, (t: TableModel, s: SchemaModel) => void, string, string]>([
    [
      'in the primary key',
      (t) => {
        t.constraints!.users_pkey = { name: 'users_pkey', type: 'primary_key', definition: 'PRIMARY KEY (id, name)', columns: ['id', 'name'], valid: true, index: 'users_pkey' };
        t.constraints!.users_id_key = { name: 'users_id_key', type: 'unique', definition: 'UNIQUE (id)', columns: ['id'], valid: true, index: 'users_id_key' };
      },
      'name',
      'it is in the primary key users_pkey, which rows inserted without it would violate',
    ],
    [
      'in the replica identity index',
      (t, s) => {
        t.replicaIdentity = 'index';
        t.replicaIdentityIndex = 'users_name_key';
        s.indexes['public.users_name_key'] = index('users_name_key', 'CREATE UNIQUE INDEX users_name_key ON public.users USING btree (name)');
      },
      'name',
      'it is in the replica identity index users_name_key, which cannot hold NULL',
    ],
    [
      'of a published table',
      (t) => (t.publications = ['cdc', 'audit']),
      'name',
      'users is published (publication cdc, audit): logical replication would send the renamed column to subscribers, which do not have it',
    ],
    [
      'in a NULLS NOT DISTINCT unique index',
      (_t, s) => (s.indexes['public.users_name_key'] = index('users_name_key', 'CREATE UNIQUE INDEX users_name_key ON public.users USING btree (email, name) NULLS NOT DISTINCT')),
      'name',
      'it is in users_name_key, which is NULLS NOT DISTINCT, so the NULLs of rows inserted without it would collide',
    ],
    [
      'in a unique index, new rows all getting its default',
      (t, s) => {
        t.columns.name = { name: 'name', type: 'text', nullable: false, default: "''::text" };
        s.indexes['public.users_name_key'] = index('users_name_key', 'CREATE UNIQUE INDEX users_name_key ON public.users USING btree (name)');
      },
      'name',
      "it is in users_name_key, and rows inserted without it would all get ''::text and collide",
    ],
    [
      'used by a unique index in an expression',
      (_t, s) => (s.indexes['public.users_name_key'] = index('users_name_key', "CREATE UNIQUE INDEX users_name_key ON public.users USING btree (COALESCE(name, ''::text))")),
      'name',
      'users_name_key uses it in an expression or predicate, where the value rows inserted without it get may collide',
    ],
    [
      "in a unique index's predicate",
      (_t, s) => (s.indexes['public.users_email_key'] = index('users_email_key', 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email) WHERE (name IS NULL)')),
      'name',
      'users_email_key uses it in an expression or predicate, where the value rows inserted without it get may collide',
    ],
    [
      'NOT NULL without a default, read by a check',
      (t) => {
        t.columns.name = { name: 'name', type: 'text', nullable: false, default: null };
        t.constraints!.name_check = { name: 'name_check', type: 'check', definition: "CHECK ((name <> ''::text))", columns: ['name'], valid: true };
      },
      'name',
      'it is NOT NULL without a default, so it would hold NULL for rows inserted while it is retired, which check name_check may refuse (give drop_column a down that name_check accepts)',
    ],
  ])('a column %s', (_what, change, columnName, why) => {
    const step = only({ drop_column: { table: 'users', column: columnName } }, users(change));
    expect(step.retire).toBeUndefined();
    expect(sqlOf(step.forward)).toEqual([`${USERS} DROP COLUMN "${columnName}"`]);
    expect(step.snapshots).toEqual([{ kind: 'columns', schema: 'public', table: 'users', key: ['id'], columns: [columnName] }]);
    expect(step.blocksWrites).toEqual({ lock: 'SHARE', table: 'public.users', reason: `copies the values of users.${columnName} into a snapshot before dropping it` });
    expect(step.lint.find((l) => l.code === 'copy_under_lock')?.message).toBe(
      `column users.${columnName} cannot be retired: ${why}. Its data is copied into a snapshot instead, in the step's transaction, and writes to users wait for the length of the copy`,
    );
  });

  it('says how big the table whose writes wait is, when the catalog says', () => {
    const schema = users((t, s) => {
      t.publications = ['cdc'];
      s.sizes = { 'public.users': { rows: 1_000_000, bytes: 248 * 1024 * 1024 } };
    });
    expect(only({ drop_column: { table: 'users', column: 'name' } }, schema).lint.find((l) => l.code === 'copy_under_lock')?.message).toMatch(
      /, and writes to users \(~1,000,000 rows, 248 MB\) wait for the length of the copy$/,
    );
  });

  it('just drops a column the same manifest added: rolling back the add drops it anyway', () => {
    const step = last([{ add_column: { table: 'users', column: { name: 'x', type: 'int' } } }, { drop_column: { table: 'users', column: 'x' } }]);
    expect([sqlOf(step.forward), step.retire, step.snapshots]).toEqual([['ALTER TABLE "public"."users" DROP COLUMN "x"'], undefined, undefined]);
  });

  it('offline, retires and leaves the inverse to the catalog at apply time', () => {
    const step = only({ drop_column: { table: 'users', column: 'email', down: "''" } }, 'offline');
    expect(sqlOf(step.forward)).toEqual([LOCK, guard('email'), RENAME('email'), `${USERS} ALTER COLUMN {{retired:0}} SET DEFAULT ''`]);
    expect(step.inverse).toBeNull();
    expect(step.retire).toHaveLength(1);
  });
});

describe('planning after a retired column', () => {
  it('can add a column of the same name again', () => {
    const step = last([{ drop_column: { table: 'users', column: 'email' } }, { add_column: { table: 'users', column: { name: 'email', type: 'citext' } } }]);
    expect(sqlOf(step.forward)).toEqual(['ALTER TABLE "public"."users" ADD COLUMN "email" citext']);
  });
});

describe('drop_table retires the table', () => {
  /** usersSchema() where users has an identity and a serial column, a unique constraint and a foreign key. */
  const withSequences = () =>
    users((t, s) => {
      t.columns.id = { name: 'id', type: 'bigint', nullable: false, default: null, identity: 'always' };
      t.columns.n = { name: 'n', type: 'integer', nullable: false, default: "nextval('public.users_n_seq'::regclass)" };
      t.sequences = {
        id: { schema: 'public', name: 'users_id_seq', type: 'bigint', start: '1', increment: '1', min: '1', max: '9223372036854775807', cache: '1', cycle: false },
        n: { schema: 'public', name: 'users_n_seq', type: 'integer', start: '1', increment: '1', min: '1', max: '2147483647', cache: '1', cycle: false },
      };
      t.constraints!.users_org_fk = { name: 'users_org_fk', type: 'foreign_key', definition: 'FOREIGN KEY (n) REFERENCES billing.invoices(id)', columns: ['n'], valid: true, references: { table: 'billing.invoices', columns: ['id'] } };
      s.indexes['public.users_email_key'] = index('users_email_key', 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)');
    });

  it('renames its indexes and sequences (they move with it), moves it into godwit_retired, and all of it back', () => {
    const step = only({ drop_table: { table: 'users' } }, withSequences());
    expect(sqlOf(step.forward)).toEqual([
      LOCK,
      `SELECT "godwit".refuse_drop_table('"public"."users"')`,
      'ALTER INDEX "public"."users_email_idx" RENAME TO {{retired:1}}',
      'ALTER INDEX "public"."users_pkey" RENAME TO {{retired:2}}',
      'ALTER INDEX "public"."users_email_key" RENAME TO {{retired:3}}',
      'ALTER SEQUENCE "public"."users_id_seq" RENAME TO {{retired:4}}',
      'ALTER SEQUENCE "public"."users_n_seq" RENAME TO {{retired:5}}',
      `${USERS} RENAME TO {{retired:0}}`,
      'ALTER TABLE "public".{{retired:0}} SET SCHEMA "godwit_retired"',
    ]);
    expect(sqlOf(step.inverse)).toEqual([
      'ALTER TABLE "godwit_retired".{{retired:0}} SET SCHEMA "public"',
      'ALTER TABLE "public".{{retired:0}} RENAME TO "users"',
      'ALTER INDEX "public".{{retired:1}} RENAME TO "users_email_idx"',
      'ALTER INDEX "public".{{retired:2}} RENAME TO "users_pkey"',
      'ALTER INDEX "public".{{retired:3}} RENAME TO "users_email_key"',
      'ALTER SEQUENCE "public".{{retired:4}} RENAME TO "users_id_seq"',
      'ALTER SEQUENCE "public".{{retired:5}} RENAME TO "users_n_seq"',
    ]);
    expect(step.retire).toEqual([{ kind: 'table', schema: 'public', table: 'users' }]);
    expect(step.snapshots).toBeUndefined();
    expect(lintCodes(step)).toEqual(['warning:destructive', 'info:retired', 'warning:retired_foreign_key']);
    expect(step.lint.find((l) => l.code === 'retired')?.message).toMatch(/^table users is moved into schema godwit_retired under a retired name, .* Until it is purged it keeps its disk space and its foreign keys to other tables\./);
  });

  it('retires the table however it is shaped: Postgres keeps owned sequences in their table\'s schema, so they come back with it', () => {
    const step = only({ drop_table: { table: 'billing.invoices' } });
    expect(step.retire).toEqual([{ kind: 'table', schema: 'billing', table: 'invoices' }]);
    expect(step.snapshots).toBeUndefined();
  });

  it('refuses a table with inheritance children, as DROP TABLE would', () => {
    const schema = usersSchema();
    schema.tables['public.users_2025'] = { schema: 'public', name: 'users_2025', columns: {}, inherits: ['public.users'] };
    const error = planError([{ drop_table: { table: 'users' } }], schema);
    expect(error.message).toBe('table users has inheritance children (users_2025), so DROP TABLE would refuse it');
    expect(error.hint).toMatch(/drop the children first/);
  });
});
