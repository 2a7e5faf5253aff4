import { describe, expect, it } from 'vitest';
import { emptySchemaModel } from '../../src/db/schema-model';
import { createTable, createTableSpec } from '../../src/operations/create-table';
import { planManifest } from '../../src/operations';
import { defaultIndexName, indexColumnNames, makeObjectName } from '../../src/operations/naming';
import { lintCodes, manifestOf, only, plan, planError, sqlOf, usersSchema } from './operations-fixtures';

describe('forward and inverse SQL', () => {
  it.each<[string, unknown, string[], string[] | null]>([
    [
      'create_table with inline constraints and a comment',
      {
        create_table: {
          table: 'accounts',
          comment: "who's paying",
          columns: [
            { name: 'id', type: 'bigint', identity: 'always', primary_key: true },
            { name: 'email', type: 'text', nullable: false, unique: true, comment: 'login' },
            { name: 'owner_id', type: 'bigint', references: { table: 'users', column: 'id', on_delete: 'cascade' } },
            { name: 'balance', type: 'numeric(12, 2)', default: '0', check: 'balance >= 0' },
            { name: 'slug', type: 'text', generated: 'lower(email)' },
          ],
        },
      },
      [
        'CREATE TABLE "public"."accounts" (\n' +
          '  "id" bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT "accounts_pkey" PRIMARY KEY,\n' +
          '  "email" text NOT NULL CONSTRAINT "accounts_email_key" UNIQUE,\n' +
          '  "owner_id" bigint CONSTRAINT "accounts_owner_id_fkey" REFERENCES "public"."users" ("id") ON DELETE CASCADE,\n' +
          '  "balance" numeric(12, 2) DEFAULT 0 CONSTRAINT "accounts_balance_check" CHECK (balance >= 0),\n' +
          '  "slug" text GENERATED ALWAYS AS (lower(email)) STORED\n' +
          ')',
        `COMMENT ON TABLE "public"."accounts" IS 'who''s paying'`,
        `COMMENT ON COLUMN "public"."accounts"."email" IS 'login'`,
      ],
      ['DROP TABLE "public"."accounts"'],
    ],
    [
      'create_table with table constraints',
      {
        create_table: {
          table: 'billing.bookings',
          columns: [
            { name: 'org', type: 'bigint' },
            { name: 'n', type: 'int' },
            { name: 'room', type: 'int' },
            { name: 'during', type: 'tsrange' },
            { name: 'code', type: 'text' },
            { name: 'invoice_id', type: 'bigint' },
          ],
          constraints: [
            { primary_key: { columns: ['org', 'n'] } },
            { unique: { columns: ['org', 'code'], include: ['room'], nulls_not_distinct: true } },
            { name: 'bookings_invoice_fk', foreign_key: { columns: ['invoice_id'], references: { table: 'billing.invoices', columns: ['id'] }, match: 'full', on_update: 'restrict', initially_deferred: true } },
            { exclude: { method: 'gist', elements: [{ column: 'room', operator: '=' }, { column: 'during', operator: '&&' }], where: 'room > 0' } },
            { name: 'n_positive', check: 'n > 0' },
          ],
        },
      },
      [
        'CREATE TABLE "billing"."bookings" (\n' +
          '  "org" bigint,\n' +
          '  "n" int,\n' +
          '  "room" int,\n' +
          '  "during" tsrange,\n' +
          '  "code" text,\n' +
          '  "invoice_id" bigint,\n' +
          '  CONSTRAINT "bookings_pkey" PRIMARY KEY ("org", "n"),\n' +
          '  CONSTRAINT "bookings_org_code_key" UNIQUE NULLS NOT DISTINCT ("org", "code") INCLUDE ("room"),\n' +
          '  CONSTRAINT "bookings_invoice_fk" FOREIGN KEY ("invoice_id") REFERENCES "billing"."invoices" ("id") MATCH FULL ON UPDATE RESTRICT DEFERRABLE INITIALLY DEFERRED,\n' +
          '  CONSTRAINT "bookings_room_during_excl" EXCLUDE USING "gist" ("room" WITH =, "during" WITH &&) WHERE (room > 0),\n' +
          '  CONSTRAINT "n_positive" CHECK (n > 0)\n' +
          ')',
      ],
      ['DROP TABLE "billing"."bookings"'],
    ],
    [
      'drop_table moves the table into godwit_retired under its retired name, and back',
      { drop_table: { table: 'billing.invoices' } },
      [
        'LOCK TABLE "billing"."invoices" IN ACCESS EXCLUSIVE MODE',
        `SELECT "godwit".refuse_drop_table('"billing"."invoices"')`,
        'ALTER TABLE "billing"."invoices" RENAME TO {{retired:0}}',
        'ALTER TABLE "billing".{{retired:0}} SET SCHEMA "godwit_retired"',
      ],
      ['ALTER TABLE "godwit_retired".{{retired:0}} SET SCHEMA "billing"', 'ALTER TABLE "billing".{{retired:0}} RENAME TO "invoices"'],
    ],
    [
      'add_column',
      { add_column: { table: 'users', column: { name: 'email_norm', type: 'text' } } },
      ['ALTER TABLE "public"."users" ADD COLUMN "email_norm" text'],
      ['ALTER TABLE "public"."users" DROP COLUMN "email_norm"'],
    ],
    [
      'add_column with default, named check, foreign key and comment',
      {
        add_column: {
          table: 'billing.invoices',
          column: {
            name: 'user_id',
            type: 'bigint',
            nullable: false,
            default: '0',
            check: { name: 'user_id_positive', expression: 'user_id >= 0' },
            references: { name: 'invoices_user_fk', table: 'users', on_delete: 'set null', deferrable: true },
            comment: 'payer',
          },
        },
      },
      [
        'ALTER TABLE "billing"."invoices" ADD COLUMN "user_id" bigint DEFAULT 0 NOT NULL CONSTRAINT "user_id_positive" CHECK (user_id >= 0) CONSTRAINT "invoices_user_fk" REFERENCES "public"."users" ON DELETE SET NULL DEFERRABLE',
        `COMMENT ON COLUMN "billing"."invoices"."user_id" IS 'payer'`,
      ],
      ['ALTER TABLE "billing"."invoices" DROP COLUMN "user_id"'],
    ],
    [
      'drop_column renames the column out of the way, and back',
      { drop_column: { table: 'users', column: 'name' } },
      [
        'LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE',
        `SELECT "godwit".refuse_drop_column('"public"."users"', 'name')`,
        'ALTER TABLE "public"."users" RENAME COLUMN "name" TO {{retired:0}}',
      ],
      ['ALTER TABLE "public"."users" RENAME COLUMN {{retired:0}} TO "name"'],
    ],
    [
      'rename_column',
      { rename_column: { table: 'users', from: 'name', to: 'display_name' } },
      ['ALTER TABLE "public"."users" RENAME COLUMN "name" TO "display_name"'],
      ['ALTER TABLE "public"."users" RENAME COLUMN "display_name" TO "name"'],
    ],
    [
      'create_index',
      { create_index: { table: 'users', columns: ['name'] } },
      ['CREATE INDEX "users_name_idx" ON "public"."users" ("name")'],
      ['DROP INDEX "public"."users_name_idx"'],
    ],
    [
      'create_index concurrently with every option',
      {
        create_index: {
          table: 'users',
          name: 'users_lookup',
          unique: true,
          method: 'btree',
          columns: [
            { expression: 'lower(email)', collation: 'C', opclass: 'text_pattern_ops' },
            { column: 'id', order: 'desc', nulls: 'last' },
          ],
          include: ['name'],
          storage: { fillfactor: 70 },
          where: 'email is not null',
          concurrently: true,
        },
      },
      [
        'CREATE UNIQUE INDEX CONCURRENTLY "users_lookup" ON "public"."users" USING "btree" ((lower(email)) COLLATE "C" "text_pattern_ops", "id" DESC NULLS LAST) INCLUDE ("name") WITH (fillfactor = 70) WHERE email is not null',
      ],
      ['DROP INDEX CONCURRENTLY IF EXISTS "public"."users_lookup"'],
    ],
    [
      'drop_index recreates the index from its catalog definition',
      { drop_index: { name: 'users_email_idx' } },
      ['DROP INDEX "public"."users_email_idx"'],
      ['CREATE INDEX users_email_idx ON public.users USING btree (email)'],
    ],
    [
      'drop_index concurrently',
      { drop_index: { name: 'public.users_email_idx', concurrently: true } },
      ['DROP INDEX CONCURRENTLY "public"."users_email_idx"'],
      ['CREATE INDEX CONCURRENTLY users_email_idx ON public.users USING btree (email)'],
    ],
    ['sql with down', { sql: { up: 'update users set name = upper(name)', down: 'update users set name = lower(name)' } }, ['update users set name = upper(name)'], ['update users set name = lower(name)']],
    ['sql marked irreversible', { sql: { up: 'delete from users', irreversible: true } }, ['delete from users'], null],
  ])('%s', (_name, operation, forward, inverse) => {
    const step = only(operation);
    expect(sqlOf(step.forward)).toEqual(forward);
    expect(sqlOf(step.inverse)).toEqual(inverse);
  });

  it.each<[string, unknown, string]>([
    ['create_table', { create_table: { table: 'accounts', columns: [{ name: 'id', type: 'int' }] } }, 'create_table accounts'],
    ['drop_table', { drop_table: { table: 'billing.invoices' } }, 'drop_table billing.invoices'],
    ['add_column', { add_column: { table: 'users', column: { name: 'email_norm', type: 'text' } } }, 'add_column users.email_norm'],
    ['drop_column', { drop_column: { table: 'users', column: 'name' } }, 'drop_column users.name'],
    ['rename_column', { rename_column: { table: 'users', from: 'name', to: 'full_name' } }, 'rename_column users.name to full_name'],
    ['create_index', { create_index: { table: 'users', columns: ['name'], concurrently: true } }, 'create_index users_name_idx on users'],
    ['drop_index', { drop_index: { name: 'users_email_idx' } }, 'drop_index users_email_idx'],
    ['sql', { sql: { up: '-- fix\nupdate users set name = trim(name)', down: 'select 1' } }, 'sql update users set name = trim(name)'],
  ])('summarises %s in one line', (_kind, operation, summary) => {
    expect(only(operation).summary).toBe(summary);
  });
});

