/** Planning of the kinds that change a table or a column in place, forward and inverse. */
import { describe, expect, it } from 'vitest';
import type { SchemaModel } from '../../src/db/schema-model';
import { last, lintCodes, only, plan, planError, sqlOf, usersSchema } from './operations-fixtures';

/** usersSchema() with `change` applied, for cases that need a default, a comment, a collation... */
function users(change: (s: SchemaModel) => void): SchemaModel {
  const schema = usersSchema();
  change(schema);
  return schema;
}

const column = (s: SchemaModel, name: string) => {
  const col = s.tables['public.users']?.columns[name];
  if (col === undefined) throw new Error(`no column ${name}`);
  return col;
};

const ALTER = 'ALTER TABLE "public"."users" ALTER COLUMN';
/** users.name back to text from snapshot 0 by id, in one rewrite (see rewriteFromSnapshot). */
const FN_NAME = '"godwit_snapshots"."godwit_restore_a3f7e305"';
/**
 * The lookup of a retyped column: the snapshot's value for rows it has, else the row's current
 * value (written by the application after the step) cast back to the old type.
 */
const lookup = (fn: string, key: string, keyType: string, col: string, oldType: string, newType: string, using: string, wrote = col) => [
  `ALTER TABLE {{snapshot:0}} ADD PRIMARY KEY (${key})`,
  `CREATE FUNCTION ${fn}(${keyType}, ${newType}) RETURNS ${oldType} LANGUAGE sql STABLE AS ` +
    `'SELECT CASE WHEN s.${key} IS NOT NULL AND $2::text IS NOT DISTINCT FROM (${wrote.replace(/'/g, "''")})::${newType}::text ` +
    `THEN s.${col.replace(/'/g, "''")} ELSE $2::${oldType} END FROM (VALUES (1)) AS godwit_one (godwit_x) LEFT JOIN {{snapshot:0}} AS s ON s.${key} = $1'`,
  `${ALTER} ${col} TYPE ${using} USING ${fn}(${key}, ${col})`,
  `DROP FUNCTION ${fn}(${keyType}, ${newType})`,
];
const REWRITE_NAME = (type: string, wrote?: string) => lookup(FN_NAME, '"id"', 'bigint', '"name"', 'text', 'varchar(20)', type, wrote);

