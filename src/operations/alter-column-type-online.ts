/**
 * alter_column_type the expand/contract way, for tables where an in-place `ALTER COLUMN ...
 * TYPE` would make the application wait for a whole-table rewrite:
 *
 * 1. expand: a new column of the new type, and a trigger that keeps it computed from the old
 *    one on every insert and update (NOT NULL and checks are copied NOT VALID);
 * 2. fill: the new column in committed keyset batches, like a backfill;
 * 3. the indexes over the column, built again over the new one CONCURRENTLY;
 * 4. validate: the copied constraints, under a lock that lets writes through;
 * 5. swap: under one brief ACCESS EXCLUSIVE lock (waiting at most lock_timeout), the old column
 *    is retired (renamed out of the way) and the new one takes its name, indexes and constraints
 *    swap names, and the trigger turns around: from then on it keeps the retired column computed
 *    from the new one, until the migration ends.
 *
 * Rolling back before the swap drops the new column; after it, the swap is renamed back. Either
 * way no data is copied, and the application's later writes are in the old column already.
 * Once the migration is applied the trigger goes (finishMigration); the retired column stays
 * until its retention ends and `godwit snapshots prune` drops it with its old indexes.
 */
import { quoteIdent, quoteLiteral } from '../db/ident';
import { CONTROL_SCHEMA, RETIRED_COLUMN_PREFIX, SNAPSHOT_SCHEMA, SYNC_TRIGGER_PREFIX } from '../db/schemas';
import type { ColumnModel, IndexModel, SchemaModel, TableModel } from '../db/schema-model';
import { DEFAULT_BATCH_SIZE } from './backfill';
import { concurrentIndexDefinition, mentionsColumn, renameIndexInDefinition, renameInDefinition } from './definitions';
import { column, getOwn, isNewColumn, tableIndexes, type Rel } from './model';
import { constraintsOf, referencingForeignKeys, rowKey } from './model-constraints';
import { shortDigest } from './naming';
import { columnType, tx } from './recreate';
import { retiredPlaceholder, Risk, type LintFinding, type PlanContext, type SqlAction, type StepDraft } from './types';

const NEW_COLUMN_PREFIX = '_godwit_new_';

/** The names one online type change gives its objects, from the table and column: a retried or repeated plan reuses them. */
function namesFor(table: Rel, name: string) {
  const h = shortDigest(`${table.key}\u0000${name}`);
  const fresh = `${NEW_COLUMN_PREFIX}${h}`;
  return {
    fresh,
    trigger: `${SYNC_TRIGGER_PREFIX}${h}`,
    fn: `${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(`${SYNC_TRIGGER_PREFIX}${h}`)}`,
    notNull: `${fresh}_nn`,
    index: (n: number) => `${fresh}_i${n}`,
    check: (n: number) => `${fresh}_c${n}`,
    // Named so the fingerprint leaves them out, like the retired column they index.
    retiredIndex: (n: number) => `${RETIRED_COLUMN_PREFIX}${h}_i${n}`,
    retiredCheck: (n: number) => `${RETIRED_COLUMN_PREFIX}${h}_c${n}`,
  };
}

/** The tables that take part: the table and any partition, parent or child of it. */
function inTree(schema: SchemaModel, table: Rel, model: TableModel): boolean {
  if (model.partitioned === true || model.partitionOf !== undefined || (model.inherits?.length ?? 0) > 0) return true;
  return Object.values(schema.tables).some((t) => t.partitionOf === table.key || t.inherits?.includes(table.key) === true);
}

/** The indexes over the column that are not a constraint's: they are built again over the new column. */
function plainIndexes(schema: SchemaModel, table: Rel, name: string): IndexModel[] {
  return tableIndexes(schema, table.key)
    .map(([, index]) => index)
    .filter((index) => !index.constraint && mentionsColumn(index.definition, name));
}

/**
 * Why the column cannot change its type online, or null. The online path renames columns,
 * indexes and constraints; it stays away from what a rename would leave pointing at the old
 * column (keys, foreign keys, owned sequences), and from what would carry the extra columns
 * elsewhere (logical replication, partitions and children).
 */