describe('hostile identifiers', () => {
  const hostile = 'x"; drop table y;--';

  it('stay one quoted identifier in every position', () => {
    const step = only({ create_table: { table: `"${hostile.replaceAll('"', '""')}"."${hostile.replaceAll('"', '""')}"`, columns: [{ name: hostile, type: 'text', unique: true }] } }, 'offline');
    const q = '"x""; drop table y;--"';
    expect(step.forward[0]?.sql).toBe(`CREATE TABLE ${q}.${q} (\n  ${q} text CONSTRAINT "x""; drop table y;--_x""; drop table y;--_key" UNIQUE\n)`);
  });

  it('keep unicode names intact', () => {
    const step = only({ add_column: { table: 'ユーザー', column: { name: '🦤', type: 'text' } } }, 'offline');
    expect(step.forward[0]?.sql).toBe('ALTER TABLE "public"."ユーザー" ADD COLUMN "🦤" text');
  });

  it('handle a column called __proto__ as an ordinary name', () => {
    const steps = plan([
      { create_table: { table: 't', columns: [{ name: '__proto__', type: 'int' }] } },
      { drop_column: { table: 't', column: '__proto__' } },
    ]);
    expect(sqlOf(steps[1]?.forward ?? null)).toEqual(['ALTER TABLE "public"."t" DROP COLUMN "__proto__"']);
  });
});