describe('forward and inverse SQL', () => {
  it.each<[string, unknown, string[], string[] | null, SchemaModel?]>([
    ['rename_table', { rename_table: { from: 'users', to: 'people' } }, ['ALTER TABLE "public"."users" RENAME TO "people"'], ['ALTER TABLE "public"."people" RENAME TO "users"']],
    [
      'rename_table keeps the schema of from',
      { rename_table: { from: 'billing.invoices', to: 'bills' } },
      ['ALTER TABLE "billing"."invoices" RENAME TO "bills"'],
      ['ALTER TABLE "billing"."bills" RENAME TO "invoices"'],
    ],
    [
      'alter_column_type with down_using',
      { alter_column_type: { table: 'users', column: 'id', type: 'numeric(20)', using: 'id::numeric', down_using: 'id::bigint' } },
      [`${ALTER} "id" TYPE numeric(20) USING id::numeric`],
      [`${ALTER} "id" TYPE bigint USING id::bigint`],
    ],
    [
      'alter_column_type with down_using puts back a default that may not cast',
      { alter_column_type: { table: 'users', column: 'name', type: 'int', using: 'length(name)', down_using: 'name::text' } },
      [`${ALTER} "name" TYPE int USING length(name)`],
      [`${ALTER} "name" DROP DEFAULT`, `${ALTER} "name" TYPE text USING name::text`, `${ALTER} "name" SET DEFAULT 'anon'::text`],
      users((s) => (column(s, 'name').default = "'anon'::text")),
    ],
    [
      'alter_column_type without down_using restores from a snapshot',
      { alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } },
      [`${ALTER} "name" TYPE varchar(20)`],
      REWRITE_NAME('text'),
    ],
    [
      'alter_column_type without down_using, of a NOT NULL column with a default and a collation',
      { alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)', using: 'left(name, 20)' } },
      [`${ALTER} "name" TYPE varchar(20) USING left(name, 20)`],
      // NOT NULL stays on: the rewrite checks it. The default of the new type may not cast back.
      [`${ALTER} "name" DROP DEFAULT`, ...REWRITE_NAME('text COLLATE pg_catalog."C"', 'left(name, 20)'), `${ALTER} "name" SET DEFAULT ''::text`],
      users((s) => Object.assign(column(s, 'name'), { nullable: false, default: "''::text", collation: 'pg_catalog."C"' })),
    ],
    [
      'alter_column_type of a generated column: Postgres computes it again',
      { alter_column_type: { table: 'users', column: 'name', type: 'varchar(200)' } },
      [`${ALTER} "name" TYPE varchar(200)`],
      [`${ALTER} "name" TYPE text`],
      users((s) => (column(s, 'name').generated = 'lower(email)')),
    ],
    ['set_not_null', { set_not_null: { table: 'users', column: 'email' } }, [`${ALTER} "email" SET NOT NULL`], [`${ALTER} "email" DROP NOT NULL`]],
    ['drop_not_null', { drop_not_null: { table: 'billing.invoices', column: 'id' } }, ['ALTER TABLE "billing"."invoices" ALTER COLUMN "id" DROP NOT NULL'], ['ALTER TABLE "billing"."invoices" ALTER COLUMN "id" SET NOT NULL']],
    ['set_default where there was none', { set_default: { table: 'users', column: 'name', default: "'anon'" } }, [`${ALTER} "name" SET DEFAULT 'anon'`], [`${ALTER} "name" DROP DEFAULT`]],
    [
      'set_default over an old one',
      { set_default: { table: 'users', column: 'name', default: 0 } },
      [`${ALTER} "name" SET DEFAULT 0`],
      [`${ALTER} "name" SET DEFAULT 'x'::text`],
      users((s) => (column(s, 'name').default = "'x'::text")),
    ],
    [
      'drop_default',
      { drop_default: { table: 'users', column: 'name' } },
      [`${ALTER} "name" DROP DEFAULT`],
      [`${ALTER} "name" SET DEFAULT now()::text`],
      users((s) => (column(s, 'name').default = 'now()::text')),
    ],
    ['set_comment on a table', { set_comment: { table: 'users', comment: "who's who" } }, [`COMMENT ON TABLE "public"."users" IS 'who''s who'`], ['COMMENT ON TABLE "public"."users" IS NULL']],
    [
      'set_comment null removes a column comment',
      { set_comment: { table: 'users', column: 'email', comment: null } },
      ['COMMENT ON COLUMN "public"."users"."email" IS NULL'],
      [`COMMENT ON COLUMN "public"."users"."email" IS E'a\\\\b'`],
      users((s) => (column(s, 'email').comment = 'a\\b')),
    ],
    [
      'set_comment replaces a table comment',
      { set_comment: { table: 'users', comment: 'new' } },
      [`COMMENT ON TABLE "public"."users" IS 'new'`],
      [`COMMENT ON TABLE "public"."users" IS 'old'`],
      users((s) => Object.assign(s.tables['public.users'] ?? {}, { comment: 'old' })),
    ],
    ['set_replica_identity full', { set_replica_identity: { table: 'users', identity: 'full' } }, ['ALTER TABLE "public"."users" REPLICA IDENTITY FULL'], ['ALTER TABLE "public"."users" REPLICA IDENTITY DEFAULT']],
    [
      'set_replica_identity index, back to the old index',
      { set_replica_identity: { table: 'users', identity: 'index', index: 'users_pkey' } },
      ['ALTER TABLE "public"."users" REPLICA IDENTITY USING INDEX "users_pkey"'],
      ['ALTER TABLE "public"."users" REPLICA IDENTITY USING INDEX "users_email_key"'],
      users((s) => {
        Object.assign(s.tables['public.users'] ?? {}, { replicaIdentity: 'index', replicaIdentityIndex: 'users_email_key' });
        s.indexes['public.users_email_key'] = { schema: 'public', name: 'users_email_key', table: 'public.users', definition: 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)', unique: true, valid: true, constraint: true };
      }),
    ],
    [
      'set_replica_identity default, back to nothing',
      { set_replica_identity: { table: 'users', identity: 'default' } },
      ['ALTER TABLE "public"."users" REPLICA IDENTITY DEFAULT'],
      ['ALTER TABLE "public"."users" REPLICA IDENTITY NOTHING'],
      users((s) => Object.assign(s.tables['public.users'] ?? {}, { replicaIdentity: 'nothing' })),
    ],
  ])('%s', (_name, operation, forward, inverse, schema) => {
    const step = only(operation, schema);
    expect(sqlOf(step.forward)).toEqual(forward);
    expect(sqlOf(step.inverse)).toEqual(inverse);
  });

  it.each<[string, unknown, string]>([
    ['rename_table', { rename_table: { from: 'users', to: 'people' } }, 'rename_table users to people'],
    ['alter_column_type', { alter_column_type: { table: 'users', column: 'id', type: 'numeric(20)', down_using: 'id::bigint' } }, 'alter_column_type users.id to numeric(20)'],
    ['set_not_null', { set_not_null: { table: 'users', column: 'email' } }, 'set_not_null users.email'],
    ['drop_not_null', { drop_not_null: { table: 'billing.invoices', column: 'id' } }, 'drop_not_null billing.invoices.id'],
    ['set_default', { set_default: { table: 'users', column: 'name', default: "''" } }, 'set_default users.name'],
    ['set_comment on a column', { set_comment: { table: 'billing.invoices', column: 'id', comment: 'x' } }, 'set_comment billing.invoices.id'],
    ['set_replica_identity', { set_replica_identity: { table: 'users', identity: 'index', index: 'users_pkey' } }, 'set_replica_identity users index users_pkey'],
    ['backfill of one column', { backfill: { table: 'users', set: { name: 'email' } } }, 'backfill users.name'],
    ['backfill of several', { backfill: { table: 'users', set: { name: 'email', email: 'name' } } }, 'backfill users (name, email)'],
  ])('summarises %s in one line', (_kind, operation, summary) => {
    expect(only(operation).summary).toBe(summary);
  });
});

