/**
 * Destructive kinds declare the snapshots their inverse restores from (drop_table and
 * drop_column only where they cannot retire what they drop: operations-retire.test.ts);
 * drop_enum and drop_view recreate from the model.
 */
import { describe, expect, it } from 'vitest';
import type { SchemaModel, TableModel } from '../../src/db/schema-model';
import { knownKinds } from '../../src/operations';
import { rel } from '../../src/operations/model';
import { recreateTableSql } from '../../src/operations/recreate';
import { digestShapes, last, lintCodes, only, plan, planError, sqlOf, usersSchema } from './operations-fixtures';

/**
 * usersSchema() plus `accounts`, a table with everything a recreate must bring back: a
 * serial key, an identity, a generated column, a collation, defaults, constraints
 * (one NOT VALID, one deferrable self-reference), an index with storage parameters,
 * replica identity, comments, a disabled trigger, grants and table options.
 */
function withAccounts(): SchemaModel {
  const schema = usersSchema();
  const accounts: TableModel = {
    schema: 'public',
    name: 'accounts',
    columns: {
      id: { name: 'id', type: 'integer', nullable: false, default: "nextval('public.accounts_id_seq'::regclass)" },
      ticket: { name: 'ticket', type: 'bigint', nullable: false, default: null, identity: 'always' },
      email: { name: 'email', type: 'character varying(200)', nullable: false, default: "'x'::character varying", collation: 'pg_catalog."C"', comment: 'login' },
      doubled: { name: 'doubled', type: 'integer', nullable: true, default: null, generated: '(id * 2)' },
      parent_id: { name: 'parent_id', type: 'integer', nullable: true, default: null },
      note: { name: 'note', type: 'text', nullable: true, default: null },
    },
    constraints: {
      accounts_pkey: { name: 'accounts_pkey', type: 'primary_key', definition: 'PRIMARY KEY (id)', columns: ['id'], valid: true, index: 'accounts_pkey' },
      accounts_parent_fk: {
        name: 'accounts_parent_fk',
        type: 'foreign_key',
        definition: 'FOREIGN KEY (parent_id) REFERENCES public.accounts(id) DEFERRABLE INITIALLY DEFERRED',
        columns: ['parent_id'],
        valid: true,
        references: { table: 'public.accounts', columns: ['id'] },
      },
      accounts_note_check: { name: 'accounts_note_check', type: 'check', definition: 'CHECK ((length(note) < 1000)) NOT VALID', columns: ['note'], valid: false },
    },
    sequences: {
      id: { schema: 'public', name: 'accounts_id_seq', type: 'integer', start: '1', increment: '1', min: '1', max: '2147483647', cache: '1', cycle: false },
      ticket: { schema: 'public', name: 'accounts_ticket_seq', type: 'bigint', start: '100', increment: '5', min: '1', max: '9223372036854775807', cache: '1', cycle: false },
    },
    comment: 'who pays',
    replicaIdentity: 'index',
    replicaIdentityIndex: 'accounts_email_idx',
    options: ['fillfactor=80'],
    triggers: { accounts_t: { name: 'accounts_t', definition: 'CREATE TRIGGER accounts_t BEFORE UPDATE ON public.accounts FOR EACH ROW EXECUTE FUNCTION public.trg()', enabled: 'disabled' } },
    grants: [
      { grantee: null, privilege: 'SELECT', grantable: false },
      { grantee: 'Reader', privilege: 'UPDATE', grantable: true },
    ],
  };
  schema.tables['public.accounts'] = accounts;
  const index = (name: string, definition: string, constraint: boolean) => ({ schema: 'public', name, table: 'public.accounts', definition, unique: true, valid: true, constraint });
  schema.indexes['public.accounts_pkey'] = index('accounts_pkey', 'CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)', true);
  schema.indexes['public.accounts_email_idx'] = index('accounts_email_idx', "CREATE UNIQUE INDEX accounts_email_idx ON public.accounts USING btree (email) WITH (fillfactor='70')", false);
  return schema;
}

const ACCOUNTS = 'ALTER TABLE "public"."accounts"';

/** `schema` with `tables` published: logical replication would carry a retired column, so drop_column copies instead. */
function published(schema: SchemaModel, ...tables: string[]): SchemaModel {
  for (const key of tables) schema.tables[key]!.publications = ['cdc'];
  return schema;
}