describe('planning a manifest', () => {
  it('plans later operations against the schema left by earlier ones', () => {
    const steps = plan([
      { create_table: { table: 'orders', columns: [{ name: 'id', type: 'bigint', primary_key: true }] } },
      { add_column: { table: 'orders', column: { name: 'total', type: 'bigint', nullable: false } } },
      { create_index: { table: 'orders', columns: ['total'] } },
      { rename_column: { table: 'orders', from: 'total', to: 'total_cents' } },
      { drop_index: { name: 'orders_total_idx' } },
    ]);
    expect(steps.map((s) => s.id)).toEqual(['1-create_table', '2-add_column', '3-create_index', '4-rename_column', '5-drop_index']);
    expect(steps.map((s) => s.index)).toEqual([1, 2, 3, 4, 5]);
    // The index definition followed the rename, so rolling back the drop recreates it on the renamed column.
    expect(sqlOf(steps[4]?.inverse ?? null)).toEqual(['CREATE INDEX "orders_total_idx" ON "public"."orders" ("total_cents")']);
  });

  it('does not change the schema it was given', () => {
    const schema = usersSchema();
    const before = structuredClone(schema);
    plan([{ add_column: { table: 'users', column: { name: 'x', type: 'int' } } }, { drop_index: { name: 'users_email_idx' } }], schema);
    expect(schema).toEqual(before);
  });

  it('records created tables, columns and indexes in the schema model', () => {
    const ctx = { schema: emptySchemaModel(), path: 'operations[0].create_table' };
    createTable.plan(
      createTableSpec.parse({ table: 'accounts', columns: [{ name: 'id', type: 'bigint', primary_key: true }, { name: 'email', type: 'text', default: "''", unique: true }] }),
      ctx,
    );
    expect(ctx.schema.tables['public.accounts']?.columns).toEqual({
      id: { name: 'id', type: 'bigint', nullable: false, default: null },
      email: { name: 'email', type: 'text', nullable: true, default: "''" },
    });
    expect(ctx.schema.indexes['public.accounts_email_key']).toEqual({
      schema: 'public',
      name: 'accounts_email_key',
      table: 'public.accounts',
      definition: 'CREATE UNIQUE INDEX "accounts_email_key" ON "public"."accounts" ("email")',
      unique: true,
      valid: true,
      constraint: true,
    });
  });

  it('forgets indexes that a dropped column took with it', () => {
    const error = planError([{ drop_column: { table: 'users', column: 'email' } }, { drop_index: { name: 'users_email_idx' } }]);
    expect(error.message).toBe('index users_email_idx does not exist');
    expect(error.path).toBe('operations[1].drop_index');
  });

  it('plans without a schema (offline) without failing on objects it cannot see', () => {
    const steps = plan(
      [
        { add_column: { table: 'users', column: { name: 'x', type: 'int' } } },
        { drop_column: { table: 'users', column: 'y' } },
        { rename_column: { table: 'users', from: 'a', to: 'b' } },
        { create_index: { table: 'users', columns: ['x'] } },
        { drop_table: { table: 'legacy' } },
      ],
      'offline',
    );
    expect(steps).toHaveLength(5);
  });

  it('offline, still knows the tables the manifest created', () => {
    const error = planError(
      [{ create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } }, { drop_column: { table: 't', column: 'b' } }],
      'offline',
    );
    expect(error.message).toBe('column t.b does not exist');
  });

  it('offline, leaves the inverse of drop_index to the catalog at apply time', () => {
    const step = only({ drop_index: { name: 'users_email_idx' } }, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toMatch(/read from the catalog .* at apply time/);
  });

  it('honours an explicit offline flag with an empty schema', () => {
    expect(() => planManifest(manifestOf([{ drop_table: { table: 'anything' } }]), emptySchemaModel(), { offline: true })).not.toThrow();
  });

  it('stops trusting the model after an sql step', () => {
    const steps = plan([{ sql: { up: 'create table made_by_sql (id int)', down: 'drop table made_by_sql' } }, { add_column: { table: 'made_by_sql', column: { name: 'x', type: 'int' } } }]);
    expect(steps).toHaveLength(2);
  });
});

