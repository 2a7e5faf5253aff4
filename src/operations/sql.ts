import { z } from 'zod';
import { parseQualifiedName, qualifiedKey } from '../db/ident';
import { flag, list, qualifiedName, strict, text } from './fields';
import { getOwn, knowsPresence, rel, relFromText, uniq, type Rel } from './model';
import { constraintsOf, referencingForeignKeys } from './model-constraints';
import { insertFromSnapshotSql, writableColumns } from './recreate';
import { tableSnapshot } from './restore';
import { PlanError, Risk, snapshotPlaceholder, type LintFinding, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

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

const NAME = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QUALIFIED = String.raw`(${NAME}(?:\s*\.\s*${NAME})?)`;
const WRITES = new RegExp(
  String.raw`\b(?:insert\s+into|update(?:\s+only)?|delete\s+from(?:\s+only)?|truncate(?:\s+table)?(?:\s+only)?|alter\s+table(?:\s+if\s+exists)?(?:\s+only)?|create\s+(?:unlogged\s+)?table(?:\s+if\s+not\s+exists)?|drop\s+table(?:\s+if\s+exists)?|copy)\s+${QUALIFIED}`,
  'gi',
);

const INDEXES = new RegExp(String.raw`\bcreate\s+(?:unique\s+)?index\b[^;]*?\bon\s+(?:only\s+)?${QUALIFIED}`, 'gi');

/**
 * Best-effort list of the tables a SQL text writes, from the statements that name
 * their table up front (INSERT INTO, UPDATE, DELETE FROM, ALTER/CREATE/DROP TABLE,
 * TRUNCATE, COPY) and CREATE INDEX ... ON. `touches` in the spec is for everything this cannot see.
 */
export function tablesWrittenBy(sql: string): string[] {
  const withoutComments = sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
  const found: string[] = [];
  for (const match of [...withoutComments.matchAll(WRITES), ...withoutComments.matchAll(INDEXES)]) {
    const raw = match[1];
    if (raw === undefined) continue;
    const normalised = raw.replace(/\s*\.\s*/g, '.');
    // Unquoted SQL names fold to lower case; quoted parts keep theirs.
    const folded = normalised.replace(/"(?:[^"]|"")+"|[^".]+/g, (part) => (part.startsWith('"') ? part : part.toLowerCase()));
    try {
      found.push(qualifiedKey(parseQualifiedName(folded)));
    } catch {
      // Not a name we can read (e.g. an over-long identifier): leave it to `touches`.
    }
  }
  return uniq(found);
}

/** Statements Postgres refuses inside a transaction block. */
const NON_TRANSACTIONAL = /\b(?:concurrently|vacuum|create\s+database|drop\s+database|alter\s+system)\b/i;

function firstLine(sql: string): string {
  const line = sql
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !l.startsWith('--'));
  const oneLine = (line ?? sql.trim()).replace(/\s+/g, ' ');
  return oneLine.length > 60 ? `${oneLine.slice(0, 59)}…` : oneLine;
}

/**
 * The inverse of an sql step without down: empty the tables it writes (one TRUNCATE, so
 * foreign keys among them do not stand in the way) and put their rows back from the
 * snapshots, referenced tables first. Restores data, not structure: SQL that also alters
 * a table needs a down.
 */
function restoreTables(ctx: PlanContext, tables: Rel[]): SqlAction[] {
  const order = referencedFirst(ctx, tables);
  const inserts = order.map((table) => {
    const model = knowsPresence(ctx) ? getOwn(ctx.schema.tables, table.key) : undefined;
    const columns = model === undefined ? undefined : writableColumns(model);
    return { sql: insertFromSnapshotSql(table, columns, snapshotPlaceholder(tables.indexOf(table))), transactional: true };
  });
  return [{ sql: `TRUNCATE ${tables.map((t) => t.sql).join(', ')}`, transactional: true }, ...inserts];
}

