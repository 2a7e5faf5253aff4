import { z } from 'zod';
import { parseQualifiedName, qualifiedKey } from '../db/ident';
import { flag, list, qualifiedName, strict, text } from './fields';
import { uniq } from './model';
import { Risk, type LintFinding, type Operation, type PlanContext, type StepDraft } from './types';

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

export const sql = {
  kind: 'sql',
  plan(spec: SqlSpec, ctx: PlanContext) {
    const transactional = spec.transactional ?? true;
    const touches =
      spec.touches !== undefined
        ? uniq(spec.touches.map((t) => qualifiedKey(parseQualifiedName(t))))
        : uniq([...tablesWrittenBy(spec.up), ...tablesWrittenBy(spec.down ?? '')]);

    const lint: LintFinding[] = [];
    if (spec.down === undefined && spec.irreversible !== true) {
      lint.push({
        level: 'warning',
        code: 'no_down',
        message: 'this sql step has no down, so it cannot be rolled back by SQL; add down, or set irreversible: true to acknowledge',
      });
    }
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

    // The effect of raw SQL on the schema is unknown: stop trusting the model.
    ctx.afterRawSql = true;

    const draft: StepDraft = {
      kind: 'sql',
      summary: `sql ${firstLine(spec.up)}`,
      forward: [{ sql: spec.up, transactional }],
      inverse: spec.down === undefined ? null : [{ sql: spec.down, transactional }],
      touches,
      risk: spec.down === undefined ? Risk.high : Risk.medium,
      lint,
    };
    if (spec.down === undefined) {
      draft.inverseNote =
        spec.irreversible === true
          ? 'marked irreversible: restoring what it changed needs a snapshot of the tables it touches, which Godwit does not take yet; this step cannot be rolled back'
          : 'no down SQL was given: restoring what it changed needs a snapshot of the tables it touches, which Godwit does not take yet; this step cannot be rolled back';
    }
    return [draft];
  },
} satisfies Operation<SqlSpec>;