describe('plan errors', () => {
  it.each<[string, unknown[], string, string, RegExp]>([
    ['add_column to a missing table', [{ add_column: { table: 'usres', column: { name: 'x', type: 'int' } } }], 'table usres does not exist', 'operations[0].add_column', /did you mean users\?.*create_table/],
    ['add_column that exists', [{ add_column: { table: 'users', column: { name: 'email', type: 'text' } } }], 'column users.email already exists', 'operations[0].add_column', /another column name/],
    ['drop_column that is missing', [{ drop_column: { table: 'users', column: 'emial' } }], 'column users.emial does not exist', 'operations[0].drop_column', /did you mean email\?.*Columns of users: id, email, name/],
    ['drop_column on a missing table', [{ drop_column: { table: 'nope', column: 'a' } }], 'table nope does not exist', 'operations[0].drop_column', /create_table/],
    ['rename_column from a missing column', [{ rename_column: { table: 'users', from: 'nam', to: 'n' } }], 'column users.nam does not exist', 'operations[0].rename_column', /did you mean name\?/],
    ['rename_column onto an existing column', [{ rename_column: { table: 'users', from: 'name', to: 'email' } }], 'column users.email already exists', 'operations[0].rename_column', /another name/],
    ['rename_column to the same name', [{ rename_column: { table: 'users', from: 'name', to: 'name' } }], 'rename_column renames users.name to the same name', 'operations[0].rename_column', /new name/],
    ['create_table that exists', [{ create_table: { table: 'users', columns: [{ name: 'id', type: 'int' }] } }], 'table users already exists', 'operations[0].create_table', /drop_table/],
    ['create_table named like an index', [{ create_table: { table: 'users_email_idx', columns: [{ name: 'id', type: 'int' }] } }], 'an index named users_email_idx already exists', 'operations[0].create_table', /another name/],
    ['create_table in a missing schema', [{ create_table: { table: 'audit.events', columns: [{ name: 'id', type: 'int' }] } }], 'schema audit does not exist', 'operations[0].create_table', /CREATE SCHEMA "audit"/],
    ['create_table with two primary keys', [{ create_table: { table: 't', columns: [{ name: 'a', type: 'int', primary_key: true }], constraints: [{ primary_key: { columns: ['a'] } }] } }], 'table t declares 2 primary keys', 'operations[0].create_table', /composite key/],
    ['create_table with a duplicate column', [{ create_table: { table: 't', columns: [{ name: 'a', type: 'int' }, { name: 'a', type: 'text' }] } }], 'column a appears twice in columns', 'operations[0].create_table.columns[1]', /own name/],
    ['a constraint on a missing column', [{ create_table: { table: 't', columns: [{ name: 'a', type: 'int' }], constraints: [{ unique: { columns: ['b'] } }] } }], "constraint names column b, which is not in this table's columns", 'operations[0].create_table.constraints[0]', /columns of t: a/],
    ['create_table with two constraints of one name', [{ create_table: { table: 't', columns: [{ name: 'a', type: 'int', unique: true }], constraints: [{ unique: { columns: ['a'] } }] } }], 'two constraints of t would both be named t_a_key', 'operations[0].create_table', /another name/],
    ['a foreign key to a missing table', [{ add_column: { table: 'users', column: { name: 'org_id', type: 'int', references: { table: 'orgs' } } } }], 'table orgs does not exist', 'operations[0].add_column', /create_table/],
    ['create_index that exists', [{ create_index: { table: 'users', columns: ['email'] } }], 'index users_email_idx already exists', 'operations[0].create_index', /another name with name:/],
    ['create_index on a missing column', [{ create_index: { table: 'users', columns: ['mail'] } }], 'column users.mail does not exist', 'operations[0].create_index', /did you mean email\?/],
    ['drop_index that is missing', [{ drop_index: { name: 'users_emial_idx' } }], 'index users_emial_idx does not exist', 'operations[0].drop_index', /did you mean users_email_idx\?/],
    ['drop_index of a constraint', [{ drop_index: { name: 'users_pkey' } }], 'index users_pkey belongs to a constraint (primary key, unique or exclusion) and cannot be dropped on its own', 'operations[0].drop_index', /drop_constraint/],
    ['drop_table that is missing', [{ drop_table: { table: 'billing.invoice' } }], 'table billing.invoice does not exist', 'operations[0].drop_table', /did you mean invoices\?/],
  ])('%s', (_name, operations, message, path, hint) => {
    const error = planError(operations);
    expect(error.message).toBe(message);
    expect(error.path).toBe(path);
    expect(error.hint).toMatch(hint);
  });

  it('points at the operation that failed, not the first one', () => {
    const error = planError([{ add_column: { table: 'users', column: { name: 'x', type: 'int' } } }, { add_column: { table: 'users', column: { name: 'x', type: 'int' } } }]);
    expect(error.path).toBe('operations[1].add_column');
  });

  it('rejects a second create_table of the same name even offline', () => {
    const table = { create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } };
    expect(planError([table, table], 'offline').message).toBe('table t already exists');
  });
});