describe('alter_column_type snapshots', () => {
  it('names the rewrite under ACCESS EXCLUSIVE with an estimate from the table size, when the catalog gives one', () => {
    const sized = users((s) => (s.sizes = { 'public.users': { rows: 1_000_000, bytes: 102 * 1024 * 1024 } }));
    const step = only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } }, sized);
    expect(step.blocksWrites).toEqual({
      lock: 'ACCESS EXCLUSIVE',
      table: 'public.users',
      reason: 'ALTER COLUMN ... TYPE rewrites the table in place',
      estimate: '~1,000,000 rows, 102 MB: about 1.5 s',
    });
    expect(step.lint.find((l) => l.code === 'table_rewrite')?.message).toMatch(/\(ACCESS EXCLUSIVE; ~1,000,000 rows, 102 MB: about 1\.5 s, during which every read and write of it waits/);
    // Offline there is no size: the lock is named, without a figure.
    expect(only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } }).blocksWrites).not.toHaveProperty('estimate');
  });

  it('declares a snapshot of the column with the row key, exactly when there is no down_using', () => {
    expect(only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } }).snapshots).toEqual([
      { kind: 'columns', schema: 'public', table: 'users', key: ['id'], columns: ['name'], migrated: { column: 'name', type: 'varchar(20)', expression: '"name"' } },
    ]);
    // USING may name other columns: they are copied too, to tell the step's values from the application's later ones.
    expect(only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(40)', using: "name || email" } }).snapshots).toEqual([
      { kind: 'columns', schema: 'public', table: 'users', key: ['id'], columns: ['name', 'email'], migrated: { column: 'name', type: 'varchar(40)', expression: 'name || email' } },
    ]);
    expect(only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)', down_using: 'name' } }).snapshots).toBeUndefined();
  });

  it('restores by a unique NOT NULL key when there is no primary key', () => {
    const schema = users((s) => {
      const table = s.tables['public.users'];
      if (table === undefined) return;
      table.constraints = { users_email_key: { name: 'users_email_key', type: 'unique', definition: 'UNIQUE (email)', columns: ['email'], valid: true, index: 'users_email_key' } };
      column(s, 'email').nullable = false;
    });
    const step = only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } }, schema);
    expect(step.snapshots?.[0]).toMatchObject({ key: ['email'] });
    expect(sqlOf(step.inverse)).toEqual(lookup(FN_NAME, '"email"', 'text', '"name"', 'text', 'varchar(20)', 'text'));
  });

  it('needs no snapshot for a nullable column added by the same manifest', () => {
    const step = last([
      { add_column: { table: 'users', column: { name: 'age', type: 'int' } } },
      { alter_column_type: { table: 'users', column: 'age', type: 'bigint' } },
    ]);
    expect(step.snapshots).toBeUndefined();
    expect(sqlOf(step.inverse)).toEqual([`${ALTER} "age" TYPE int USING NULL`]);
  });

  it('is high risk with a snapshot and medium with down_using, and warns of the rewrite', () => {
    const snapshot = only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } });
    const down = only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)', down_using: 'name' } });
    expect([snapshot.risk, down.risk]).toEqual(['high', 'medium']);
    expect(lintCodes(down)).toEqual(['warning:table_rewrite']);
  });

  it('leaves the inverse to the catalog offline', () => {
    const step = only({ alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)', down_using: 'name' } }, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toBe('the current type of users.name is not in the offline schema model; it is read from the catalog at apply time to build the inverse');
  });

  it('records the new type for later steps', () => {
    const steps = plan([
      { alter_column_type: { table: 'users', column: 'name', type: 'varchar(20)' } },
      { alter_column_type: { table: 'users', column: 'name', type: 'text', down_using: 'name::varchar(20)' } },
    ]);
    expect(sqlOf(steps[1]?.inverse)).toEqual([`${ALTER} "name" TYPE varchar(20) USING name::varchar(20)`]);
  });
});