export function onlineProblem(ctx: PlanContext, table: Rel, model: TableModel, col: ColumnModel): string | null {
  const name = col.name;
  if (isNewColumn(ctx, table.key, name)) return 'it was added by this migration';
  if (col.identity !== undefined) return 'it is an identity column';
  if (col.generated !== undefined) return 'it is a generated column';
  if (col.default !== null && /\bnextval\(/i.test(col.default)) return 'its default draws from a sequence it owns, which would stay with the old column';
  if (inTree(ctx.schema, table, model)) return `${table.display} is partitioned or in an inheritance tree`;
  if (model.rewriteBlocked !== undefined) return model.rewriteBlocked;
  if ((model.publications?.length ?? 0) > 0) return `${table.display} is published (${model.publications!.join(', ')}): logical replication would carry the new column to subscribers, which do not have it`;
  for (const c of constraintsOf(model)) {
    if (c.type === 'check') continue;
    const index = c.index === undefined ? undefined : getOwn(ctx.schema.indexes, `${table.schema}.${c.index}`);
    if (c.columns.includes(name) || (index !== undefined && mentionsColumn(index.definition, name))) return `it is in the ${c.type.replace('_', ' ')} ${c.name}`;
  }
  const referenced = referencingForeignKeys(ctx.schema, table.key).find(({ constraint }) => constraint.references?.columns.includes(name) === true);
  if (referenced !== undefined) return `foreign key ${referenced.constraint.name} of ${referenced.table.schema}.${referenced.table.name} references it`;
  if (model.replicaIdentity === 'index' && model.replicaIdentityIndex !== undefined) {
    const index = getOwn(ctx.schema.indexes, `${table.schema}.${model.replicaIdentityIndex}`);
    if (index !== undefined && mentionsColumn(index.definition, name)) return `it is in the replica identity index ${index.name}`;
  }
  if (rowKey(model, [name]) === undefined) return `${table.display} has no primary key or unique NOT NULL key (other than ${name}) to fill the new column by in batches`;
  return null;
}

/**
 * `CREATE OR REPLACE FUNCTION` of the trigger function that sets column `target` (SQL) from the
 * row, in the migration's search_path: `value` is the manifest's expression over the row's
 * columns, or `{ column, cast }` for a plain conversion, which PL/pgSQL evaluates on NEW
 * directly (it runs on every write of the application, so without a subquery per row).
 */
function syncFunction(fn: string, target: string, value: string | { column: string; cast?: string }): SqlAction {
  const computed =
    typeof value === 'string' ? `(select ${value} from (select NEW.*) as godwit_row)` : `NEW.${quoteIdent(value.column)}${value.cast === undefined ? '' : `::${value.cast}`}`;
  const body = `begin\n  NEW.${target} := ${computed};\n  return NEW;\nend`;
  return tx(`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS ${quoteLiteral(body)}`);
}

/**
 * Refuses the swap where the old column has something a rename would leave behind on it: a
 * view, rule, policy or trigger reading it (Postgres ties them to the column, not its name),
 * or column privileges.
 */
function swapGuard(table: Rel, name: string): SqlAction {
  const what = quoteLiteral(`cannot change the type of ${column(table, name)} online: `);
  return tx(
    `DO ${quoteLiteral(`
declare deps text[] := ${quoteIdent(CONTROL_SCHEMA)}.column_dependents(${quoteLiteral(table.sql)}, ${quoteLiteral(name)});
begin
  if cardinality(deps) > 0 then
    raise exception using errcode = 'dependent_objects_still_exist',
      message = ${what} || array_to_string(deps, ', ') || ' would keep reading the old column after the swap',
      hint = 'change them in the same migration, or give alter_column_type online: false to rewrite the table in place';
  end if;
  if exists (select 1 from pg_attribute where attrelid = ${quoteLiteral(table.sql)}::regclass and attname = ${quoteLiteral(name)} and attacl is not null) then
    raise exception using errcode = 'feature_not_supported',
      message = ${what} || 'it has column privileges, which would stay with the old column',
      hint = 'give alter_column_type online: false to rewrite the table in place';
  end if;
end`)}`,
  );
}

export interface OnlineTypeChange {
  type: string;
  using?: string | undefined;
  down_using?: string | undefined;
}

/** The steps of an online type change (see the top of this file); `why` says why it is online. */
export function planOnline(spec: OnlineTypeChange, ctx: PlanContext, table: Rel, model: TableModel, col: ColumnModel, why: string): StepDraft[] {
  const name = col.name;
  const display = column(table, name);
  const n = namesFor(table, name);
  const fresh = quoteIdent(n.fresh);
  const old = quoteIdent(name);
  const alter = `ALTER TABLE ${table.sql}`;
  const key = rowKey(model, [name])!;
  const indexes = plainIndexes(ctx.schema, table, name);
  const checks = constraintsOf(model).filter((c) => c.type === 'check' && c.columns.includes(name));
  const validate = [...(col.nullable ? [] : [n.notNull]), ...checks.flatMap((c, i) => (c.valid ? [n.check(i)] : []))];
  const steps: StepDraft[] = [];
  const total = 3 + indexes.length + (validate.length > 0 ? 1 : 0);
  const summary = (what: string) => `alter_column_type ${display} to ${spec.type} (online ${steps.length + 1}/${total}: ${what})`;
  const base = { kind: 'alter_column_type', touches: [table.key], risk: Risk.medium, lint: [] as LintFinding[] };

  const forwardValue = spec.using ?? old;
  const backValue = spec.down_using ?? `${old}::${columnType(col)}`;
  // Without using, the assignment converts as the in-place ALTER would (an assignment cast).
  const toNew = syncFunction(n.fn, fresh, spec.using ?? { column: name });
  steps.push({
    ...base,
    summary: summary(`add ${n.fresh}, kept in step by a trigger`),
    forward: [
      tx(`${alter} ADD COLUMN ${fresh} ${spec.type}`),
      ...(col.nullable ? [] : [tx(`${alter} ADD CONSTRAINT ${quoteIdent(n.notNull)} CHECK (${fresh} IS NOT NULL) NOT VALID`)]),
      ...checks.map((c, i) => tx(`${alter} ADD CONSTRAINT ${quoteIdent(n.check(i))} ${renameInDefinition(c.definition.replace(/ NOT VALID$/, ''), name, n.fresh)} NOT VALID`)),
      toNew,
      tx(`CREATE TRIGGER ${quoteIdent(n.trigger)} BEFORE INSERT OR UPDATE ON ${table.sql} FOR EACH ROW EXECUTE FUNCTION ${n.fn}()`),
    ],
    inverse: [tx(`DROP TRIGGER ${quoteIdent(n.trigger)} ON ${table.sql}`), tx(`DROP FUNCTION ${n.fn}()`), tx(`${alter} DROP COLUMN ${fresh}`)],
    lint: [
      {
        level: 'info',
        code: 'online_type_change',
        message:
          `${display} changes type online (${why}): a new column is filled in batches and kept in step by a trigger, then swapped in under a brief ` +
          'ACCESS EXCLUSIVE lock that waits at most lock_timeout. The old column is retired, kept in step the other way until the migration ends, ' +
          'so rolling back is a rename; it is purged with its old indexes once the migration is applied and its retention has ended',
      },
      {
        level: 'warning',
        code: 'column_order',
        message: `after the swap ${display} is the last column of ${table.display}: SELECT * and INSERT without a column list see the columns in another order, and the retired column until it is purged`,
      },
      {
        level: 'info',
        code: 'sync_trigger',
        message:
          `until the migration ends, a write to ${table.display} whose value of ${name} does not convert ` +
          `(to ${spec.type}${spec.using === undefined ? '' : ` by ${spec.using}`}, and back by ${backValue} after the swap) fails, as the in-place change would`,
      },
    ],
  });

  const set = `${fresh} = ${forwardValue}`;
  // The fill is an UPDATE of every row: the table's own row triggers on UPDATE fire for each.
  const fired = Object.values(model.triggers ?? {}).filter((t) => t.enabled !== 'disabled' && /\b(?:BEFORE|AFTER) (?:[A-Z ]+ OR )?UPDATE\b/.test(t.definition) && / FOR EACH ROW /.test(t.definition));
  steps.push({
    ...base,
    ...(fired.length === 0
      ? {}
      : {
          lint: [
            {
              level: 'warning',
              code: 'fill_fires_triggers',
              message: `filling the new column updates every row of ${table.display}, so its trigger${fired.length === 1 ? '' : 's'} ${fired.map((t) => t.name).join(', ')} fire${fired.length === 1 ? 's' : ''} for each (an updated_at trigger would touch every row); give online: false to rewrite in place, where triggers do not fire`,
            },
          ],
        }),
    summary: summary(`fill ${n.fresh} in batches`),
    forward: [tx(`UPDATE ${table.sql} SET ${set}`)],
    inverse: [],
    batch: { size: DEFAULT_BATCH_SIZE, adaptive: true, key, update: { schema: table.schema, table: table.name, set } },
  });

  indexes.forEach((index, i) => {
    const built = concurrentIndexDefinition(renameIndexInDefinition(renameInDefinition(index.definition, name, n.fresh), n.index(i)));
    const target = `${quoteIdent(table.schema)}.${quoteIdent(n.index(i))}`;
    steps.push({
      ...base,
      summary: summary(`index ${index.name} again over ${n.fresh}`),
      forward: [{ sql: built, transactional: false }],
      inverse: [{ sql: `DROP INDEX CONCURRENTLY IF EXISTS ${target}`, transactional: false }],
      probe: { kind: 'index_exists', schema: table.schema, name: n.index(i) },
      inverseProbe: { kind: 'index_absent', schema: table.schema, name: n.index(i) },
      touches: [table.key, `${table.schema}.${index.name}`],
    });
  });

  if (validate.length > 0) {
    steps.push({
      ...base,
      summary: summary(`validate ${validate.join(', ')}`),
      forward: validate.map((c) => tx(`${alter} VALIDATE CONSTRAINT ${quoteIdent(c)}`)),
      inverse: [],
    });
  }

  const retired = retiredPlaceholder(0);
  const renameIndex = (from: string, to: string) => tx(`ALTER INDEX ${quoteIdent(table.schema)}.${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
  const renameCheck = (from: string, to: string) => tx(`${alter} RENAME CONSTRAINT ${quoteIdent(from)} TO ${quoteIdent(to)}`);
  steps.push({
    ...base,
    summary: summary(`swap ${n.fresh} in under a brief lock`),
    forward: [
      tx(`LOCK TABLE ${table.sql} IN ACCESS EXCLUSIVE MODE`),
      swapGuard(table, name),
      // The validated check lets SET NOT NULL skip its scan of the table.
      ...(col.nullable ? [] : [tx(`${alter} ALTER COLUMN ${fresh} SET NOT NULL`), tx(`${alter} DROP CONSTRAINT ${quoteIdent(n.notNull)}`)]),
      ...(col.default === null ? [] : [tx(`${alter} ALTER COLUMN ${fresh} SET DEFAULT ${col.default}`)]),
      ...(col.comment === undefined ? [] : [tx(`COMMENT ON COLUMN ${table.sql}.${fresh} IS ${quoteLiteral(col.comment)}`)]),
      tx(`${alter} RENAME COLUMN ${old} TO ${retired}`),
      tx(`${alter} RENAME COLUMN ${fresh} TO ${old}`),
      ...indexes.flatMap((index, i) => [renameIndex(index.name, n.retiredIndex(i)), renameIndex(n.index(i), index.name)]),
      ...checks.flatMap((c, i) => [renameCheck(c.name, n.retiredCheck(i)), renameCheck(n.check(i), c.name)]),
      syncFunction(n.fn, retired, spec.down_using ?? { column: name, cast: columnType(col) }),
    ],
    inverse: [
      tx(`LOCK TABLE ${table.sql} IN ACCESS EXCLUSIVE MODE`),
      ...checks.flatMap((c, i) => [renameCheck(c.name, n.check(i)), renameCheck(n.retiredCheck(i), c.name)]),
      ...indexes.flatMap((index, i) => [renameIndex(index.name, n.index(i)), renameIndex(n.retiredIndex(i), index.name)]),
      tx(`${alter} RENAME COLUMN ${old} TO ${fresh}`),
      tx(`${alter} RENAME COLUMN ${retired} TO ${old}`),
      toNew,
    ],
    retire: [{ kind: 'column', schema: table.schema, table: table.name, column: name }],
  });
  return steps;
}