describe('risk, lint and rollback notes', () => {
  it.each<[string, unknown, string, string[]]>([
    ['create_table', { create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } }, 'low', []],
    ['drop_table', { drop_table: { table: 'users' } }, 'high', ['warning:destructive', 'info:retired']],
    ['drop_column', { drop_column: { table: 'users', column: 'name' } }, 'high', ['warning:destructive', 'info:retired']],
    ['drop_index', { drop_index: { name: 'users_email_idx', concurrently: true } }, 'high', []],
    ['drop_index without concurrently', { drop_index: { name: 'users_email_idx' } }, 'high', ['warning:blocking_index_drop']],
    ['create_index without concurrently on an existing table', { create_index: { table: 'users', columns: ['name'] } }, 'medium', ['warning:blocking_index_build']],
    ['create_index concurrently', { create_index: { table: 'users', columns: ['name'], concurrently: true } }, 'low', []],
    ['nullable add_column', { add_column: { table: 'users', column: { name: 'x', type: 'int' } } }, 'low', []],
    ['NOT NULL add_column without a default', { add_column: { table: 'users', column: { name: 'x', type: 'int', nullable: false } } }, 'medium', ['error:not_null_without_default']],
    ['NOT NULL add_column with a default', { add_column: { table: 'users', column: { name: 'x', type: 'int', nullable: false, default: '0' } } }, 'low', []],
    ['NOT NULL add_column with a volatile default', { add_column: { table: 'users', column: { name: 'x', type: 'uuid', nullable: false, default: 'gen_random_uuid()' } } }, 'low', []],
    ['identity add_column', { add_column: { table: 'users', column: { name: 'x', type: 'bigint', identity: 'by_default' } } }, 'low', []],
    ['unique add_column', { add_column: { table: 'users', column: { name: 'x', type: 'int', unique: true } } }, 'medium', ['warning:index_under_lock']],
    ['rename_column', { rename_column: { table: 'users', from: 'name', to: 'n' } }, 'medium', ['warning:breaks_clients']],
    ['sql with down', { sql: { up: 'update users set name = name', down: 'select 1' } }, 'medium', []],
    ['sql without down, restored from its change log', { sql: { up: 'update users set name = name', touches: ['users'] } }, 'high', ['info:restored_from_change_log']],
    ['sql without down that truncates, restored from copies', { sql: { up: 'truncate users', touches: ['users'] } }, 'high', ['warning:restored_from_snapshot']],
    ['sql marked irreversible', { sql: { up: 'update users set name = name', irreversible: true } }, 'high', []],
    ['sql with CONCURRENTLY in a transaction', { sql: { up: 'create index concurrently i on users (name)', down: 'drop index i' } }, 'medium', ['error:needs_no_transaction']],
  ])('%s', (_name, operation, risk, codes) => {
    const step = only(operation);
    expect(step.risk).toBe(risk);
    expect(lintCodes(step)).toEqual(codes);
  });

  it('does not warn about NOT NULL or blocking builds on a table created in the same manifest', () => {
    const steps = plan([
      { create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } },
      { add_column: { table: 't', column: { name: 'b', type: 'int', nullable: false } } },
      { create_index: { table: 't', columns: ['b'] } },
    ]);
    expect(steps.map((s) => [s.risk, s.lint.length])).toEqual([['low', 0], ['low', 0], ['low', 0]]);
  });

  it('explains why an sql step marked irreversible has no inverse', () => {
    expect(only({ sql: { up: 'delete from users', irreversible: true } }).inverseNote).toBe('marked irreversible: this step cannot be rolled back');
  });

  it('runs sql marked transactional: false outside a transaction, both ways', () => {
    const step = only({ sql: { up: 'create index concurrently i on users (name)', down: 'drop index concurrently i', transactional: false } });
    expect([step.forward[0]?.transactional, step.inverse?.[0]?.transactional]).toEqual([false, false]);
    expect(step.lint).toEqual([]);
  });
});