describe('set_not_null lint', () => {
  it('warns that it scans the table under an ACCESS EXCLUSIVE lock, and names the way around it', () => {
    const step = only({ set_not_null: { table: 'users', column: 'email' } });
    expect(step.risk).toBe('medium');
    expect(step.lint).toEqual([
      {
        level: 'warning',
        code: 'scan_under_lock',
        message:
          'SET NOT NULL scans every row of users under an ACCESS EXCLUSIVE lock (reads and writes wait); to avoid it, ' +
          'add_constraint { check: "email IS NOT NULL", not_valid: true } first (validated without blocking), then set_not_null skips the scan',
      },
    ]);
  });

  it.each([
    ['as pg_get_constraintdef prints it', 'CHECK ((email IS NOT NULL))'],
    ['as a manifest wrote it', 'CHECK (email is not null)'],
    ['with the name quoted', 'CHECK (("email" IS NOT NULL))'],
  ])('is low risk when a validated CHECK (c IS NOT NULL) exists, %s', (_how, definition) => {
    const schema = users((s) => {
      const table = s.tables['public.users'];
      if (table?.constraints) table.constraints.email_nn = { name: 'email_nn', type: 'check', definition, columns: ['email'], valid: true };
    });
    const step = only({ set_not_null: { table: 'users', column: 'email' } }, schema);
    expect(step.risk).toBe('low');
    expect(lintCodes(step)).toEqual(['info:not_null_from_check']);
  });

  it('uses the check added NOT VALID and validated earlier in the same manifest', () => {
    const steps = plan([
      { add_constraint: { table: 'users', check: '"email" IS NOT NULL', not_valid: true } },
      { set_not_null: { table: 'users', column: 'email' } },
    ]);
    expect(steps.map((s) => [s.kind, s.risk])).toEqual([['add_constraint', 'low'], ['validate_constraint', 'low'], ['set_not_null', 'low']]);
  });

  it('does not count a check that is not validated', () => {
    const schema = users((s) => {
      const table = s.tables['public.users'];
      if (table?.constraints) table.constraints.email_nn = { name: 'email_nn', type: 'check', definition: 'CHECK ((email IS NOT NULL)) NOT VALID', columns: ['email'], valid: false };
    });
    expect(only({ set_not_null: { table: 'users', column: 'email' } }, schema).risk).toBe('medium');
  });

  it('is low risk on a table created by the same manifest', () => {
    const step = last([{ create_table: { table: 't', columns: [{ name: 'a', type: 'int' }] } }, { set_not_null: { table: 't', column: 'a' } }]);
    expect([step.risk, step.lint]).toEqual(['low', []]);
  });
});

