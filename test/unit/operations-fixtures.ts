/**
 * Shared by the operations*.test.ts files: a schema model shaped like introspectSchema's
 * output, and helpers that plan operations the way a manifest file would be planned.
 */
import { emptySchemaModel, type IndexModel, type SchemaModel } from '../../src/db/schema-model';
import { manifestSchema, type Manifest } from '../../src/manifest';
import { loadSqlParser, planManifest, PlanError, type PlannedStep } from '../../src/operations';

// Planning reads sql steps with the Postgres parser, loaded once.
await loadSqlParser();

/** A manifest with these operations, parsed (and defaulted) the way a file would be. */
export function manifestOf(operations: unknown[]): Manifest {
  const parsed = manifestSchema.safeParse({ id: 'test', operations });
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues, null, 2));
  return parsed.data;
}

/**
 * A database with `users(id bigint primary key, email text, name text)` and
 * `users_email_idx`, and `billing.invoices(id bigint not null)` without a key.
 */
export function usersSchema(): SchemaModel {
  const schema = emptySchemaModel();
  schema.schemas.push('billing');
  schema.enums = {};
  schema.views = {};
  schema.tables['public.users'] = {
    schema: 'public',
    name: 'users',
    columns: {
      id: { name: 'id', type: 'bigint', nullable: false, default: null },
      email: { name: 'email', type: 'text', nullable: true, default: null },
      name: { name: 'name', type: 'text', nullable: true, default: null },
    },
    constraints: {
      users_pkey: { name: 'users_pkey', type: 'primary_key', definition: 'PRIMARY KEY (id)', columns: ['id'], valid: true, index: 'users_pkey' },
    },
  };
  schema.tables['billing.invoices'] = {
    schema: 'billing',
    name: 'invoices',
    columns: { id: { name: 'id', type: 'bigint', nullable: false, default: null } },
  };
  const index = (name: string, definition: string, constraint = false): IndexModel => ({
    schema: 'public',
    name,
    table: 'public.users',
    definition,
    unique: constraint,
    valid: true,
    constraint,
  });
  schema.indexes['public.users_email_idx'] = index('users_email_idx', 'CREATE INDEX users_email_idx ON public.users USING btree (email)');
  schema.indexes['public.users_pkey'] = index('users_pkey', 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)', true);
  return schema;
}

/** `'offline'` plans without a schema, as `godwit plan` does; the default is usersSchema(). */
export type Against = SchemaModel | 'offline';

export const plan = (operations: unknown[], schema: Against = usersSchema()): PlannedStep[] =>
  planManifest(manifestOf(operations), schema === 'offline' ? undefined : schema);

export const only = (operation: unknown, schema?: Against): PlannedStep => {
  const [step] = plan([operation], schema);
  if (step === undefined) throw new Error('no step planned');
  return step;
};

/** The last step of a plan: the operation under test, after the ones that set it up. */
export const last = (operations: unknown[], schema?: Against): PlannedStep => {
  const steps = plan(operations, schema);
  const step = steps.at(-1);
  if (step === undefined) throw new Error('no step planned');
  return step;
};

export const sqlOf = (actions: { sql: string }[] | null | undefined): string[] | null => actions?.map((a) => a.sql) ?? null;

/** Names Godwit derives from a digest of what they belong to: restore functions, and an online type change's column, trigger and renamed objects. */
const DIGEST_NAME = /(godwit_restore_|_godwit_new_|_godwit_sync_|_godwit_retired_)([0-9a-f]{8})(?![0-9a-f])/g;

/**
 * Returns a function that copies a value (SQL, a list of it, a step's fields) with the digest
 * in each derived name replaced by #1, #2... in order of first use, across all its calls. A
 * test then pins the plan's shape: one name wherever the plan must use the same object,
 * different names for different ones, and not the digest itself, which is how restore.ts and
 * the online type change happen to make names unique.
 */
export function digestShapes(): <T>(value: T) => T {
  const seen = new Map<string, number>();
  return <T>(value: T): T =>
    JSON.parse(
      JSON.stringify(value).replace(DIGEST_NAME, (_m, prefix: string, digest: string) => {
        if (!seen.has(digest)) seen.set(digest, seen.size + 1);
        return `${prefix}#${seen.get(digest)}`;
      }),
    ) as T;
}

/** The PlanError thrown by planning `operations`. */
export function planError(operations: unknown[], schema: Against = usersSchema()): PlanError {
  try {
    plan(operations, schema);
  } catch (e) {
    if (e instanceof PlanError) return e;
    throw e;
  }
  throw new Error('expected a PlanError');
}

export const lintCodes = (step: PlannedStep): string[] => step.lint.map((l) => `${l.level}:${l.code}`);