describe('non-transactional index steps', () => {
  it('create_index concurrently runs outside a transaction with an index_exists probe', () => {
    const step = only({ create_index: { table: 'users', columns: ['name'], concurrently: true } });
    expect(step.forward[0]?.transactional).toBe(false);
    expect(step.probe).toEqual({ kind: 'index_exists', schema: 'public', name: 'users_name_idx' });
    expect(step.inverseProbe).toEqual({ kind: 'index_absent', schema: 'public', name: 'users_name_idx' });
  });

  it('drop_index concurrently runs outside a transaction with an index_absent probe', () => {
    const step = only({ drop_index: { name: 'users_email_idx', concurrently: true } });
    expect(step.forward[0]?.transactional).toBe(false);
    expect(step.probe).toEqual({ kind: 'index_absent', schema: 'public', name: 'users_email_idx' });
  });

  it('plain create_index runs in a transaction with no probe', () => {
    const step = only({ create_index: { table: 'users', columns: ['name'] } });
    expect(step.forward[0]?.transactional).toBe(true);
    expect(step.probe).toBeUndefined();
  });

  it('an index goes in its table schema', () => {
    const step = only({ create_index: { table: 'billing.invoices', columns: ['id'], concurrently: true } });
    expect(step.probe).toEqual({ kind: 'index_exists', schema: 'billing', name: 'invoices_id_idx' });
    expect(step.touches).toEqual(['billing.invoices', 'billing.invoices_id_idx']);
  });
});