describe('drop_table', () => {
  it('recreates a table from everything the model knows, indexes and constraints after the columns', () => {
    // Only a table the same manifest created is ever dropped and recreated (empty); any other is retired.
    const schema = withAccounts();
    expect(sqlOf(recreateTableSql(schema, rel('public', 'accounts'), schema.tables['public.accounts']!))).toEqual([
      'CREATE SEQUENCE "public"."accounts_id_seq" AS integer INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1 NO CYCLE',
      'CREATE TABLE "public"."accounts" (\n' +
        `  "id" integer DEFAULT nextval('public.accounts_id_seq'::regclass) NOT NULL,\n` +
        '  "ticket" bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME "public"."accounts_ticket_seq" INCREMENT BY 5 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 100 CACHE 1 NO CYCLE) NOT NULL,\n' +
        `  "email" character varying(200) COLLATE pg_catalog."C" DEFAULT 'x'::character varying NOT NULL,\n` +
        '  "doubled" integer GENERATED ALWAYS AS ((id * 2)) STORED,\n' +
        '  "parent_id" integer,\n' +
        '  "note" text\n' +
        ') WITH (fillfactor=80)',
      'ALTER SEQUENCE "public"."accounts_id_seq" OWNED BY "public"."accounts"."id"',
      "CREATE UNIQUE INDEX accounts_email_idx ON public.accounts USING btree (email) WITH (fillfactor='70')",
      'CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)',
      `${ACCOUNTS} ADD CONSTRAINT "accounts_pkey" PRIMARY KEY USING INDEX "accounts_pkey"`,
      `${ACCOUNTS} ADD CONSTRAINT "accounts_note_check" CHECK ((length(note) < 1000)) NOT VALID`,
      `${ACCOUNTS} ADD CONSTRAINT "accounts_parent_fk" FOREIGN KEY (parent_id) REFERENCES public.accounts(id) DEFERRABLE INITIALLY DEFERRED`,
      `${ACCOUNTS} REPLICA IDENTITY USING INDEX "accounts_email_idx"`,
      `COMMENT ON TABLE "public"."accounts" IS 'who pays'`,
      `COMMENT ON COLUMN "public"."accounts"."email" IS 'login'`,
      'CREATE TRIGGER accounts_t BEFORE UPDATE ON public.accounts FOR EACH ROW EXECUTE FUNCTION public.trg()',
      `${ACCOUNTS} DISABLE TRIGGER "accounts_t"`,
      'GRANT SELECT ON TABLE "public"."accounts" TO PUBLIC',
      'GRANT UPDATE ON TABLE "public"."accounts" TO "Reader" WITH GRANT OPTION',
    ]);
  });

  it('recreates a table the same manifest created without data: its own inverse drops it', () => {
    const step = last([
      { create_table: { table: 't', columns: [{ name: 'id', type: 'bigint', identity: 'by_default', primary_key: true }, { name: 'v', type: 'text', unique: true }] } },
      { drop_table: { table: 't' } },
    ]);
    expect(step.snapshots).toBeUndefined();
    expect(sqlOf(step.inverse)).toEqual([
      'CREATE TABLE "public"."t" (\n  "id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n  "v" text\n)',
      'CREATE UNIQUE INDEX "t_pkey" ON "public"."t" ("id")',
      'ALTER TABLE "public"."t" ADD CONSTRAINT "t_pkey" PRIMARY KEY USING INDEX "t_pkey"',
      'CREATE UNIQUE INDEX "t_v_key" ON "public"."t" ("v")',
      'ALTER TABLE "public"."t" ADD CONSTRAINT "t_v_key" UNIQUE USING INDEX "t_v_key"',
    ]);
  });

  it.each<[string, Partial<TableModel>, RegExp]>([
    ['partitioned', { partitioned: true }, /it is partitioned/],
    ['a partition', { partitionOf: 'public.events' }, /it is a partition of public\.events/],
    ['inheriting', { inherits: ['public.base'] }, /it inherits from public\.base/],
  ])('refuses to pretend it can restore a %s table, loudly', (_what, change, reason) => {
    const schema = usersSchema();
    Object.assign(schema.tables['public.users'] ?? {}, change);
    const step = only({ drop_table: { table: 'users' } }, schema);
    expect(step.inverse).toBeNull();
    expect(step.snapshots).toBeUndefined();
    expect(step.inverseNote).toMatch(reason);
    expect(step.lint.map((l) => `${l.level}:${l.code}`)).toEqual(['warning:destructive', 'error:not_restorable']);
  });

  it('offline, says the recreate is built from the catalog at apply time', () => {
    const step = only({ drop_table: { table: 'users' } }, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toBe('table users is not in the offline schema model; it is read from the catalog at apply time to build the inverse');
  });

  it('refuses a table another table references', () => {
    const error = planError(
      [
        { create_table: { table: 'orders', columns: [{ name: 'user_id', type: 'bigint', references: { table: 'users' } }] } },
        { drop_table: { table: 'users' } },
      ],
    );
    expect([error.message, error.path]).toEqual(['table users is referenced by foreign key orders.orders_user_id_fkey', 'operations[1].drop_table']);
    expect(error.hint).toMatch(/drop_constraint/);
  });
});

describe('hostile identifiers', () => {
  it('stay one identifier in every statement of a recreated table', () => {
    const hostile = 'x"; drop table y;--';
    const q = '"x""; drop table y;--"';
    const steps = plan([
      { create_table: { table: hostile, columns: [{ name: hostile, type: 'int', primary_key: true }, { name: 'v', type: 'text', comment: "'); drop table y;--" }] } },
      { drop_column: { table: `"${hostile.replaceAll('"', '""')}"`, column: 'v' } },
      { drop_table: { table: `"${hostile.replaceAll('"', '""')}"` } },
    ]);
    expect(sqlOf(steps[1]?.inverse)).toEqual([`ALTER TABLE "public".${q} ADD COLUMN "v" text`, `COMMENT ON COLUMN "public".${q}."v" IS '''); drop table y;--'`]);
    expect(sqlOf(steps[2]?.inverse)).toEqual([
      `CREATE TABLE "public".${q} (\n  ${q} int NOT NULL\n)`,
      `CREATE UNIQUE INDEX "x""; drop table y;--_pkey" ON "public".${q} (${q})`,
      `ALTER TABLE "public".${q} ADD CONSTRAINT "x""; drop table y;--_pkey" PRIMARY KEY USING INDEX "x""; drop table y;--_pkey"`,
    ]);
  });
});

describe('drop_column', () => {
  it('where it cannot retire the column, snapshots it with the row key', () => {
    expect(only({ drop_column: { table: 'users', column: 'email' } }, published(usersSchema(), 'public.users')).snapshots).toEqual([
      { kind: 'columns', schema: 'public', table: 'users', key: ['id'], columns: ['email'] },
    ]);
  });

  it('adds it back nullable, restores the values, then default, NOT NULL, the sequence, comment and the indexes that went with it', () => {
    // In the replica identity index: retiring it would leave NULLs there.
    const step = only({ drop_column: { table: 'accounts', column: 'email' } }, withAccounts());
    expect(step.lint.find((l) => l.code === 'copy_under_lock')?.message).toMatch(/^column accounts\.email cannot be retired: it is in the replica identity index accounts_email_idx/);
    expect(digestShapes()(sqlOf(step.inverse))).toEqual([
      `${ACCOUNTS} ADD COLUMN "email" character varying(200) COLLATE pg_catalog."C"`,
      // One rewrite puts the values back; the function returns the type without its collation.
      'ALTER TABLE {{snapshot:0}} ADD PRIMARY KEY ("id")',
      `CREATE FUNCTION "godwit_snapshots"."godwit_restore_#1"(integer) RETURNS character varying(200) LANGUAGE sql STABLE AS 'SELECT "email" FROM {{snapshot:0}} WHERE "id" = $1'`,
      `${ACCOUNTS} ALTER COLUMN "email" TYPE character varying(200) COLLATE pg_catalog."C" USING "godwit_snapshots"."godwit_restore_#1"("id")`,
      'DROP FUNCTION "godwit_snapshots"."godwit_restore_#1"(integer)',
      `${ACCOUNTS} ALTER COLUMN "email" SET DEFAULT 'x'::character varying`,
      `${ACCOUNTS} ALTER COLUMN "email" SET NOT NULL`,
      "CREATE UNIQUE INDEX accounts_email_idx ON public.accounts USING btree (email) WITH (fillfactor='70')",
      `${ACCOUNTS} REPLICA IDENTITY USING INDEX "accounts_email_idx"`,
      `COMMENT ON COLUMN "public"."accounts"."email" IS 'login'`,
    ]);
    expect(step.touches).toEqual(['public.accounts', 'public.accounts_email_idx']);
  });

  it('restores an identity column with its sequence, moved past the restored values', () => {
    const step = only({ drop_column: { table: 'accounts', column: 'ticket' } }, published(withAccounts(), 'public.accounts'));
    expect(digestShapes()(sqlOf(step.inverse))).toEqual([
      `${ACCOUNTS} ADD COLUMN "ticket" bigint`,
      'ALTER TABLE {{snapshot:0}} ADD PRIMARY KEY ("id")',
      `CREATE FUNCTION "godwit_snapshots"."godwit_restore_#1"(integer) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT "ticket" FROM {{snapshot:0}} WHERE "id" = $1'`,
      `${ACCOUNTS} ALTER COLUMN "ticket" TYPE bigint USING "godwit_snapshots"."godwit_restore_#1"("id")`,
      'DROP FUNCTION "godwit_snapshots"."godwit_restore_#1"(integer)',
      `${ACCOUNTS} ALTER COLUMN "ticket" SET NOT NULL`,
      `${ACCOUNTS} ALTER COLUMN "ticket" ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME "public"."accounts_ticket_seq" INCREMENT BY 5 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 100 CACHE 1 NO CYCLE)`,
      `SELECT setval('"public"."accounts_ticket_seq"'::regclass, max("ticket")) FROM "public"."accounts"`,
    ]);
  });

  it('re-adds the constraints that went with the column', () => {
    const step = only({ drop_column: { table: 'accounts', column: 'note' } }, published(withAccounts(), 'public.accounts'));
    expect(sqlOf(step.inverse)?.slice(5)).toEqual([`${ACCOUNTS} ADD CONSTRAINT "accounts_note_check" CHECK ((length(note) < 1000)) NOT VALID`]);
  });

  it('adds a generated column back without a snapshot: Postgres computes it', () => {
    const step = only({ drop_column: { table: 'accounts', column: 'doubled' } }, published(withAccounts(), 'public.accounts'));
    expect(step.snapshots).toBeUndefined();
    expect(lintCodes(step)).toEqual(['warning:destructive', 'info:not_retired']);
    expect(sqlOf(step.inverse)).toEqual([`${ACCOUNTS} ADD COLUMN "doubled" integer GENERATED ALWAYS AS ((id * 2)) STORED`]);
  });

  it('restores a serial key column by another key, with its sequence and the key constraint', () => {
    const schema = withAccounts();
    const accounts = schema.tables['public.accounts'];
    if (accounts?.constraints === undefined) throw new Error('fixture changed');
    delete accounts.constraints.accounts_parent_fk;
    delete accounts.columns.doubled;
    accounts.constraints.accounts_ticket_key = { name: 'accounts_ticket_key', type: 'unique', definition: 'UNIQUE (ticket)', columns: ['ticket'], valid: true, index: 'accounts_ticket_key' };
    schema.indexes['public.accounts_ticket_key'] = { schema: 'public', name: 'accounts_ticket_key', table: 'public.accounts', definition: 'CREATE UNIQUE INDEX accounts_ticket_key ON public.accounts USING btree (ticket)', unique: true, valid: true, constraint: true };
    const step = only({ drop_column: { table: 'accounts', column: 'id' } }, schema);
    expect(step.snapshots?.[0]).toMatchObject({ key: ['ticket'], columns: ['id'] });
    expect(digestShapes()(sqlOf(step.inverse))).toEqual([
      'CREATE SEQUENCE "public"."accounts_id_seq" AS integer INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1 NO CYCLE',
      `${ACCOUNTS} ADD COLUMN "id" integer`,
      'ALTER TABLE {{snapshot:0}} ADD PRIMARY KEY ("ticket")',
      `CREATE FUNCTION "godwit_snapshots"."godwit_restore_#1"(bigint) RETURNS integer LANGUAGE sql STABLE AS 'SELECT "id" FROM {{snapshot:0}} WHERE "ticket" = $1'`,
      `${ACCOUNTS} ALTER COLUMN "id" TYPE integer USING "godwit_snapshots"."godwit_restore_#1"("ticket")`,
      'DROP FUNCTION "godwit_snapshots"."godwit_restore_#1"(bigint)',
      `${ACCOUNTS} ALTER COLUMN "id" SET DEFAULT nextval('public.accounts_id_seq'::regclass)`,
      `${ACCOUNTS} ALTER COLUMN "id" SET NOT NULL`,
      'ALTER SEQUENCE "public"."accounts_id_seq" OWNED BY "public"."accounts"."id"',
      `SELECT setval('"public"."accounts_id_seq"'::regclass, max("id")) FROM "public"."accounts"`,
      'CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)',
      `${ACCOUNTS} ADD CONSTRAINT "accounts_pkey" PRIMARY KEY USING INDEX "accounts_pkey"`,
    ]);
  });

  it('needs no snapshot for a column the same manifest added', () => {
    const step = last([
      { add_column: { table: 'users', column: { name: 'x', type: 'int', nullable: false, default: '0' } } },
      { drop_column: { table: 'users', column: 'x' } },
    ]);
    expect(step.snapshots).toBeUndefined();
    expect(sqlOf(step.inverse)).toEqual([
      'ALTER TABLE "public"."users" ADD COLUMN "x" int',
      'ALTER TABLE "public"."users" ALTER COLUMN "x" SET DEFAULT 0',
      'ALTER TABLE "public"."users" ALTER COLUMN "x" SET NOT NULL',
    ]);
  });

  it('offline, leaves the inverse to the catalog', () => {
    const step = only({ drop_column: { table: 'users', column: 'email' } }, 'offline');
    expect([step.inverse, step.snapshots]).toEqual([null, undefined]);
    expect(step.inverseNote).toBe(
      'column users.email is not in the offline schema model; it is read from the catalog at apply time to build the inverse, and whether it can be retired at all (copy_under_lock says when not)',
    );
  });

  it('refuses to copy a column of a table without a key to restore it by', () => {
    const error = planError([{ drop_column: { table: 'billing.invoices', column: 'id' } }], published(usersSchema(), 'billing.invoices'));
    expect(error.message).toBe('billing.invoices has no primary key or unique NOT NULL key other than id, so the values of billing.invoices.id could not be restored on rollback');
    expect(error.hint).toBe('add a primary key first (add_constraint with primary_key)');
  });

  it.each<[string, unknown[], string, RegExp]>([
    ['the key column itself when there is no other key', [{ drop_column: { table: 'users', column: 'id' } }], 'users has no primary key or unique NOT NULL key other than id, so the values of users.id could not be restored on rollback', /primary key/],
    [
      'a column a foreign key references',
      [{ create_table: { table: 'orders', columns: [{ name: 'u', type: 'bigint', references: { table: 'users', column: 'id' } }] } }, { drop_column: { table: 'users', column: 'id' } }],
      'column users.id is referenced by foreign key orders.orders_u_fkey',
      /drop_constraint/,
    ],
  ])('refuses %s', (_name, operations, message, hint) => {
    const error = planError(operations);
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(hint);
  });
});

describe('restoring a column by one table rewrite', () => {
  /** usersSchema() plus `members`: a composite key of hostile names, and columns of every shape. */
  function withMembers(change?: (members: TableModel, schema: SchemaModel) => void): SchemaModel {
    const schema = usersSchema();
    const members: TableModel = {
      schema: 'public',
      name: 'members',
      columns: {
        "org's $$": { name: "org's $$", type: 'integer', nullable: false, default: null },
        'user\\id': { name: 'user\\id', type: 'public."we""ird"', nullable: false, default: null },
        tags: { name: 'tags', type: 'public.mood[]', nullable: true, default: null },
        amount: { name: 'amount', type: 'numeric(12,2)', nullable: false, default: '0' },
      },
      constraints: {
        members_pkey: { name: 'members_pkey', type: 'primary_key', definition: 'PRIMARY KEY (...)', columns: ["org's $$", 'user\\id'], valid: true, index: 'members_pkey' },
      },
      // Published: drop_column copies its columns instead of retiring them.
      publications: ['cdc'],
    };
    schema.tables['public.members'] = members;
    change?.(members, schema);
    return schema;
  }
  const M = 'ALTER TABLE "public"."members"';

  it('keys the snapshot, looks values up by every key column with its type, and keeps identifiers and the body literal intact', () => {
    const step = only({ drop_column: { table: 'members', column: 'tags' } }, withMembers());
    const fn = '"godwit_snapshots"."godwit_restore_#1"';
    expect(digestShapes()(sqlOf(step.inverse))).toEqual([
      `${M} ADD COLUMN "tags" public.mood[]`,
      `ALTER TABLE {{snapshot:0}} ADD PRIMARY KEY ("org's $$", "user\\id")`,
      // The body is a string literal: its quote doubled, its backslash escaped (E''), its $$ harmless.
      `CREATE FUNCTION ${fn}(integer, public."we""ird") RETURNS public.mood[] LANGUAGE sql STABLE AS E'SELECT "tags" FROM {{snapshot:0}} WHERE "org''s $$" = $1 AND "user\\\\id" = $2'`,
      `${M} ALTER COLUMN "tags" TYPE public.mood[] USING ${fn}("org's $$", "user\\id")`,
      `DROP FUNCTION ${fn}(integer, public."we""ird")`,
    ]);
    expect(step.lint.map((l) => l.code)).not.toContain('restore_by_update');
  });

  it('gives each column of each table its own function name', () => {
    const names = [
      only({ drop_column: { table: 'members', column: 'tags' } }, withMembers()),
      only({ drop_column: { table: 'members', column: 'amount' } }, withMembers()),
      only({ drop_column: { table: 'users', column: 'name' } }, published(withMembers(), 'public.users')),
    ].map((step) => /"godwit_snapshots"\."(godwit_restore_[0-9a-f]{8})"/.exec(sqlOf(step.inverse)?.join('\n') ?? '')?.[1]);
    expect(new Set(names).size).toBe(3);
  });

  it('rewrites a partitioned table too: Postgres rewrites each partition', () => {
    const step = only({ drop_column: { table: 'members', column: 'tags' } }, withMembers((m) => (m.partitioned = true)));
    expect(sqlOf(step.inverse)?.some((q) => q.includes(' USING "godwit_snapshots".'))).toBe(true);
  });

  it.each<[string, (m: TableModel, s: SchemaModel) => void, string]>([
    [
      'a table Postgres cannot rewrite',
      (m) => (m.rewriteBlocked = 'column public.grid.c stores its row type'),
      'Postgres cannot rewrite members: column public.grid.c stores its row type',
    ],
    [
      'a table with inheritance children',
      (_m, s) => (s.tables['public.old_members'] = { schema: 'public', name: 'old_members', columns: {}, inherits: ['public.members'] }),
      'members has inheritance children (old_members) whose rows its snapshot holds too, and their keys need not be unique across them',
    ],
    ['a key column whose type names a collation', (m) => (m.columns["org's $$"]!.type = 'text COLLATE "C"'), `the type text COLLATE "C" of its key column org's $$ names a collation`],
  ])('falls back to the UPDATE for %s, and says why', (_what, change, why) => {
    const step = only({ drop_column: { table: 'members', column: 'tags' } }, withMembers(change));
    expect(sqlOf(step.inverse)).toEqual([
      `${M} ADD COLUMN "tags" public.mood[]`,
      `UPDATE "public"."members" AS t SET "tags" = s."tags" FROM {{snapshot:0}} AS s WHERE t."org's $$" = s."org's $$" AND t."user\\id" = s."user\\id"`,
    ]);
    expect(step.lint.filter((l) => l.code === 'restore_by_update')).toEqual([
      { level: 'info', code: 'restore_by_update', message: `rolling back puts back the values of members.tags with an UPDATE of every row, not one table rewrite: ${why}` },
    ]);
  });

  it('alter_column_type keeps NOT NULL through the rewrite, and the fallback empties the column first as before', () => {
    const rewrite = only({ alter_column_type: { table: 'members', column: 'amount', type: 'text' } }, withMembers());
    const fn = '"godwit_snapshots"."godwit_restore_#1"';
    expect(digestShapes()(sqlOf(rewrite.inverse))).toEqual([
      `${M} ALTER COLUMN "amount" DROP DEFAULT`,
      `ALTER TABLE {{snapshot:0}} ADD PRIMARY KEY ("org's $$", "user\\id")`,
      // A row the snapshot does not have (inserted by the application since) keeps its value, cast back.
      `CREATE FUNCTION ${fn}(integer, public."we""ird", text) RETURNS numeric(12,2) LANGUAGE sql STABLE AS ` +
        `E'SELECT CASE WHEN s."org''s $$" IS NOT NULL AND $3::text IS NOT DISTINCT FROM ("amount")::text::text THEN s."amount" ELSE $3::numeric(12,2) END ` +
        `FROM (VALUES (1)) AS godwit_one (godwit_x) LEFT JOIN {{snapshot:0}} AS s ON s."org''s $$" = $1 AND s."user\\\\id" = $2'`,
      `${M} ALTER COLUMN "amount" TYPE numeric(12,2) USING ${fn}("org's $$", "user\\id", "amount")`,
      `DROP FUNCTION ${fn}(integer, public."we""ird", text)`,
      `${M} ALTER COLUMN "amount" SET DEFAULT 0`,
    ]);
    const update = only({ alter_column_type: { table: 'members', column: 'amount', type: 'text' } }, withMembers((m) => (m.rewriteBlocked = 'its partition public.p2 is a foreign table')));
    expect(digestShapes()(sqlOf(update.inverse))).toEqual([
      `${M} ALTER COLUMN "amount" DROP DEFAULT`,
      `${M} ALTER COLUMN "amount" DROP NOT NULL`,
      `${M} ALTER COLUMN "amount" TYPE numeric(12,2) USING NULL`,
      `UPDATE "public"."members" AS t SET "amount" = s."amount" FROM {{snapshot:0}} AS s WHERE t."org's $$" = s."org's $$" AND t."user\\id" = s."user\\id"`,
      `${M} ALTER COLUMN "amount" SET NOT NULL`,
      `${M} ALTER COLUMN "amount" SET DEFAULT 0`,
    ]);
    expect(update.lint.map((l) => l.code)).toContain('restore_by_update');
  });

  it('alter_column_type falls back when the old type, as an earlier step spelled it, names a collation', () => {
    const step = last(
      [
        { alter_column_type: { table: 'users', column: 'name', type: 'varchar(9) COLLATE "C"', down_using: 'name' } },
        { alter_column_type: { table: 'users', column: 'name', type: 'int', using: 'length(name)' } },
      ],
      withMembers(),
    );
    expect(sqlOf(step.inverse)?.[1]).toBe('UPDATE "public"."users" AS t SET "name" = s."name" FROM {{snapshot:0}} AS s WHERE t."id" = s."id"');
  });

  it('backfill restores only the rows it changed, from its change log by the row key, never by a rewrite of the whole table', () => {
    const step = only({ backfill: { table: 'members', set: { amount: 'amount + 1' }, where: 'amount > 100' } }, withMembers());
    expect(step.snapshots).toEqual([{ kind: 'changes', schema: 'public', table: 'members', key: ["org's $$", 'user\\id'], columns: ['amount'], capture: 'batches' }]);
    expect(step.inverse).toEqual([]);
  });
});

describe('sql without down', () => {
  it('snapshots each table in touches, and restores them with one TRUNCATE and their rows, referenced tables first', () => {
    const steps = plan([
      { create_table: { table: 'orders', columns: [{ name: 'id', type: 'int' }, { name: 'user_id', type: 'bigint', references: { table: 'users' } }, { name: 'd', type: 'int', generated: 'id * 2' }] } },
      { sql: { up: 'delete from users; delete from orders', touches: ['orders', 'users'] } },
    ]);
    const step = steps[1];
    expect(step?.snapshots).toEqual([
      { kind: 'table', schema: 'public', table: 'orders' },
      { kind: 'table', schema: 'public', table: 'users' },
    ]);
    expect(sqlOf(step?.inverse)).toEqual([
      'TRUNCATE "public"."orders", "public"."users"',
      'INSERT INTO "public"."users" ("id", "email", "name") OVERRIDING SYSTEM VALUE SELECT "id", "email", "name" FROM {{snapshot:1}}',
      'INSERT INTO "public"."orders" ("id", "user_id") OVERRIDING SYSTEM VALUE SELECT "id", "user_id" FROM {{snapshot:0}}',
    ]);
  });

  it('copies every column as it is when the model no longer knows the table (after another sql step)', () => {
    const step = last([
      { sql: { up: 'alter table users add column x int', down: 'alter table users drop column x' } },
      { sql: { up: 'update users set x = 1', touches: ['users'] } },
    ]);
    expect(sqlOf(step.inverse)).toEqual(['TRUNCATE "public"."users"', 'INSERT INTO "public"."users" OVERRIDING SYSTEM VALUE SELECT * FROM {{snapshot:0}}']);
  });

  it('without touches, snapshots the tables the parsed SQL writes, with the same inverse', () => {
    const step = only({ sql: { up: 'with gone as (delete from billing.invoices returning id) update users set name = null where id in (select id from gone)' } });
    expect(step.snapshots).toEqual([
      { kind: 'table', schema: 'public', table: 'users' },
      { kind: 'table', schema: 'billing', table: 'invoices' },
    ]);
    expect(sqlOf(step.inverse)).toEqual([
      'TRUNCATE "public"."users", "billing"."invoices"',
      'INSERT INTO "public"."users" ("id", "email", "name") OVERRIDING SYSTEM VALUE SELECT "id", "email", "name" FROM {{snapshot:0}}',
      'INSERT INTO "billing"."invoices" ("id") OVERRIDING SYSTEM VALUE SELECT "id" FROM {{snapshot:1}}',
    ]);
    expect(step.touches).toEqual(['public.users', 'billing.invoices']);
    expect(step.risk).toBe('high');
  });

  it('adds the tables that reference a written one, which a cascade may change and the TRUNCATE needs', () => {
    const step = last([
      { create_table: { table: 'orders', columns: [{ name: 'id', type: 'int' }, { name: 'user_id', type: 'bigint', references: { table: 'users', on_delete: 'cascade' } }] } },
      { create_table: { table: 'items', columns: [{ name: 'order_id', type: 'int' }] } },
      { add_constraint: { table: 'orders', name: 'orders_id_key', unique: { columns: ['id'] } } },
      { add_constraint: { table: 'items', name: 'items_order_fk', foreign_key: { columns: ['order_id'], references: { table: 'orders', columns: ['id'] } } } },
      { sql: { up: 'delete from users where id < 10' } },
    ]);
    expect(step.snapshots?.map((s) => s.table)).toEqual(['users', 'orders', 'items']);
    expect(sqlOf(step.inverse)?.[0]).toBe('TRUNCATE "public"."users", "public"."orders", "public"."items"');
    expect(step.touches).toEqual(['public.users', 'public.orders', 'public.items']);
    expect(step.lint.find((l) => l.code === 'restored_from_snapshot')?.message).toBe(
      'rolling back empties users, orders, items (orders, items because they reference a table it writes) and puts back their rows from copies taken before this step ' +
        '(orders has no primary key or unique NOT NULL key to log its rows by): the copy locks them against writes while it is taken, ' +
        "and the application's writes made after it would be undone, so run it when nobody writes to them; SQL that also changes their structure needs a down instead",
    );
  });

  it.each<[string, string, string]>([
    ['a schema change', 'update users set name = null; alter table users add column x int', 'ALTER TABLE users'],
    ['a DO block', 'do $$ begin delete from users; end $$', 'DO block'],
    ['a call of a user function', 'update users set name = app.clean(name)', 'call of function app.clean()'],
    ['a CALL', 'call purge()', 'CALL purge()'],
    ['a COMMIT', 'delete from users; commit', 'COMMIT (transaction control)'],
  ])('refuses SQL with %s, naming it and the ways out', (_name, up, what) => {
    const error = planError([{ sql: { up } }]);
    expect(error.message).toBe(`this sql step has no down, and a snapshot of the tables it writes cannot undo everything it does: ${what}`);
    expect(error.path).toBe('operations[0].sql');
    expect(error.hint).toMatch(/^give down: SQL that undoes it, touches: \[tables\] if you know it changes only the rows of those tables.*, or irreversible: true$/);
  });

  it('says which tables it saw written when it refuses', () => {
    expect(planError([{ sql: { up: 'delete from billing.invoices; select app.f()' } }]).hint).toBe(
      'give down: SQL that undoes it, touches: [tables] if you know it changes only the rows of those tables (it writes billing.invoices), or irreversible: true',
    );
  });

  it.each<[string, (s: SchemaModel) => void, string, string]>([
    [
      'a trigger on a written table, which may write elsewhere',
      (s) => (s.tables['public.users']!.triggers = { audit: { name: 'audit', definition: 'CREATE TRIGGER audit AFTER UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION audit()', enabled: 'origin' } }),
      'update users set name = null',
      'trigger audit on users',
    ],
    [
      'a write through a view',
      (s) => (s.views = { 'public.active': { schema: 'public', name: 'active', definition: 'SELECT id FROM users' } }),
      'update active set id = 1',
      'write through view active',
    ],
    [
      'a table with inheritance children, whose rows a snapshot of it would mix in',
      (s) => (s.tables['public.users_2025'] = { schema: 'public', name: 'users_2025', columns: {}, inherits: ['public.users'] }),
      'delete from users',
      'users, a table with inheritance children (users_2025)',
    ],
  ])('refuses %s, as the schema shows', (_name, change, up, what) => {
    const schema = usersSchema();
    change(schema);
    expect(planError([{ sql: { up } }], schema).message).toBe(`this sql step has no down, and a snapshot of the tables it writes cannot undo everything it does: ${what}`);
  });

  it('ignores a disabled trigger', () => {
    const schema = usersSchema();
    schema.tables['public.users']!.triggers = { t: { name: 't', definition: 'CREATE TRIGGER t ...', enabled: 'disabled' } };
    expect(only({ sql: { up: 'update users set name = null' } }, schema).snapshots).toHaveLength(1);
  });

  it('says when a table it writes does not exist', () => {
    const error = planError([{ sql: { up: 'delete from usres' } }]);
    expect(error.message).toBe('table usres does not exist');
    expect(error.hint).toMatch(/users/);
  });

  it('trusts touches over the parse, even for SQL the parse cannot see through', () => {
    const step = only({ sql: { up: 'select app.purge_users()', touches: ['users'] } });
    // The capture triggers see writes made inside functions too.
    expect(step.snapshots).toEqual([{ kind: 'changes', schema: 'public', table: 'users', key: ['id'], capture: 'triggers' }]);
    expect(step.touches).toEqual(['public.users']);
  });

  it('allows what it cannot undo when marked irreversible, with no inverse and a note', () => {
    const step = only({ sql: { up: 'alter table users add column x int; update users set x = 1', irreversible: true } });
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toBe('marked irreversible: this step cannot be rolled back');
    expect(step.snapshots).toBeUndefined();
    expect(step.touches).toEqual(['public.users']);
  });

  it('has nothing to undo for SQL that writes nothing, even outside a transaction', () => {
    for (const step of [only({ sql: { up: 'select pg_sleep(1)' } }), only({ sql: { up: 'vacuum users', transactional: false } })]) {
      expect(step.inverse).toEqual([]);
      expect(step.snapshots).toBeUndefined();
      expect(step.risk).toBe('medium');
      expect(step.lint.map((l) => l.code)).toContain('writes_nothing');
    }
  });

  it('reports SQL that does not parse with its position and the path of the SQL', () => {
    const error = planError([{ add_column: { table: 'users', column: { name: 'x', type: 'int' } } }, { sql: { up: 'update users\nset x = = 1', down: 'select 1' } }]);
    expect(error.message).toBe('syntax error at or near "=", at line 2, column 9 of the SQL');
    expect(error.path).toBe('operations[1].sql.up');
  });

  it('reads the down too', () => {
    expect(planError([{ sql: { up: 'select 1', down: 'delete users' } }]).path).toBe('operations[0].sql.down');
  });

  it('keeps trusting the model after SQL that only writes rows', () => {
    const error = planError([{ sql: { up: 'delete from users' } }, { drop_column: { table: 'users', column: 'nope' } }]);
    expect(error.message).toMatch(/^column users\.nope does not exist/);
  });

  it('refuses when a table outside touches references a touched one, since the TRUNCATE would fail', () => {
    const error = planError([
      { create_table: { table: 'orders', columns: [{ name: 'user_id', type: 'bigint', references: { table: 'users' } }] } },
      { sql: { up: 'delete from users', touches: ['users'] } },
    ]);
    expect(error.message).toMatch(/^users is referenced by foreign key orders\.orders_user_id_fkey/);
    expect(error.hint).toBe('add orders to touches, or give down: SQL that undoes this step');
  });

  it('refuses a non-transactional step, whose snapshot could not share its transaction', () => {
    expect(planError([{ sql: { up: 'vacuum users', touches: ['users'], transactional: false } }]).message).toMatch(/^an sql step with transactional: false and no down/);
  });

  it('takes no snapshot when marked irreversible, and only a log to prove the down by when given one', () => {
    expect(only({ sql: { up: 'delete from users', touches: ['users'], irreversible: true } }).snapshots).toBeUndefined();
    const withDown = only({ sql: { up: 'delete from users', down: 'select 1', touches: ['users'] } });
    expect(withDown.snapshots).toEqual([{ kind: 'changes', schema: 'public', table: 'users', key: ['id'], capture: 'triggers', proveOnly: true }]);
    expect(sqlOf(withDown.inverse)).toEqual(['select 1']);
    // Nothing to prove by when up does what a log cannot follow.
    expect(only({ sql: { up: 'delete from users; alter table users add column x int', down: 'select 1' } }).snapshots).toBeUndefined();
  });
});

describe('enums', () => {
  const moods = (): SchemaModel => {
    const schema = usersSchema();
    schema.enums = { 'public.mood': { schema: 'public', name: 'mood', values: ['happy', "it's ok"] } };
    return schema;
  };

  it.each<[string, unknown, string[], string[] | null, SchemaModel?]>([
    ['create_enum', { create_enum: { name: 'billing.status', values: ['open', "won't pay"] } }, [`CREATE TYPE "billing"."status" AS ENUM ('open', 'won''t pay')`], ['DROP TYPE "billing"."status"']],
    ['drop_enum recreates it with its labels from the model', { drop_enum: { name: 'mood' } }, ['DROP TYPE "public"."mood"'], [`CREATE TYPE "public"."mood" AS ENUM ('happy', 'it''s ok')`], moods()],
  ])('%s', (_name, operation, forward, inverse, schema) => {
    const step = only(operation, schema);
    expect(sqlOf(step.forward)).toEqual(forward);
    expect(sqlOf(step.inverse)).toEqual(inverse);
  });

  it('offline, drop_enum recreates from the values the manifest gives, or says where they come from', () => {
    expect(sqlOf(only({ drop_enum: { name: 'mood', values: ['a', 'b'] } }, 'offline').inverse)).toEqual([`CREATE TYPE "public"."mood" AS ENUM ('a', 'b')`]);
    expect(only({ drop_enum: { name: 'mood' } }, 'offline').inverseNote).toMatch(/^enum type mood is not in the offline schema model.*; give values: to see it here$/);
  });

  it('drop_enum recreates an enum created earlier in the same manifest', () => {
    const step = last([{ create_enum: { name: 'color', values: ['red'] } }, { drop_enum: { name: 'color' } }], 'offline');
    expect(sqlOf(step.inverse)).toEqual([`CREATE TYPE "public"."color" AS ENUM ('red')`]);
  });

  it.each<[string, unknown[], string, RegExp, SchemaModel?]>([
    ['create_enum that exists', [{ create_enum: { name: 'mood', values: ['a'] } }], 'type mood already exists', /drop_enum/, moods()],
    ['create_enum named like a table', [{ create_enum: { name: 'users', values: ['a'] } }], 'a table named users already exists, and its row type takes the name users', /another name/],
    ['create_enum in a missing schema', [{ create_enum: { name: 'x.mood', values: ['a'] } }], 'schema x does not exist', /CREATE SCHEMA "x"/],
    ['drop_enum that is missing', [{ drop_enum: { name: 'moood' } }], 'enum type moood does not exist', /did you mean mood\?/, moods()],
    ['drop_enum whose labels differ', [{ drop_enum: { name: 'mood', values: ['happy'] } }], "enum type mood has the labels happy, it's ok, not happy", /correct values/, moods()],
    [
      'drop_enum still in use',
      [{ add_column: { table: 'users', column: { name: 'm', type: 'mood[]' } } }, { drop_enum: { name: 'public.mood' } }],
      'enum type mood is used by column users.m',
      /alter_column_type/,
      moods(),
    ],
  ])('%s', (_name, operations, message, hint, schema) => {
    const error = planError(operations, schema);
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(hint);
  });
});

describe('views', () => {
  const withView = (): SchemaModel => {
    const schema = usersSchema();
    schema.views = {
      'public.active': { schema: 'public', name: 'active', definition: ' SELECT users.id,\n    users.email\n   FROM public.users', options: ['security_barrier=true'], comment: 'live' },
    };
    return schema;
  };

  it.each<[string, unknown, string[], string[] | null, SchemaModel?]>([
    ['create_view', { create_view: { name: 'billing.open', sql: 'select id from billing.invoices' } }, ['CREATE VIEW "billing"."open" AS select id from billing.invoices'], ['DROP VIEW "billing"."open"']],
    [
      'drop_view recreates it from its catalog definition, options and comment',
      { drop_view: { name: 'active' } },
      ['DROP VIEW "public"."active"'],
      ['CREATE VIEW "public"."active" WITH (security_barrier=true) AS  SELECT users.id,\n    users.email\n   FROM public.users', `COMMENT ON VIEW "public"."active" IS 'live'`],
      withView(),
    ],
  ])('%s', (_name, operation, forward, inverse, schema) => {
    const step = only(operation, schema);
    expect(sqlOf(step.forward)).toEqual(forward);
    expect(sqlOf(step.inverse)).toEqual(inverse);
  });

  it('offline, drop_view recreates from the sql the manifest gives, or says where it comes from', () => {
    expect(sqlOf(only({ drop_view: { name: 'v', sql: 'select 1' } }, 'offline').inverse)).toEqual(['CREATE VIEW "public"."v" AS select 1']);
    expect(only({ drop_view: { name: 'v' } }, 'offline').inverse).toBeNull();
  });

  it.each<[string, unknown[], string, RegExp, SchemaModel?]>([
    ['create_view that exists', [{ create_view: { name: 'active', sql: 'select 1' } }], 'view active already exists', /drop_view/, withView()],
    ['create_view named like a table', [{ create_view: { name: 'users', sql: 'select 1' } }], 'a table named users already exists', /another name/],
    ['drop_view that is missing', [{ drop_view: { name: 'actve' } }], 'view actve does not exist', /did you mean active\?/, withView()],
    ['drop_view of a table', [{ drop_view: { name: 'users' } }], 'users is a table, not a view', /drop_table/],
    ['create_table named like a view', [{ create_table: { table: 'active', columns: [{ name: 'a', type: 'int' }] } }], 'a view named active already exists', /another name/, withView()],
  ])('%s', (_name, operations, message, hint, schema) => {
    const error = planError(operations, schema);
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(hint);
  });
});

describe('snapshots are declared exactly where data would be lost', () => {
  /** One operation of every kind, each valid against withAccounts(). */
  const everyKind: Record<string, unknown> = {
    create_table: { create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } },
    drop_table: { drop_table: { table: 'billing.invoices' } },
    rename_table: { rename_table: { from: 'users', to: 'people' } },
    add_column: { add_column: { table: 'users', column: { name: 'x', type: 'int' } } },
    drop_column: { drop_column: { table: 'users', column: 'name' } },
    rename_column: { rename_column: { table: 'users', from: 'name', to: 'n' } },
    alter_column_type: { alter_column_type: { table: 'users', column: 'name', type: 'varchar(9)' } },
    set_not_null: { set_not_null: { table: 'users', column: 'name' } },
    drop_not_null: { drop_not_null: { table: 'billing.invoices', column: 'id' } },
    set_default: { set_default: { table: 'users', column: 'name', default: "''" } },
    drop_default: { drop_default: { table: 'accounts', column: 'email' } },
    set_comment: { set_comment: { table: 'users', comment: 'c' } },
    set_replica_identity: { set_replica_identity: { table: 'users', identity: 'full' } },
    create_index: { create_index: { table: 'users', columns: ['name'] } },
    drop_index: { drop_index: { name: 'users_email_idx' } },
    add_constraint: { add_constraint: { table: 'users', check: 'id > 0' } },
    drop_constraint: { drop_constraint: { table: 'accounts', name: 'accounts_note_check' } },
    rename_constraint: { rename_constraint: { table: 'users', name: 'users_pkey', to: 'pk' } },
    create_enum: { create_enum: { name: 'e', values: ['a'] } },
    drop_enum: { drop_enum: { name: 'e', values: ['a'] } },
    create_view: { create_view: { name: 'v', sql: 'select 1' } },
    drop_view: { drop_view: { name: 'v', sql: 'select 1' } },
    backfill: { backfill: { table: 'users', set: { name: "''" } } },
    sql: { sql: { up: 'delete from users', touches: ['users'] } },
  };
  const destructive = ['drop_table', 'drop_column', 'alter_column_type', 'backfill', 'sql'];
  /** Retired instead of copied: renamed out of the way, renamed back on rollback. */
  const retiring = ['drop_table', 'drop_column'];

  it('covers every kind', () => {
    expect(Object.keys(everyKind).sort()).toEqual([...knownKinds].sort());
  });

  it.each(Object.keys(everyKind))('%s', (kind) => {
    const schema = withAccounts();
    schema.enums = { 'public.e': { schema: 'public', name: 'e', values: ['a'] } };
    schema.views = { 'public.v': { schema: 'public', name: 'v', definition: 'select 1' } };
    if (kind === 'create_enum') delete schema.enums['public.e'];
    if (kind === 'create_view') delete schema.views['public.v'];
    const steps = plan([everyKind[kind]], schema);
    const declared = steps.some((s) => (s.snapshots?.length ?? 0) > 0);
    expect(declared).toBe(destructive.includes(kind) && !retiring.includes(kind));
    expect(steps.some((s) => (s.retire?.length ?? 0) > 0)).toBe(retiring.includes(kind));
    // Every step can be rolled back: by SQL, or by SQL that restores its snapshot.
    for (const s of steps) expect(s.inverse, `${s.summary}: ${s.inverseNote ?? ''}`).not.toBeNull();
    for (const s of steps) {
      const used = [...(s.inverse ?? []).flatMap((a) => [...a.sql.matchAll(/\{\{snapshot:(\d+)\}\}/g)].map((m) => Number(m[1])))];
      // A change log is restored by the executor from the log itself, not by inverse SQL.
      expect(new Set(used).size).toBe(s.snapshots?.filter((x) => x.kind !== 'changes').length ?? 0);
    }
  });

  it('every destructive step is high risk', () => {
    const risks = destructive.map((kind) => plan([everyKind[kind]], withAccounts())[0]?.risk);
    expect(risks).toEqual(['high', 'high', 'high', 'high', 'high']);
  });
});
