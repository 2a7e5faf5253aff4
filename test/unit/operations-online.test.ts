import { describe, expect, it } from 'vitest';
import type { SchemaModel } from '../../src/db/schema-model';
import { manifestSchema } from '../../src/manifest';
import { planManifest, PlanError, type PlannedStep } from '../../src/operations';
import { lintCodes, planError, sqlOf, usersSchema } from './operations-fixtures';

/** usersSchema() with a NOT NULL `score int default 0`, a check and an index on it, and the size given. */
function scored(bytes = 500 * 1024 * 1024): SchemaModel {
  const schema = usersSchema();
  const users = schema.tables['public.users']!;
  users.columns.score = { name: 'score', type: 'integer', nullable: false, default: '0', comment: 'points' };
  users.constraints!.score_positive = { name: 'score_positive', type: 'check', definition: 'CHECK ((score >= 0))', columns: ['score'], valid: true };
  schema.indexes['public.users_score_idx'] = {
    schema: 'public',
    name: 'users_score_idx',
    table: 'public.users',
    definition: 'CREATE INDEX users_score_idx ON public.users USING btree (score, email)',
    unique: false,
    valid: true,
    constraint: false,
  };
  schema.sizes = { 'public.users': { rows: 1_000_000, bytes } };
  return schema;
}

function planWith(operation: Record<string, unknown>, schema: SchemaModel | undefined, lockTimeout = '5s'): PlannedStep[] {
  const manifest = manifestSchema.parse({ id: 'test', operations: [operation], policy: { lock_timeout: lockTimeout } });
  return planManifest(manifest, schema);
}

const retype = (extra: Record<string, unknown> = {}) => ({ alter_column_type: { table: 'users', column: 'score', type: 'bigint', ...extra } });