describe('backfill', () => {
  it('updates the rows in batches that log what they overwrite, for the rollback to put back', () => {
    const step = only({ backfill: { table: 'users', set: { name: 'lower(email)', email: "'x'" }, where: 'email is not null' } });
    expect(sqlOf(step.forward)).toEqual([`UPDATE "public"."users" SET "name" = lower(email), "email" = 'x' WHERE email is not null`]);
    // No copy of the table: the batches log the rows they change (their `where` picks them).
    expect(step.snapshots).toEqual([{ kind: 'changes', schema: 'public', table: 'users', key: ['id'], columns: ['name', 'email'], capture: 'batches' }]);
    expect(step.inverse).toEqual([]);
    expect(step.batch).toMatchObject({ key: ['id'], update: { where: 'email is not null' } });
    expect(step.risk).toBe('high');
    expect(step.lint).toEqual([
      {
        level: 'warning',
        code: 'destructive',
        message: 'overwrites users (name, email); each batch logs the values it overwrites, and rolling back puts them back where the application has not changed them since',
      },
    ]);
  });

  it('has nothing to restore when it fills columns added by the same manifest', () => {
    const steps = plan([
      { add_column: { table: 'users', column: { name: 'email_norm', type: 'text' } } },
      { backfill: { table: 'users', set: { email_norm: 'lower(email)' }, batch_size: 5000 } },
    ]);
    const step = steps[1];
    expect(step?.inverse).toEqual([]);
    expect(step?.snapshots).toBeUndefined();
    expect(step?.risk).toBe('low');
  });

  it('still snapshots when one of its columns is an old one', () => {
    const step = last([
      { add_column: { table: 'users', column: { name: 'email_norm', type: 'text' } } },
      { backfill: { table: 'users', set: { email_norm: 'lower(email)', name: "''" } } },
    ]);
    expect(step.snapshots?.[0]).toMatchObject({ columns: ['email_norm', 'name'] });
  });

  it('follows a column added then renamed by the same manifest', () => {
    const step = last([
      { add_column: { table: 'users', column: { name: 'a', type: 'text' } } },
      { rename_column: { table: 'users', from: 'a', to: 'b' } },
      { backfill: { table: 'users', set: { b: "''" } } },
    ]);
    expect(step.inverse).toEqual([]);
  });

  it('gives the executor the batch size, the key and the update in parts', () => {
    const step = last([{ add_column: { table: 'users', column: { name: 'n', type: 'text' } } }, { backfill: { table: 'users', set: { n: "''" }, where: 'id > 10', batch_size: 5000 } }]);
    expect(step.batch).toEqual({ size: 5000, adaptive: false, key: ['id'], update: { schema: 'public', table: 'users', set: `"n" = ''`, where: 'id > 10' } });
    expect(step.lint).toEqual([]);
  });

  it('uses the default batch size when none is given, without a lint', () => {
    const step = last([{ add_column: { table: 'users', column: { name: 'n', type: 'text' } } }, { backfill: { table: 'users', set: { n: "''" } } }]);
    expect(step.batch).toMatchObject({ size: 1000, key: ['id'] });
    expect(step.lint).toEqual([]);
  });

  it('offline, leaves the snapshot key to the plan made against the database', () => {
    const step = only({ backfill: { table: 'users', set: { name: "''" } } }, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.snapshots).toBeUndefined();
    expect(step.inverseNote).toMatch(/^the key of users is not in the offline schema model/);
  });
});