describe('touches', () => {
  it.each<[string, unknown, string[]]>([
    ['create_table with a foreign key', { create_table: { table: 't', columns: [{ name: 'id', type: 'int', primary_key: true }, { name: 'u', type: 'bigint', references: { table: 'users' } }] } }, ['public.t', 'public.t_pkey', 'public.users']],
    ['drop_table with its indexes', { drop_table: { table: 'users' } }, ['public.users', 'public.users_email_idx', 'public.users_pkey']],
    ['drop_index', { drop_index: { name: 'users_email_idx' } }, ['public.users', 'public.users_email_idx']],
    ['sql, read from its statements', { sql: { up: 'update users set name = 1; insert into billing.invoices values (1); delete from "Odd"', down: 'select 1' } }, ['public.users', 'billing.invoices', 'public.Odd']],
    ['sql, as listed', { sql: { up: 'select fix()', touches: ['billing.invoices'], irreversible: true } }, ['billing.invoices']],
  ])('%s', (_name, operation, touches) => {
    expect(only(operation).touches).toEqual(touches);
  });

  it('for sql, are the tables its up and down write or change, read with the Postgres parser', () => {
    expect(only({ sql: { up: 'UPDATE Users SET name = 1; ALTER TABLE IF EXISTS Billing."Invoices" ADD x int', down: 'alter table billing."Invoices" drop x; truncate t2' } }).touches).toEqual([
      'public.users',
      'billing.Invoices',
      'public.t2',
    ]);
  });

  it('for sql it cannot read the tables of, says to list them', () => {
    expect(lintCodes(only({ sql: { up: 'do $$ begin perform 1; end $$', down: 'select 1' } }))).toEqual(['info:touches_unknown']);
  });
});

describe("Postgres' default index names", () => {
  it.each<[string, string[], 'index' | 'unique' | 'primary_key' | 'exclude', string]>([
    ['users', ['email'], 'index', 'users_email_idx'],
    ['users', ['email'], 'unique', 'users_email_key'],
    ['users', [], 'primary_key', 'users_pkey'],
    ['users', ['a', 'b'], 'index', 'users_a_b_idx'],
    ['rooms', ['room', 'during'], 'exclude', 'rooms_room_during_excl'],
    // makeObjectName shortens the longer part until the name fits 63 bytes.
    ['t'.repeat(40), ['c'.repeat(40)], 'index', `${'t'.repeat(29)}_${'c'.repeat(29)}_idx`],
    ['t'.repeat(60), ['c'], 'index', `${'t'.repeat(57)}_c_idx`],
  ])('%s (%j, %s) → %s', (table, columns, role, name) => {
    expect(defaultIndexName(table, columns, role)).toBe(name);
  });

  it('never splits a multi-byte character when shortening', () => {
    const name = makeObjectName('ユ'.repeat(30), undefined, 'pkey');
    expect(name).toBe(`${'ユ'.repeat(19)}_pkey`);
  });

  it('names expression columns after their function, or expr, numbering repeats', () => {
    expect(indexColumnNames([{ expression: 'lower(email)' }, { expression: 'a + b' }, { expression: '(a * b)' }, { column: 'id' }])).toEqual([
      'lower',
      'expr',
      'expr1',
      'id',
    ]);
  });

  it('create_index uses the generated name in its SQL', () => {
    expect(only({ create_index: { table: 'users', columns: [{ expression: 'lower(email)' }], unique: true } }).forward[0]?.sql).toBe(
      'CREATE UNIQUE INDEX "users_lower_idx" ON "public"."users" ((lower(email)))',
    );
  });
});
