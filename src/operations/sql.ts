import { z } from 'zod';
import { flag, list, qualifiedName, strict, text } from './fields';
import { getOwn, knowsPresence, rel, relFromText, requireTable, uniq, type Rel } from './model';
import { changesLog, tableSnapshot } from './restore';
import { rowKey } from './model-constraints';
import { referencedFirst, requireReferencesTouched, restoreTables, snapshotSet } from './sql-snapshot';
import { readSql, type SqlReading, type TableName } from './sql-tables';
import { PlanError, Risk, type ChangesSpec, type LintFinding, type Operation, type PlanContext, type StepDraft } from './types';

export const sqlSpec = strict(
  {
    up: text('the SQL to run'),
    down: text('SQL that undoes up').optional(),
    touches: list(qualifiedName('a table, e.g. users or billing.invoices'), 'the tables this SQL writes').optional(),
    irreversible: flag('acknowledge that this step has no down').optional(),
    transactional: flag('false for statements that cannot run in a transaction, e.g. CREATE INDEX CONCURRENTLY').optional(),
  },
  'sql: { up, down, touches, irreversible, transactional }',
).check((ctx) => {
  if (ctx.value.irreversible === true && ctx.value.down !== undefined) {
    ctx.issues.push({ code: 'custom', message: 'irreversible: true contradicts down; remove one of them', input: ctx.value });
  }
});
export type SqlSpec = z.output<typeof sqlSpec>;

function firstLine(sql: string): string {
  const line = sql
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !l.startsWith('--'));
  const oneLine = (line ?? sql.trim()).replace(/\s+/g, ' ');
  return oneLine.length > 60 ? `${oneLine.slice(0, 59)}…` : oneLine;
}


const relOf = (t: TableName): Rel => rel(t.schema, t.table);

const names = (tables: Rel[]): string => tables.map((t) => t.display).join(', ');

/**
 * Rolling back an sql step without a down: restore every table it writes from a
 * snapshot taken just before it. `touches` says which tables (trusted as given);
 * without it they are read from the parsed SQL, and the step is refused when the SQL
 * does anything such a snapshot cannot undo.
 */
function planRestore(spec: SqlSpec, ctx: PlanContext, up: SqlReading, draft: StepDraft): void {
  const listed = spec.touches?.map(relFromText);
  let tables: Rel[];
  let referencing: Rel[] = [];
  if (listed !== undefined) {
    requireReferencesTouched(ctx, listed);
    tables = listed;
  } else {
    const written = up.tables.map(relOf);
    for (const table of written) if (getOwn(ctx.schema.views ?? {}, table.key) === undefined) requireTable(ctx, table);
    const set = snapshotSet(ctx, written);
    const cannot = [...up.unknown, ...set.unknown];
    if (cannot.length > 0) {
      throw new PlanError(
        `this sql step has no down, and a snapshot of the tables it writes cannot undo everything it does: ${cannot.join('; ')}`,
        ctx.path,
        `give down: SQL that undoes it, touches: [tables] if you know it changes only the rows of those tables${written.length > 0 ? ` (it writes ${names(written)})` : ''}, or irreversible: true`,
      );
    }
    tables = set.tables;
    referencing = set.referencing;
    draft.touches = uniq([...draft.touches, ...tables.map((t) => t.key)]);
  }
  if (tables.length === 0) {
    draft.inverse = [];
    draft.risk = Risk.medium;
    draft.lint.push({ level: 'info', code: 'writes_nothing', message: 'this SQL writes no table, so rolling it back has nothing to undo' });
    return;
  }
  if (spec.transactional === false) {
    throw new PlanError(
      'an sql step with transactional: false and no down cannot be rolled back: its snapshot is taken in the transaction of the step',
      ctx.path,
      'give down: SQL that undoes it, or set irreversible: true',
    );
  }
  const included = referencing.length === 0 ? '' : ` (${names(referencing)} because ${referencing.length === 1 ? 'it references' : 'they reference'} a table it writes)`;
  const logged = changeLogs(up, ctx, tables);
  if (typeof logged !== 'string') {
    draft.snapshots = logged;
    draft.inverse = [];
    draft.lint.push({
      level: 'info',
      code: 'restored_from_change_log',
      message:
        `rolling back puts back the rows this SQL changes in ${names(tables)}${included}, recorded as it runs by triggers that fire only in its transaction, ` +
        `and only where the application has not changed them since; SQL that also changes their structure needs a down instead`,
    });
    return;
  }
  draft.snapshots = tables.map(tableSnapshot);
  draft.inverse = restoreTables(ctx, tables);
  draft.lint.push({
    level: 'warning',
    code: 'restored_from_snapshot',
    message:
      `rolling back empties ${names(tables)}${included} and puts back their rows from copies taken before this step (${logged}): ` +
      `the copy locks them against writes while it is taken, and the application's writes made after it would be undone, so run it when nobody writes to them; ` +
      `SQL that also changes their structure needs a down instead`,
  });
}