/** `tables` with each table after the tables (among them) its foreign keys reference. */
function referencedFirst(ctx: PlanContext, tables: Rel[]): Rel[] {
  const keys = new Set(tables.map((t) => t.key));
  const parents = (t: Rel) =>
    constraintsOf(getOwn(ctx.schema.tables, t.key))
      .flatMap((c) => (c.type === 'foreign_key' && c.references !== undefined && c.references.table !== t.key && keys.has(c.references.table) ? [c.references.table] : []));
  const done: Rel[] = [];
  const visiting = new Set<string>();
  const visit = (t: Rel) => {
    if (done.includes(t) || visiting.has(t.key)) return;
    visiting.add(t.key);
    for (const p of parents(t)) {
      const parent = tables.find((x) => x.key === p);
      if (parent !== undefined) visit(parent);
    }
    done.push(t);
  };
  tables.forEach(visit);
  return done;
}

/** A foreign key from a table outside `touches` would make the TRUNCATE of the rollback fail. */
function requireReferencesTouched(ctx: PlanContext, tables: Rel[]): void {
  if (!knowsPresence(ctx)) return;
  const keys = new Set(tables.map((t) => t.key));
  for (const table of tables) {
    const outside = referencingForeignKeys(ctx.schema, table.key).find(({ table: other }) => !keys.has(`${other.schema}.${other.name}`));
    if (outside !== undefined) {
      const from = rel(outside.table.schema, outside.table.name);
      throw new PlanError(
        `${table.display} is referenced by foreign key ${from.display}.${outside.constraint.name}, so rolling back this step (TRUNCATE ${table.display}, then its rows from the snapshot) would fail`,
        ctx.path,
        `add ${from.display} to touches, or give down: SQL that undoes this step`,
      );
    }
  }
}

export const sql = {
  kind: 'sql',
  plan(spec: SqlSpec, ctx: PlanContext) {
    const transactional = spec.transactional ?? true;
    const listed = spec.touches?.map(relFromText);
    const touches =
      listed !== undefined ? uniq(listed.map((t) => t.key)) : uniq([...tablesWrittenBy(spec.up), ...tablesWrittenBy(spec.down ?? '')]);

    const lint: LintFinding[] = [];
    if (transactional && (NON_TRANSACTIONAL.test(spec.up) || NON_TRANSACTIONAL.test(spec.down ?? ''))) {
      lint.push({
        level: 'error',
        code: 'needs_no_transaction',
        message: 'this SQL cannot run inside a transaction block (CONCURRENTLY, VACUUM...); set transactional: false and keep it to one statement',
      });
    }
    if (spec.touches === undefined && touches.length === 0) {
      lint.push({ level: 'info', code: 'touches_unknown', message: 'no tables found in this SQL; list the tables it writes in touches' });
    }

    const draft: StepDraft = {
      kind: 'sql',
      summary: `sql ${firstLine(spec.up)}`,
      forward: [{ sql: spec.up, transactional }],
      inverse: spec.down === undefined ? null : [{ sql: spec.down, transactional }],
      touches,
      risk: spec.down === undefined ? Risk.high : Risk.medium,
      lint,
    };
    if (spec.down === undefined && spec.irreversible === true) {
      draft.inverseNote = 'marked irreversible: this step cannot be rolled back';
    } else if (spec.down === undefined) {
      // TODO(libpg-query): find the tables an sql step writes with the real Postgres parser,
      // so touches is only needed where parsing cannot tell (dynamic SQL, functions).
      if (listed === undefined) {
        const seen = tablesWrittenBy(spec.up);
        throw new PlanError(
          'this sql step has no down, so rolling it back means restoring the tables it writes from snapshots, and which tables those are is not given',
          ctx.path,
          `add touches: [tables it writes]${seen.length > 0 ? ` (it seems to write ${seen.join(', ')})` : ''}, down: SQL that undoes it, or irreversible: true`,
        );
      }
      if (!transactional) {
        throw new PlanError(
          'an sql step with transactional: false and no down cannot be rolled back: its snapshot is taken in the transaction of the step',
          ctx.path,
          'give down: SQL that undoes it, or set irreversible: true',
        );
      }
      requireReferencesTouched(ctx, listed);
      draft.snapshots = listed.map(tableSnapshot);
      draft.inverse = restoreTables(ctx, listed);
      lint.push({
        level: 'info',
        code: 'restored_from_snapshot',
        message: `rolling back empties ${listed.map((t) => t.display).join(', ')} and puts back their rows from snapshots taken before this step; SQL that also changes their structure needs a down instead`,
      });
    }

    // The effect of raw SQL on the schema is unknown: stop trusting the model.
    ctx.afterRawSql = true;
    return [draft];
  },
} satisfies Operation<SqlSpec>;
