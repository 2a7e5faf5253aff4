/** add_constraint, drop_constraint, rename_constraint, and the constraints the model records. */
import { describe, expect, it } from 'vitest';
import { emptySchemaModel, type SchemaModel } from '../../src/db/schema-model';
import { createTable, createTableSpec } from '../../src/operations/create-table';
import { defaultCheckName, expressionColumns } from '../../src/operations/naming';
import { last, lintCodes, only, plan, planError, sqlOf, usersSchema } from './operations-fixtures';

const USERS = 'ALTER TABLE "public"."users"';

/** usersSchema() plus `orders(id, user_id)` whose foreign key references users, and a unique email. */
function withOrders(): SchemaModel {
  const schema = usersSchema();
  const users = schema.tables['public.users'];
  if (users?.constraints === undefined) throw new Error('fixture changed');
  users.constraints.users_email_key = { name: 'users_email_key', type: 'unique', definition: 'UNIQUE (email) DEFERRABLE INITIALLY DEFERRED', columns: ['email'], valid: true, index: 'users_email_key' };
  users.constraints.users_name_check = { name: 'users_name_check', type: 'check', definition: "CHECK ((name <> ''::text)) NOT VALID", columns: ['name'], valid: false };
  schema.indexes['public.users_email_key'] = {
    schema: 'public',
    name: 'users_email_key',
    table: 'public.users',
    definition: 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email) WITH (fillfactor=\'70\')',
    unique: true,
    valid: true,
    constraint: true,
  };
  schema.tables['public.orders'] = {
    schema: 'public',
    name: 'orders',
    columns: {
      id: { name: 'id', type: 'bigint', nullable: false, default: null },
      user_id: { name: 'user_id', type: 'bigint', nullable: true, default: null },
    },
    constraints: {
      orders_user_id_fkey: {
        name: 'orders_user_id_fkey',
        type: 'foreign_key',
        definition: 'FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE',
        columns: ['user_id'],
        valid: true,
        references: { table: 'public.users', columns: ['id'] },
      },
    },
  };
  return schema;
}