describe('the model after each step', () => {
  it('rename_table moves indexes and foreign keys with the table, so later inverses use the new name', () => {
    const steps = plan([
      { create_table: { table: 'orders', columns: [{ name: 'user_id', type: 'bigint', references: { table: 'users' } }] } },
      { rename_table: { from: 'users', to: 'people' } },
      { drop_index: { name: 'users_email_idx' } },
      { drop_constraint: { table: 'orders', name: 'orders_user_id_fkey' } },
      { add_column: { table: 'people', column: { name: 'x', type: 'int' } } },
    ]);
    expect(sqlOf(steps[2]?.inverse)).toEqual(['CREATE INDEX users_email_idx ON "public"."people" USING btree (email)']);
    expect(sqlOf(steps[3]?.inverse)).toEqual(['ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "public"."people"']);
  });

  it('set_default, drop_default, set_not_null, set_comment each leave what the next inverse restores', () => {
    const steps = plan([
      { set_default: { table: 'users', column: 'name', default: "'a'" } },
      { set_default: { table: 'users', column: 'name', default: "'b'" } },
      { drop_default: { table: 'users', column: 'name' } },
      { set_not_null: { table: 'users', column: 'name' } },
      { drop_not_null: { table: 'users', column: 'name' } },
      { set_comment: { table: 'users', column: 'name', comment: 'one' } },
      { set_comment: { table: 'users', column: 'name', comment: 'two' } },
      { set_replica_identity: { table: 'users', identity: 'full' } },
      { set_replica_identity: { table: 'users', identity: 'nothing' } },
    ]);
    expect(steps.map((s) => sqlOf(s.inverse)?.[0])).toEqual([
      `${ALTER} "name" DROP DEFAULT`,
      `${ALTER} "name" SET DEFAULT 'a'`,
      `${ALTER} "name" SET DEFAULT 'b'`,
      `${ALTER} "name" DROP NOT NULL`,
      `${ALTER} "name" SET NOT NULL`,
      'COMMENT ON COLUMN "public"."users"."name" IS NULL',
      `COMMENT ON COLUMN "public"."users"."name" IS 'one'`,
      'ALTER TABLE "public"."users" REPLICA IDENTITY DEFAULT',
      'ALTER TABLE "public"."users" REPLICA IDENTITY FULL',
    ]);
  });

  it.each<[string, unknown]>([
    ['set_default', { set_default: { table: 'users', column: 'name', default: '1' } }],
    ['drop_default', { drop_default: { table: 'users', column: 'name' } }],
    ['set_comment', { set_comment: { table: 'users', comment: 'x' } }],
    ['set_replica_identity', { set_replica_identity: { table: 'users', identity: 'full' } }],
  ])('offline, %s leaves its inverse to the catalog', (_kind, operation) => {
    const step = only(operation, 'offline');
    expect(step.inverse).toBeNull();
    expect(step.inverseNote).toMatch(/is not in the offline schema model; it is read from the catalog at apply time to build the inverse$/);
  });

  it('offline, still knows what a table created by the manifest had', () => {
    const step = last(
      [{ create_table: { table: 't', comment: 'c', columns: [{ name: 'a', type: 'int', default: '1' }] } }, { drop_default: { table: 't', column: 'a' } }, { set_comment: { table: 't', comment: null } }],
      'offline',
    );
    expect(sqlOf(step.inverse)).toEqual([`COMMENT ON TABLE "public"."t" IS 'c'`]);
  });
});

