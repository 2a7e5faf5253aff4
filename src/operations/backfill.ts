import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/ident';
import { expression, flag, friendly, identifier, qualifiedName, strict } from './fields';
import { SNAPSHOT_SCHEMA, SYNC_TRIGGER_PREFIX } from '../db/schemas';
import { expressionColumns, shortDigest } from './naming';
import { column, isNewColumn, relFromText, requireColumn, requireTable, type Rel } from './model';
import { requireRowKey, rowKey } from './model-constraints';
import { fromCatalogNote } from './notes';
import { changesLog } from './restore';
import { OP_COLUMN } from '../db/changes';
import { PlanError, Risk, snapshotPlaceholder, type LintFinding, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

/** Rows per batch when the manifest gives no batch_size. */
export const DEFAULT_BATCH_SIZE = 1000;

export const backfillSpec = strict(
  {
    table: qualifiedName('the table to fill, e.g. users or billing.invoices'),
    set: z
      .record(identifier('a column name'), expression('the value to set, computed per row'), {
        error: friendly('a mapping of column: expression', 'e.g. { email_norm: "lower(email)" }'),
      })
      .check((ctx) => {
        if (Object.keys(ctx.value).length === 0) ctx.issues.push({ code: 'custom', message: 'set needs at least one column: expression', input: ctx.value });
      }),
    where: expression('which rows to fill, e.g. email_norm is null').optional(),
    batch_size: z
      .number({ error: friendly('a whole number of rows', 'how many rows to update per committed batch') })
      .int({ error: 'expected a whole number of rows' })
      .positive({ error: 'expected at least 1 row per batch' })
      .optional(),
    sync: flag(
      'keep the columns in step on rows the application inserts or updates while the migration runs (a trigger computes them), removed when it ends either way',
    ).optional(),
  },
  'backfill: { table, set: { column: expression }, where, batch_size, sync }',
);
export type BackfillSpec = z.output<typeof backfillSpec>;

/** The GUC a transaction sets to 'off' so that a backfill's sync trigger leaves its writes alone (the batches, a restore). */
export const SYNC_SETTING = 'godwit.sync';

/**
 * `sync: true`: a BEFORE INSERT OR UPDATE trigger that computes the set columns on the
 * application's writes (where `where` holds), so rows it writes while the batches run get
 * the new values too. It is created with the step's change log, before the first batch, and
 * logs each row it changes there (as the application wrote it, then as it left it), so a
 * rollback undoes its writes with the batches', in one pass and by the same rule: a value
 * goes back only where it is still the one the migration computed. It leaves alone a
 * transaction that sets godwit.sync to off: the batches (which compute the same values) and
 * a restore. A rollback drops it before restoring; once the migration is applied it goes
 * too (src/db/sync.ts): it lives exactly as long as the migration.
 */
function syncActions(spec: BackfillSpec, table: Rel, key: string[] | undefined, logged: boolean, ctx: PlanContext): { trigger: string; create: SqlAction[]; drop: SqlAction[] } {
  const columns = Object.keys(spec.set);
  for (const [name, value] of Object.entries(spec.set)) {
    const reads = expressionColumns(value, columns);
    if (reads.length > 0) {
      throw new PlanError(
        `sync keeps ${column(table, name)} computed on every write, but its expression reads ${reads.join(', ')}, which the backfill sets: each write would change it again`,
        ctx.path,
        'remove sync: true, or compute the column from columns the backfill does not set',
      );
    }
  }
  if (key === undefined) {
    throw new PlanError(`sync needs a primary key or a unique NOT NULL key of ${table.display} to batch and log by; it has none known`, ctx.path, 'remove sync: true, or add a key first');
  }
  const h = shortDigest(`${table.key}\u0000${columns.join('\u0000')}`);
  const trigger = `${SYNC_TRIGGER_PREFIX}${h}`;
  const fn = `${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(trigger)}`;
  const loggedColumns = [...new Set([...key, ...columns])].map(quoteIdent);
  const image = (op: 'o' | 'n') =>
    `insert into ${snapshotPlaceholder(0)} (${[...loggedColumns, quoteIdent(OP_COLUMN)].join(', ')}) values (${[...loggedColumns.map((c) => `NEW.${c}`), `'${op}'`].join(', ')});`;
  const sets = Object.entries(spec.set).map(([name, value]) => `NEW.${quoteIdent(name)} := (select ${value} from (select NEW.*) as godwit_row);`);
  const change = [...(logged ? [image('o')] : []), ...sets, ...(logged ? [image('n')] : [])];
  const guarded = spec.where === undefined ? change.map((l) => `  ${l}`) : [`  if (select (${spec.where}) from (select NEW.*) as godwit_row) then`, ...change.map((l) => `    ${l}`), '  end if;'];
  const body = ['begin', `  if current_setting('${SYNC_SETTING}', true) = 'off' then return NEW; end if;`, ...guarded, '  return NEW;', 'end'].join('\n');
  return {
    trigger,
    create: [
      { sql: `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS ${quoteLiteral(body)}`, transactional: true },
      { sql: `DROP TRIGGER IF EXISTS ${quoteIdent(trigger)} ON ${table.sql}`, transactional: true },
      { sql: `CREATE TRIGGER ${quoteIdent(trigger)} BEFORE INSERT OR UPDATE ON ${table.sql} FOR EACH ROW EXECUTE FUNCTION ${fn}()`, transactional: true },
    ],
    drop: [
      { sql: `DROP TRIGGER IF EXISTS ${quoteIdent(trigger)} ON ${table.sql}`, transactional: true },
      { sql: `DROP FUNCTION IF EXISTS ${fn}()`, transactional: true },
    ],
  };
}

export const backfill = {
  kind: 'backfill',
  plan(spec: BackfillSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const columns = Object.keys(spec.set);
    for (const name of columns) {
      const col = requireColumn(ctx, table, model, name);
      if (col?.generated !== undefined) throw new PlanError(`column ${column(table, name)} is generated: Postgres computes its values`, ctx.path, `remove ${name} from set`);
      if (col?.identity === 'always') {
        throw new PlanError(`column ${column(table, name)} is GENERATED ALWAYS AS IDENTITY and cannot be set`, ctx.path, `remove ${name} from set`);
      }
    }

    const assignments = Object.entries(spec.set).map(([name, value]) => `${quoteIdent(name)} = ${value}`);
    const what = columns.length === 1 ? column(table, columns[0] ?? '') : `${table.display} (${columns.join(', ')})`;
    const draft: StepDraft = {
      kind: 'backfill',
      summary: `backfill ${what}`,
      forward: [{ sql: `UPDATE ${table.sql} SET ${assignments.join(', ')}${spec.where === undefined ? '' : ` WHERE ${spec.where}`}`, transactional: true }],
      inverse: null,
      touches: [table.key],
      risk: Risk.medium,
      lint: [],
    };

    // Filling columns this migration added overwrites nothing worth keeping: their own
    // inverse (drop_column, drop_table) removes the values.
    const fillsNewColumns = columns.every((name) => isNewColumn(ctx, table.key, name));
    if (fillsNewColumns) {
      draft.inverse = [];
      draft.risk = Risk.low;
    } else if (model === undefined) {
      draft.inverseNote = fromCatalogNote(`the key of ${table.display}`);
    } else {
      const key = requireRowKey(ctx, table, model, columns, `the values this backfill overwrites`, 'backfill only columns added earlier in this manifest');
      // No copy of the table: each batch logs the rows it changes, before and after, in its
      // own statement. Rolling back puts back the old values batch by batch (an UPDATE: the
      // columns are live, and only the rows the backfill changed come back), and only where
      // a value is still the one the backfill wrote: the application's later writes win.
      draft.snapshots = [changesLog(table, key, columns, 'batches')];
      draft.inverse = [];
      draft.risk = Risk.high;
      draft.lint.push({
        level: 'warning',
        code: 'destructive',
        message: `overwrites ${what}; each batch logs the values it overwrites, and rolling back puts them back where the application has not changed them since`,
      });
    }

    const key = model === undefined ? undefined : rowKey(model, columns);
    const size = spec.batch_size ?? DEFAULT_BATCH_SIZE;
    const lint: LintFinding[] = draft.lint;
    const log = draft.snapshots?.find((x) => x.kind === 'changes');
    // Planned without the catalog (no --target), the table's key is unknown: the worker plans the trigger.
    const sync = spec.sync === true && model !== undefined ? syncActions(spec, table, key, log !== undefined, ctx) : null;
    if (spec.sync === true && model === undefined) {
      lint.push({ level: 'info', code: 'sync_trigger', message: `a trigger keeps ${what} in step on the application's writes until the migration ends; its SQL is planned against the target's catalog` });
    }
    if (key !== undefined) {
      draft.batch = {
        size,
        adaptive: spec.batch_size === undefined,
        key,
        update: { schema: table.schema, table: table.name, set: assignments.join(', '), ...(spec.where === undefined ? {} : { where: spec.where }) },
        ...(sync === null ? {} : { sync: sync.create }),
      };
    } else if (spec.batch_size !== undefined) {
      lint.push({ level: 'info', code: 'batch_size', message: `batch_size ${size} needs a key to batch by; ${table.display} has none known, so the update runs as one statement` });
    }
    if (sync !== null) {
      if (log !== undefined) log.trigger = sync.trigger;
      draft.inverse = [...(draft.inverse ?? []), ...sync.drop];
      draft.forward = [...sync.create, ...draft.forward];
      lint.push({
        level: 'info',
        code: 'sync_trigger',
        message: `until the migration ends, every insert and update of ${table.display} computes ${what} as the backfill does${spec.where === undefined ? '' : ` where ${spec.where}`} (trigger ${sync.trigger}); a rollback undoes its writes with the backfill's, and it is removed when the migration ends either way`,
      });
    }
    return [draft];
  },
} satisfies Operation<BackfillSpec>;