describe('add_constraint', () => {
  it.each<[string, unknown, string[], string[]]>([
    [
      'check, named after the one column it reads',
      { add_constraint: { table: 'users', check: 'length(name) > 0' } },
      [`${USERS} ADD CONSTRAINT "users_name_check" CHECK (length(name) > 0)`],
      [`${USERS} DROP CONSTRAINT "users_name_check"`],
    ],
    [
      'check reading two columns',
      { add_constraint: { table: 'users', check: 'name <> email' } },
      [`${USERS} ADD CONSTRAINT "users_check" CHECK (name <> email)`],
      [`${USERS} DROP CONSTRAINT "users_check"`],
    ],
    [
      'unique with include and nulls not distinct',
      { add_constraint: { table: 'users', unique: { columns: ['email'], include: ['name'], nulls_not_distinct: true } } },
      [`${USERS} ADD CONSTRAINT "users_email_key" UNIQUE NULLS NOT DISTINCT ("email") INCLUDE ("name")`],
      [`${USERS} DROP CONSTRAINT "users_email_key"`],
    ],
    [
      'primary key on NOT NULL columns',
      { add_constraint: { table: 'billing.invoices', primary_key: { columns: ['id'] } } },
      ['ALTER TABLE "billing"."invoices" ADD CONSTRAINT "invoices_pkey" PRIMARY KEY ("id")'],
      ['ALTER TABLE "billing"."invoices" DROP CONSTRAINT "invoices_pkey"'],
    ],
    [
      'foreign key with every option',
      {
        add_constraint: {
          table: 'billing.invoices',
          name: 'invoices_user_fk',
          foreign_key: { columns: ['id'], references: { table: 'users', columns: ['id'] }, on_delete: 'SET NULL', on_update: 'cascade', match: 'full', initially_deferred: true },
        },
      },
      ['ALTER TABLE "billing"."invoices" ADD CONSTRAINT "invoices_user_fk" FOREIGN KEY ("id") REFERENCES "public"."users" ("id") MATCH FULL ON DELETE SET NULL ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED'],
      ['ALTER TABLE "billing"."invoices" DROP CONSTRAINT "invoices_user_fk"'],
    ],
    [
      'foreign key to the primary key, named as Postgres would',
      { add_constraint: { table: 'billing.invoices', foreign_key: { columns: ['id'], references: { table: 'users' } } } },
      ['ALTER TABLE "billing"."invoices" ADD CONSTRAINT "invoices_id_fkey" FOREIGN KEY ("id") REFERENCES "public"."users"'],
      ['ALTER TABLE "billing"."invoices" DROP CONSTRAINT "invoices_id_fkey"'],
    ],
    [
      'exclude',
      { add_constraint: { table: 'users', exclude: { method: 'gist', elements: [{ column: 'name', operator: '=' }, { expression: 'tsrange(a, b)', operator: '&&' }], where: 'id > 0' } } },
      [`${USERS} ADD CONSTRAINT "users_name_tsrange_excl" EXCLUDE USING "gist" ("name" WITH =, (tsrange(a, b)) WITH &&) WHERE (id > 0)`],
      [`${USERS} DROP CONSTRAINT "users_name_tsrange_excl"`],
    ],
  ])('%s', (_name, operation, forward, inverse) => {
    const step = only(operation);
    expect(sqlOf(step.forward)).toEqual(forward);
    expect(sqlOf(step.inverse)).toEqual(inverse);
  });

  it('a primary key on nullable columns makes them NOT NULL, so its inverse makes them nullable again', () => {
    const step = last([
      { add_column: { table: 'billing.invoices', column: { name: 'n', type: 'int' } } },
      { add_constraint: { table: 'billing.invoices', primary_key: { columns: ['id', 'n'] } } },
    ]);
    expect(sqlOf(step.inverse)).toEqual([
      'ALTER TABLE "billing"."invoices" DROP CONSTRAINT "invoices_pkey"',
      'ALTER TABLE "billing"."invoices" ALTER COLUMN "n" DROP NOT NULL',
    ]);
  });

  it('offline, a primary key leaves its inverse to the catalog (which columns accept NULL today)', () => {
    const step = only({ add_constraint: { table: 'users', primary_key: { columns: ['id'] } } }, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toMatch(/^which columns of the primary key of users accept NULL today is not in the offline schema model/);
  });

  it('not_valid adds NOT VALID, then validates in a second step of its own', () => {
    const steps = plan([{ add_constraint: { table: 'users', check: 'email IS NOT NULL', not_valid: true } }]);
    expect(steps.map((s) => [s.id, s.summary, sqlOf(s.forward), sqlOf(s.inverse), s.risk])).toEqual([
      ['1-add_constraint', 'add_constraint users.users_email_check (not valid)', [`${USERS} ADD CONSTRAINT "users_email_check" CHECK (email IS NOT NULL) NOT VALID`], [`${USERS} DROP CONSTRAINT "users_email_check"`], 'low'],
      ['2-validate_constraint', 'validate_constraint users.users_email_check', [`${USERS} VALIDATE CONSTRAINT "users_email_check"`], [], 'low'],
    ]);
    expect(lintCodes(steps[1] ?? steps[0]!)).toEqual(['info:validate_without_blocking']);
  });

  it('not_valid works for foreign keys too, touching both tables', () => {
    const steps = plan([{ add_constraint: { table: 'billing.invoices', foreign_key: { columns: ['id'], references: { table: 'users' } }, not_valid: true } }]);
    expect(steps.map((s) => s.kind)).toEqual(['add_constraint', 'validate_constraint']);
    expect(steps[1]?.touches).toEqual(['billing.invoices', 'public.users']);
  });

  it.each<[string, unknown, string, string[]]>([
    ['check without not_valid', { add_constraint: { table: 'users', check: 'id > 0' } }, 'medium', ['warning:validates_under_lock']],
    ['foreign key without not_valid', { add_constraint: { table: 'billing.invoices', foreign_key: { columns: ['id'], references: { table: 'users' } } } }, 'medium', ['warning:validates_under_lock']],
    ['check with not_valid', { add_constraint: { table: 'users', check: 'id > 0', not_valid: true } }, 'low', []],
    ['unique', { add_constraint: { table: 'users', unique: { columns: ['email'] } } }, 'medium', ['warning:index_under_lock']],
  ])('risk and lint: %s', (_name, operation, risk, codes) => {
    const step = only(operation);
    expect(step.risk).toBe(risk);
    expect(lintCodes(step)).toEqual(codes);
  });

  it('suggests not_valid in its warning', () => {
    expect(only({ add_constraint: { table: 'users', check: 'id > 0' } }).lint[0]?.message).toBe(
      'adding the constraint checks every existing row while users is locked against reads and writes; set not_valid: true to add it at once and validate it in its own step without blocking',
    );
  });

  it('is low risk on a table created by the same manifest', () => {
    const step = last([{ create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } }, { add_constraint: { table: 't', unique: { columns: ['a'] } } }]);
    expect([step.risk, step.lint]).toEqual(['low', []]);
  });

  it('numbers an unnamed check whose name is taken, as Postgres does', () => {
    const step = last([{ add_constraint: { table: 'users', check: 'id > 0' } }, { add_constraint: { table: 'users', check: 'id < 100' } }]);
    expect(step.forward[0]?.sql).toBe(`${USERS} ADD CONSTRAINT "users_id_check1" CHECK (id < 100)`);
  });

  it('touches the table, the constraint index and the referenced table', () => {
    expect(only({ add_constraint: { table: 'users', unique: { columns: ['email'] } } }).touches).toEqual(['public.users', 'public.users_email_key']);
  });
});