describe('plan errors', () => {
  const invoicesKeyless = 'billing.invoices has no primary key or unique NOT NULL key other than id, so the old values of billing.invoices.id could not be restored on rollback';
  it.each<[string, unknown[], string, RegExp, SchemaModel?]>([
    ['rename_table of a missing table', [{ rename_table: { from: 'usres', to: 'people' } }], 'table usres does not exist', /did you mean users\?/],
    ['rename_table onto an existing table', [{ rename_table: { from: 'users', to: 'users_email_idx' } }], 'an index named users_email_idx already exists', /another name/],
    ['rename_table to another schema', [{ rename_table: { from: 'users', to: 'billing.users' } }], 'rename_table cannot move users from schema public to schema billing', /SET SCHEMA/],
    ['rename_table to the same name', [{ rename_table: { from: 'billing.invoices', to: 'invoices' } }], 'rename_table renames billing.invoices to the same name', /new name/],
    ['alter_column_type of a missing column', [{ alter_column_type: { table: 'users', column: 'nmae', type: 'text' } }], 'column users.nmae does not exist', /did you mean name\?/],
    ['alter_column_type without a key to restore by', [{ alter_column_type: { table: 'billing.invoices', column: 'id', type: 'int' } }], invoicesKeyless, /add a primary key first .*, or give down_using:/],
    [
      'alter_column_type of a primary key column without down_using',
      [{ alter_column_type: { table: 'users', column: 'id', type: 'int' } }],
      'users.id cannot be restored from a snapshot on rollback: it is in the primary key users_pkey, which cannot hold NULL',
      /give down_using: how to compute the old bigint value/,
    ],
    [
      'alter_column_type of an identity column without down_using',
      [{ alter_column_type: { table: 'users', column: 'name', type: 'int' } }],
      'users.name cannot be restored from a snapshot on rollback: it is an identity column, which cannot hold NULL',
      /down_using/,
      users((s) => (column(s, 'name').identity = 'by_default')),
    ],
    [
      'alter_column_type of a column a generated column reads',
      [{ alter_column_type: { table: 'users', column: 'email', type: 'varchar(9)', down_using: 'email' } }],
      'column users.email is used by the generated column users.name, so Postgres refuses to change the type of it',
      /drop users\.name first/,
      users((s) => (column(s, 'name').generated = 'lower(email)')),
    ],
    ['set_not_null of a NOT NULL column', [{ set_not_null: { table: 'users', column: 'id' } }], 'column users.id is already NOT NULL', /remove the operation/],
    ['drop_not_null of a nullable column', [{ drop_not_null: { table: 'users', column: 'email' } }], 'column users.email already accepts NULL', /remove the operation/],
    ['drop_not_null of a primary key column', [{ drop_not_null: { table: 'users', column: 'id' } }], 'column users.id is in the primary key users_pkey, which requires NOT NULL', /drop_constraint/],
    [
      'drop_not_null of an identity column',
      [{ drop_not_null: { table: 'users', column: 'name' } }],
      'column users.name is an identity column, which is always NOT NULL',
      /remove/,
      users((s) => Object.assign(column(s, 'name'), { identity: 'always', nullable: false })),
    ],
    [
      'drop_not_null of a column in the replica identity index',
      [{ drop_not_null: { table: 'users', column: 'email' } }],
      'column users.email is in users_email_idx, the replica identity index of users, which requires NOT NULL',
      /set_replica_identity/,
      users((s) => {
        Object.assign(s.tables['public.users'] ?? {}, { replicaIdentity: 'index', replicaIdentityIndex: 'users_email_idx' });
        column(s, 'email').nullable = false;
      }),
    ],
    ['drop_default of a column without one', [{ drop_default: { table: 'users', column: 'name' } }], 'column users.name has no default', /remove the operation/],
    [
      'set_default of an identity column',
      [{ set_default: { table: 'users', column: 'name', default: '1' } }],
      'column users.name is an identity column, which takes its values from its sequence, not a default',
      /SET GENERATED/,
      users((s) => (column(s, 'name').identity = 'always')),
    ],
    ['set_comment on a missing column', [{ set_comment: { table: 'users', column: 'mail', comment: 'x' } }], 'column users.mail does not exist', /did you mean email\?/],
    ['set_replica_identity with a missing index', [{ set_replica_identity: { table: 'users', identity: 'index', index: 'users_pkye' } }], 'index users_pkye does not exist on users', /did you mean users_pkey\?/],
    [
      'set_replica_identity with an index that is not unique',
      [{ set_replica_identity: { table: 'users', identity: 'index', index: 'users_email_idx' } }],
      'index users_email_idx cannot identify rows of users: it is not unique',
      /unique, non-partial index/,
    ],
    ['backfill of a missing column', [{ backfill: { table: 'users', set: { emial: "''" } } }], 'column users.emial does not exist', /did you mean email\?/],
    [
      'backfill of a keyless table',
      [{ backfill: { table: 'billing.invoices', set: { id: '1' } } }],
      'billing.invoices has no primary key or unique NOT NULL key other than id, so the values this backfill overwrites could not be restored on rollback',
      /backfill only columns added earlier in this manifest/,
    ],
    ['backfill of a generated column', [{ backfill: { table: 'users', set: { name: "''" } } }], 'column users.name is generated: Postgres computes its values', /remove name from set/, users((s) => (column(s, 'name').generated = 'email'))],
  ])('%s', (_name, operations, message, hint, schema) => {
    const error = planError(operations, schema);
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(hint);
    expect(error.path).toMatch(/^operations\[\d+\]\.\w+$/);
  });
});