describe('alter_column_type: online or in place', () => {
  it('goes online when the rewrite would take half the lock_timeout or more', () => {
    // 500 MB at the assumed 70 MB/s: about 7 s, over half of 5 s.
    expect(planWith(retype(), scored())).toHaveLength(5);
    // 102 MB: about 1.5 s. In place under the default 5 s, online under 2 s.
    expect(planWith(retype(), scored(102 * 1024 * 1024))).toHaveLength(1);
    expect(planWith(retype(), scored(102 * 1024 * 1024), '2s')).toHaveLength(5);
  });

  it('says why in the plan, and names no write-blocking lock', () => {
    const steps = planWith(retype(), scored());
    const note = steps[0]!.lint.find((l) => l.code === 'online_type_change');
    expect(note?.message).toMatch(/^users\.score changes type online \(in place it would rewrite ~1,000,000 rows, 500 MB: about 7\.1 s, longer than half the lock_timeout of 5 s\)/);
    expect(lintCodes(steps[0]!)).toEqual(['info:online_type_change', 'warning:column_order', 'info:sync_trigger']);
    expect(steps.map((s) => s.blocksWrites)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(steps.map((s) => s.summary)).toEqual([
      'alter_column_type users.score to bigint (online 1/5: add _godwit_new_d5b8b53c, kept in step by a trigger)',
      'alter_column_type users.score to bigint (online 2/5: fill _godwit_new_d5b8b53c in batches)',
      'alter_column_type users.score to bigint (online 3/5: index users_score_idx again over _godwit_new_d5b8b53c)',
      'alter_column_type users.score to bigint (online 4/5: validate _godwit_new_d5b8b53c_nn, _godwit_new_d5b8b53c_c0)',
      'alter_column_type users.score to bigint (online 5/5: swap _godwit_new_d5b8b53c in under a brief lock)',
    ]);
  });

  it('online: false rewrites in place whatever the size; online: true goes online whatever the size', () => {
    const inPlace = planWith(retype({ online: false }), scored());
    expect(inPlace).toHaveLength(1);
    expect(inPlace[0]!.blocksWrites).toMatchObject({ lock: 'ACCESS EXCLUSIVE' });
    expect(planWith(retype({ online: true }), scored(1024))).toHaveLength(5);
  });

  it('online: true refuses, naming why and what to do, where a rename would leave something behind', () => {
    const key = planError([{ alter_column_type: { table: 'users', column: 'id', type: 'numeric(20)', online: true } }], scored());
    expect(key.message).toBe('users.id cannot change its type online: it is in the primary key users_pkey');
    expect(key.hint).toMatch(/^leave out online: true to rewrite the table in place/);
    const added = planError(
      [{ add_column: { table: 'users', column: { name: 'age', type: 'int' } } }, { alter_column_type: { table: 'users', column: 'age', type: 'bigint', online: true } }],
      scored(),
    );
    expect(added.message).toBe('users.age cannot change its type online: it was added by this migration');
    expect(added).toBeInstanceOf(PlanError);
  });

  it('stays in place, without online: true, where it cannot go online', () => {
    const schema = scored();
    delete schema.tables['public.users']!.constraints!.users_pkey;
    expect(planWith(retype({ down_using: "score::integer" }), schema)).toHaveLength(1);
  });

  it('offline, it says the target may take the online path', () => {
    const [step] = planWith(retype(), undefined);
    expect(step!.lint.find((l) => l.code === 'online_type_change')?.level).toBe('info');
  });
});

describe('alter_column_type online: the SQL', () => {
  const steps = planWith(retype({ using: 'score * 10' }), scored());
  const [expand, fill, index, validate, swap] = steps;
  const fn = '"godwit_snapshots"."_godwit_sync_d5b8b53c"';

  it('adds the column, copies NOT NULL and checks NOT VALID, and the trigger computes it; rolling back drops them', () => {
    expect(sqlOf(expand!.forward)).toEqual([
      'ALTER TABLE "public"."users" ADD COLUMN "_godwit_new_d5b8b53c" bigint',
      'ALTER TABLE "public"."users" ADD CONSTRAINT "_godwit_new_d5b8b53c_nn" CHECK ("_godwit_new_d5b8b53c" IS NOT NULL) NOT VALID',
      'ALTER TABLE "public"."users" ADD CONSTRAINT "_godwit_new_d5b8b53c_c0" CHECK (("_godwit_new_d5b8b53c" >= 0)) NOT VALID',
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS 'begin\n  NEW."_godwit_new_d5b8b53c" := (select score * 10 from (select NEW.*) as godwit_row);\n  return NEW;\nend'`,
      `CREATE TRIGGER "_godwit_sync_d5b8b53c" BEFORE INSERT OR UPDATE ON "public"."users" FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
    ]);
    expect(sqlOf(expand!.inverse)).toEqual([
      'DROP TRIGGER "_godwit_sync_d5b8b53c" ON "public"."users"',
      `DROP FUNCTION ${fn}()`,
      'ALTER TABLE "public"."users" DROP COLUMN "_godwit_new_d5b8b53c"',
    ]);
  });

  it('fills in keyset batches by the row key, indexes CONCURRENTLY with a probe, validates without blocking writes', () => {
    expect(fill!.batch).toEqual({ size: 1000, adaptive: true, key: ['id'], update: { schema: 'public', table: 'users', set: '"_godwit_new_d5b8b53c" = score * 10' } });
    expect(fill!.inverse).toEqual([]);
    expect(index!.forward).toEqual([{ sql: 'CREATE INDEX CONCURRENTLY "_godwit_new_d5b8b53c_i0" ON public.users USING btree ("_godwit_new_d5b8b53c", email)', transactional: false }]);
    expect(index!.probe).toEqual({ kind: 'index_exists', schema: 'public', name: '_godwit_new_d5b8b53c_i0' });
    expect(index!.inverseProbe).toEqual({ kind: 'index_absent', schema: 'public', name: '_godwit_new_d5b8b53c_i0' });
    expect(sqlOf(validate!.forward)).toEqual([
      'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "_godwit_new_d5b8b53c_nn"',
      'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "_godwit_new_d5b8b53c_c0"',
    ]);
  });

  it('swaps names under one lock and turns the trigger around; rolling back renames back', () => {
    const forward = sqlOf(swap!.forward)!;
    expect(forward[0]).toBe('LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE');
    expect(forward[1]).toMatch(/^DO '/);
    expect(forward.slice(2)).toEqual([
      'ALTER TABLE "public"."users" ALTER COLUMN "_godwit_new_d5b8b53c" SET NOT NULL',
      'ALTER TABLE "public"."users" DROP CONSTRAINT "_godwit_new_d5b8b53c_nn"',
      'ALTER TABLE "public"."users" ALTER COLUMN "_godwit_new_d5b8b53c" SET DEFAULT 0',
      `COMMENT ON COLUMN "public"."users"."_godwit_new_d5b8b53c" IS 'points'`,
      'ALTER TABLE "public"."users" RENAME COLUMN "score" TO {{retired:0}}',
      'ALTER TABLE "public"."users" RENAME COLUMN "_godwit_new_d5b8b53c" TO "score"',
      'ALTER INDEX "public"."users_score_idx" RENAME TO "_godwit_retired_d5b8b53c_i0"',
      'ALTER INDEX "public"."_godwit_new_d5b8b53c_i0" RENAME TO "users_score_idx"',
      'ALTER TABLE "public"."users" RENAME CONSTRAINT "score_positive" TO "_godwit_retired_d5b8b53c_c0"',
      'ALTER TABLE "public"."users" RENAME CONSTRAINT "_godwit_new_d5b8b53c_c0" TO "score_positive"',
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS 'begin\n  NEW.{{retired:0}} := NEW."score"::integer;\n  return NEW;\nend'`,
    ]);
    expect(swap!.retire).toEqual([{ kind: 'column', schema: 'public', table: 'users', column: 'score' }]);
    expect(sqlOf(swap!.inverse)).toEqual([
      'LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE',
      'ALTER TABLE "public"."users" RENAME CONSTRAINT "score_positive" TO "_godwit_new_d5b8b53c_c0"',
      'ALTER TABLE "public"."users" RENAME CONSTRAINT "_godwit_retired_d5b8b53c_c0" TO "score_positive"',
      'ALTER INDEX "public"."users_score_idx" RENAME TO "_godwit_new_d5b8b53c_i0"',
      'ALTER INDEX "public"."_godwit_retired_d5b8b53c_i0" RENAME TO "users_score_idx"',
      'ALTER TABLE "public"."users" RENAME COLUMN "score" TO "_godwit_new_d5b8b53c"',
      'ALTER TABLE "public"."users" RENAME COLUMN {{retired:0}} TO "score"',
      sqlOf(expand!.forward)![3],
    ]);
  });

  it('converts on NEW directly, without a subquery per write, when there is no using', () => {
    const [plain] = planWith(retype(), scored());
    expect(sqlOf(plain!.forward)![3]).toContain(`AS 'begin\n  NEW."_godwit_new_d5b8b53c" := NEW."score";\n  return NEW;\nend'`);
  });

  it('takes down_using for the way back when given', () => {
    const [, , , , back] = planWith(retype({ using: 'score * 10', down_using: 'score / 10' }), scored());
    expect(sqlOf(back!.forward)!.at(-1)).toContain('NEW.{{retired:0}} := (select score / 10 from (select NEW.*) as godwit_row)');
  });
});

describe('alter_column_type online: the fill and the table triggers', () => {
  it('warns that the fill fires the table own row UPDATE triggers', () => {
    const schema = scored();
    schema.tables['public.users']!.triggers = {
      touch: { name: 'touch', definition: 'CREATE TRIGGER touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION touch()', enabled: 'origin' },
      audit_insert: { name: 'audit_insert', definition: 'CREATE TRIGGER audit_insert AFTER INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION audit()', enabled: 'origin' },
    };
    const [, fill] = planWith(retype(), schema);
    expect(fill!.lint.map((l) => l.message)).toEqual([
      'filling the new column updates every row of users, so its trigger touch fires for each (an updated_at trigger would touch every row); give online: false to rewrite in place, where triggers do not fire',
    ]);
    expect(planWith(retype(), scored())[1]!.lint).toEqual([]);
  });
});