describe('drop_constraint', () => {
  it.each<[string, unknown, string[], string[]]>([
    [
      'a check, re-added NOT VALID as it was',
      { drop_constraint: { table: 'users', name: 'users_name_check' } },
      [`${USERS} DROP CONSTRAINT "users_name_check"`],
      [`${USERS} ADD CONSTRAINT "users_name_check" CHECK ((name <> ''::text)) NOT VALID`],
    ],
    [
      'a unique constraint, rebuilt from its index with its storage parameters and deferrability',
      { drop_constraint: { table: 'users', name: 'users_email_key' } },
      [`${USERS} DROP CONSTRAINT "users_email_key"`],
      ["CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email) WITH (fillfactor='70')", `${USERS} ADD CONSTRAINT "users_email_key" UNIQUE USING INDEX "users_email_key" DEFERRABLE INITIALLY DEFERRED`],
    ],
    [
      'a foreign key',
      { drop_constraint: { table: 'orders', name: 'orders_user_id_fkey' } },
      ['ALTER TABLE "public"."orders" DROP CONSTRAINT "orders_user_id_fkey"'],
      ['ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_user_id_fkey" FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE'],
    ],
  ])('%s', (_name, operation, forward, inverse) => {
    const step = only(operation, withOrders());
    expect(sqlOf(step.forward)).toEqual(forward);
    expect(sqlOf(step.inverse)).toEqual(inverse);
  });

  it('a primary key, once nothing references it', () => {
    const step = last([{ drop_constraint: { table: 'orders', name: 'orders_user_id_fkey' } }, { drop_constraint: { table: 'users', name: 'users_pkey' } }], withOrders());
    expect(sqlOf(step.inverse)).toEqual(['CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)', `${USERS} ADD CONSTRAINT "users_pkey" PRIMARY KEY USING INDEX "users_pkey"`]);
    expect(step.touches).toEqual(['public.users', 'public.users_pkey']);
  });

  it('sets the replica identity again when the constraint index was it', () => {
    const schema = withOrders();
    Object.assign(schema.tables['public.users'] ?? {}, { replicaIdentity: 'index', replicaIdentityIndex: 'users_email_key' });
    expect(sqlOf(only({ drop_constraint: { table: 'users', name: 'users_email_key' } }, schema).inverse)?.at(-1)).toBe(`${USERS} REPLICA IDENTITY USING INDEX "users_email_key"`);
  });

  it('recreates a constraint added earlier in the same manifest', () => {
    const step = last([
      { add_constraint: { table: 'users', unique: { columns: ['email', 'name'] } } },
      { drop_constraint: { table: 'users', name: 'users_email_name_key' } },
    ]);
    expect(sqlOf(step.inverse)).toEqual([
      'CREATE UNIQUE INDEX "users_email_name_key" ON "public"."users" ("email", "name")',
      `${USERS} ADD CONSTRAINT "users_email_name_key" UNIQUE USING INDEX "users_email_name_key"`,
    ]);
  });

  it('offline, leaves the definition to the catalog', () => {
    const step = only({ drop_constraint: { table: 'users', name: 'users_pkey' } }, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toBe('constraint users.users_pkey is not in the offline schema model; it is read from the catalog at apply time to build the inverse');
  });

  it('forgets the constraint and its index', () => {
    const error = planError([{ drop_constraint: { table: 'users', name: 'users_pkey' } }, { drop_index: { name: 'users_pkey' } }]);
    expect(error.message).toBe('index users_pkey does not exist');
  });
});

describe('rename_constraint', () => {
  it('renames both ways', () => {
    const step = only({ rename_constraint: { table: 'users', name: 'users_pkey', to: 'users_pk' } });
    expect(sqlOf(step.forward)).toEqual([`${USERS} RENAME CONSTRAINT "users_pkey" TO "users_pk"`]);
    expect(sqlOf(step.inverse)).toEqual([`${USERS} RENAME CONSTRAINT "users_pk" TO "users_pkey"`]);
    expect(step.summary).toBe('rename_constraint users.users_pkey to users_pk');
    expect(step.touches).toEqual(['public.users', 'public.users_pkey', 'public.users_pk']);
  });

  it('renames the index of an index-backed constraint in the model, so a later drop recreates it by its new name', () => {
    const step = last([
      { rename_constraint: { table: 'users', name: 'users_pkey', to: 'users_pk' } },
      { drop_constraint: { table: 'users', name: 'users_pk' } },
    ]);
    expect(sqlOf(step.inverse)).toEqual(['CREATE UNIQUE INDEX "users_pk" ON public.users USING btree (id)', `${USERS} ADD CONSTRAINT "users_pk" PRIMARY KEY USING INDEX "users_pk"`]);
  });
});

describe('the constraints the model records', () => {
  it('create_table records every inline and table constraint by the name it writes', () => {
    const ctx = { schema: emptySchemaModel(), path: 'operations[0].create_table' };
    createTable.plan(
      createTableSpec.parse({
        table: 't',
        columns: [
          { name: 'id', type: 'bigint', primary_key: true },
          { name: 'email', type: 'text', unique: { name: 'email_uq' }, check: 'email <> lower(email) or true' },
          { name: 'parent', type: 'bigint', references: { table: 't' } },
        ],
        constraints: [{ check: 'id > parent' }, { foreign_key: { columns: ['parent', 'id'], references: { table: 't', columns: ['id', 'parent'] } } }],
      }),
      ctx,
    );
    expect(ctx.schema.tables['public.t']?.constraints).toEqual({
      t_pkey: { name: 't_pkey', type: 'primary_key', definition: 'PRIMARY KEY ("id")', columns: ['id'], valid: true, index: 't_pkey' },
      email_uq: { name: 'email_uq', type: 'unique', definition: 'UNIQUE ("email")', columns: ['email'], valid: true, index: 'email_uq' },
      t_email_check: { name: 't_email_check', type: 'check', definition: 'CHECK (email <> lower(email) or true)', columns: ['email'], valid: true },
      t_parent_fkey: {
        name: 't_parent_fkey',
        type: 'foreign_key',
        definition: 'FOREIGN KEY ("parent") REFERENCES "public"."t"',
        columns: ['parent'],
        valid: true,
        references: { table: 'public.t', columns: ['id'] },
      },
      t_check: { name: 't_check', type: 'check', definition: 'CHECK (id > parent)', columns: ['id', 'parent'], valid: true },
      t_parent_id_fkey: {
        name: 't_parent_id_fkey',
        type: 'foreign_key',
        definition: 'FOREIGN KEY ("parent", "id") REFERENCES "public"."t" ("id", "parent")',
        columns: ['parent', 'id'],
        valid: true,
        references: { table: 'public.t', columns: ['id', 'parent'] },
      },
    });
  });

  it('rename_column renames the column in constraints, on both sides of a foreign key', () => {
    const step = last(
      [
        { rename_column: { table: 'users', from: 'id', to: 'user_id' } },
        { rename_column: { table: 'orders', from: 'user_id', to: 'owner' } },
        { drop_constraint: { table: 'orders', name: 'orders_user_id_fkey' } },
      ],
      withOrders(),
    );
    expect(sqlOf(step.inverse)).toEqual(['ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_user_id_fkey" FOREIGN KEY ("owner") REFERENCES public.users("user_id") ON DELETE CASCADE']);
  });

  it('add_column records its inline constraints', () => {
    const step = last([
      { add_column: { table: 'users', column: { name: 'code', type: 'text', unique: true, check: { name: 'code_len', expression: 'length(code) = 4' } } } },
      { drop_constraint: { table: 'users', name: 'code_len' } },
    ]);
    expect(sqlOf(step.inverse)).toEqual([`${USERS} ADD CONSTRAINT "code_len" CHECK (length(code) = 4)`]);
  });
});

describe('plan errors', () => {
  it.each<[string, unknown[], string, RegExp]>([
    ['add_constraint on a missing column', [{ add_constraint: { table: 'users', unique: { columns: ['mail'] } } }], 'column users.mail does not exist', /did you mean email\?/],
    ['add_constraint of a second primary key', [{ add_constraint: { table: 'users', primary_key: { columns: ['email'] } } }], 'table users already has a primary key, users_pkey', /drop it first with drop_constraint/],
    ['add_constraint whose name is taken', [{ add_constraint: { table: 'users', name: 'users_pkey', check: 'id > 0' } }], 'constraint users.users_pkey already exists', /another name/],
    ['add_constraint whose index name is taken', [{ add_constraint: { table: 'users', name: 'users_email_idx', unique: { columns: ['email'] } } }], 'index users_email_idx already exists', /another name/],
    ['a foreign key to a missing table', [{ add_constraint: { table: 'users', foreign_key: { columns: ['id'], references: { table: 'orgs' } } } }], 'table orgs does not exist', /create_table/],
    ['a foreign key to a missing column', [{ add_constraint: { table: 'users', foreign_key: { columns: ['id'], references: { table: 'users', columns: ['idd'] } } } }], 'column users.idd does not exist', /did you mean id\?/],
    ['a foreign key to a table without a primary key', [{ add_constraint: { table: 'users', foreign_key: { columns: ['id'], references: { table: 'billing.invoices' } } } }], 'table billing.invoices has no primary key for the foreign key to reference', /references: \{ table, columns \}/],
    ['a foreign key with too few columns', [{ add_constraint: { table: 'users', foreign_key: { columns: ['id', 'name'], references: { table: 'users' } } } }], 'the foreign key has 2 column(s) but references 1 (id)', /as many/],
    ['drop_constraint that is missing', [{ drop_constraint: { table: 'users', name: 'users_pkye' } }], 'constraint users.users_pkye does not exist', /did you mean users_pkey\?.*Constraints of users: users_pkey/],
    ['drop_constraint of a referenced key', [{ drop_constraint: { table: 'users', name: 'users_pkey' } }], 'constraint users.users_pkey is referenced by foreign key orders.orders_user_id_fkey', /drop that foreign key first/],
    ['rename_constraint to the same name', [{ rename_constraint: { table: 'users', name: 'users_pkey', to: 'users_pkey' } }], 'rename_constraint renames users.users_pkey to the same name', /new name/],
    ['rename_constraint onto a taken name', [{ rename_constraint: { table: 'users', name: 'users_pkey', to: 'users_email_key' } }], 'constraint users.users_email_key already exists', /pick another name/],
    ['rename_constraint whose index name is taken', [{ rename_constraint: { table: 'users', name: 'users_pkey', to: 'users_email_idx' } }], 'index users_email_idx already exists', /constraint index takes the name too/],
  ])('%s', (_name, operations, message, hint) => {
    const error = planError(operations, withOrders());
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(hint);
  });
});

describe('hostile identifiers', () => {
  it('stay one identifier in constraint names and columns', () => {
    const hostile = 'x"); drop table y;--';
    const step = only({ add_constraint: { table: 'users', name: hostile, unique: { columns: ['email'] } } });
    expect(step.forward[0]?.sql).toBe(`${USERS} ADD CONSTRAINT "x""); drop table y;--" UNIQUE ("email")`);
    expect(step.inverse?.[0]?.sql).toBe(`${USERS} DROP CONSTRAINT "x""); drop table y;--"`);
  });
});

describe("Postgres' default check names", () => {
  it.each<[string, string[] | undefined, string]>([
    ['length(name) > 0', ['id', 'name'], 't_name_check'],
    ['a < b', ['a', 'b'], 't_check'],
    ['a < a + 1', ['a'], 't_a_check'],
    ['1 > 0', ['a'], 't_check'],
    ["status in ('a', 'b')", undefined, 't_status_check'],
    ['"Mixed" IS NOT NULL', undefined, 't_Mixed_check'],
    ['x::text <> \'\'', undefined, 't_x_check'],
    ['t.x > 0', undefined, 't_x_check'],
  ])('%s → %s', (expression, columns, name) => {
    expect(defaultCheckName('t', expression, columns)).toBe(name);
  });

  it('reads column names, not strings, function names or types', () => {
    expect(expressionColumns("coalesce(a, 'b') = c::numeric AND d IS NOT NULL")).toEqual(['a', 'c', 'd']);
  });
});