describe('hostile identifiers', () => {
  const hostile = 'x"; drop table y;--';
  const q = '"x""; drop table y;--"';

  it.each<[string, unknown, string]>([
    ['rename_table', { rename_table: { from: 'users', to: hostile } }, `ALTER TABLE "public"."users" RENAME TO ${q}`],
    ['set_not_null', { set_not_null: { table: 'users', column: hostile } }, `ALTER TABLE "public"."users" ALTER COLUMN ${q} SET NOT NULL`],
    ['set_comment', { set_comment: { table: 'users', column: hostile, comment: "'); drop table y; --" } }, `COMMENT ON COLUMN "public"."users".${q} IS '''); drop table y; --'`],
    ['backfill', { backfill: { table: 'users', set: { [hostile]: '1' } } }, `UPDATE "public"."users" SET ${q} = 1`],
  ])('stay one identifier in %s', (_kind, operation, sql) => {
    expect(only(operation, 'offline').forward[0]?.sql).toBe(sql);
  });

  it('stay one identifier in a snapshot restore', () => {
    const schema = users((s) => {
      const table = s.tables['public.users'];
      if (table === undefined) return;
      table.columns[hostile] = { name: hostile, type: 'text', nullable: true, default: null };
    });
    const step = only({ alter_column_type: { table: 'users', column: hostile, type: 'int', using: '0' } }, schema);
    const fn = '"godwit_snapshots"."godwit_restore_46198670"';
    expect(sqlOf(step.inverse)).toEqual(lookup(fn, '"id"', 'bigint', q, 'text', 'int', 'text', '0'));
    expect(step.snapshots?.[0]).toMatchObject({ columns: [hostile] });
  });
});