/**
 * Change logs for the tables an sql step writes, parents before children, or why a whole
 * table copy has to do: a table without a row key, a TRUNCATE (which fires no row
 * triggers), or a plan made without the database.
 */
function changeLogs(up: SqlReading, ctx: PlanContext, tables: Rel[]): ChangesSpec[] | string {
  if (!knowsPresence(ctx)) return 'planned without the database, so the tables\' keys are not known';
  if (up.truncates) return 'it truncates, which no change log records';
  const out: ChangesSpec[] = [];
  for (const table of referencedFirst(ctx, tables)) {
    const model = getOwn(ctx.schema.tables, table.key);
    const key = model === undefined ? undefined : rowKey(model);
    if (key === undefined) return `${table.display} has no primary key or unique NOT NULL key to log its rows by`;
    out.push(changesLog(table, key, undefined, 'triggers'));
  }
  return out;
}

export const sql = {
  kind: 'sql',
  plan(spec: SqlSpec, ctx: PlanContext) {
    const transactional = spec.transactional ?? true;
    const up = readSql(spec.up, `${ctx.path}.up`);
    const down = spec.down === undefined ? undefined : readSql(spec.down, `${ctx.path}.down`);
    const read = [up, ...(down === undefined ? [] : [down])].flatMap((w) => [...w.tables, ...w.named]).map(relOf);

    const lint: LintFinding[] = [];
    if (transactional && (up.outsideTransaction.length > 0 || (down?.outsideTransaction.length ?? 0) > 0)) {
      lint.push({
        level: 'error',
        code: 'needs_no_transaction',
        message: 'this SQL cannot run inside a transaction block (CONCURRENTLY, VACUUM...); set transactional: false and keep it to one statement',
      });
    }

    const draft: StepDraft = {
      kind: 'sql',
      summary: `sql ${firstLine(spec.up)}`,
      forward: [{ sql: spec.up, transactional }],
      inverse: spec.down === undefined ? null : [{ sql: spec.down, transactional }],
      touches: spec.touches === undefined ? uniq(read.map((t) => t.key)) : uniq(spec.touches.map((t) => relFromText(t).key)),
      risk: spec.down === undefined ? Risk.high : Risk.medium,
      lint,
    };
    if (spec.down === undefined && spec.irreversible === true) {
      draft.inverseNote = 'marked irreversible: this step cannot be rolled back';
    } else if (spec.down === undefined) {
      planRestore(spec, ctx, up, draft);
    } else if (transactional && up.unknown.length === 0 && up.tables.length > 0) {
      // A down is the author's word. Log what up changes anyway, so the rollback can prove
      // that down put those rows back (where the application has not changed them since).
      const logged = changeLogs(up, ctx, snapshotSet(ctx, up.tables.map(relOf)).tables);
      if (typeof logged !== 'string') draft.snapshots = logged.map((l) => ({ ...l, proveOnly: true }));
    }
    if (spec.touches === undefined && draft.touches.length === 0 && up.unknown.length > 0) {
      lint.push({
        level: 'info',
        code: 'touches_unknown',
        message: `which tables this SQL changes cannot be read from it (${up.unknown.join('; ')}); list them in touches so the rollback proof checksums their data`,
      });
    }

    // Statements beyond row writes may change the schema in ways the model cannot follow: stop trusting it.
    if (up.unknown.length > 0) ctx.afterRawSql = true;
    return [draft];
  },
} satisfies Operation<SqlSpec>;
