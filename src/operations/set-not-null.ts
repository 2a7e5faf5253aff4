import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import type { TableModel } from '../db/schema-model';
import { identifier, qualifiedName, strict } from './fields';
import { column, isNewTable, knowsPresence, relFromText, requireColumn, requireTable } from './model';
import { constraintsOf } from './model-constraints';
import { PlanError, Risk, type LintFinding, type Operation, type PlanContext } from './types';

export const setNotNullSpec = strict(
  {
    table: qualifiedName('the table, e.g. users or billing.invoices'),
    column: identifier('the column that must not hold NULL'),
  },
  'set_not_null: { table, column }',
);
export type SetNotNullSpec = z.output<typeof setNotNullSpec>;

/** Text with parentheses, spaces and unquoted case folded away, for comparing expressions. */
function squash(text: string): string {
  return text.replace(/"(?:[^"]|"")*"|[^"]+/g, (part) => (part.startsWith('"') ? part : part.toLowerCase().replace(/[\s()]/g, '')));
}

/**
 * A validated CHECK (c IS NOT NULL) on the table: with it, SET NOT NULL (Postgres 12+)
 * skips the scan of the table.
 */
export function notNullCheck(model: TableModel | undefined, name: string): string | undefined {
  const forms = [`check${squash(quoteIdent(name))}isnotnull`];
  if (/^[a-z_][a-z0-9_$]*$/.test(name)) forms.push(`check${name}isnotnull`);
  return constraintsOf(model).find((c) => c.type === 'check' && c.valid && forms.includes(squash(c.definition)))?.name;
}

export const setNotNull = {
  kind: 'set_not_null',
  plan(spec: SetNotNullSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const col = requireColumn(ctx, table, model, spec.column);
    const name = column(table, spec.column);
    if (col !== undefined && !col.nullable && knowsPresence(ctx)) {
      throw new PlanError(`column ${name} is already NOT NULL`, ctx.path, 'remove the operation (rolling it back would make the column accept NULL)');
    }

    const lint: LintFinding[] = [];
    let risk: Risk = Risk.low;
    const check = notNullCheck(model, spec.column);
    if (check !== undefined) {
      lint.push({ level: 'info', code: 'not_null_from_check', message: `the validated constraint ${check} proves ${name} has no NULLs, so Postgres skips the scan; drop_constraint it afterwards if you like` });
    } else if (!isNewTable(ctx, table.key)) {
      risk = Risk.medium;
      lint.push({
        level: 'warning',
        code: 'scan_under_lock',
        message:
          `SET NOT NULL scans every row of ${table.display} under an ACCESS EXCLUSIVE lock (reads and writes wait); ` +
          `to avoid it, add_constraint { check: "${spec.column} IS NOT NULL", not_valid: true } first (validated without blocking), then set_not_null skips the scan`,
      });
    }
    if (col !== undefined) col.nullable = false;

    const alter = `ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(spec.column)}`;
    return [
      {
        kind: 'set_not_null',
        summary: `set_not_null ${name}`,
        forward: [{ sql: `${alter} SET NOT NULL`, transactional: true }],
        inverse: [{ sql: `${alter} DROP NOT NULL`, transactional: true }],
        touches: [table.key],
        risk,
        lint,
      },
    ];
  },
} satisfies Operation<SetNotNullSpec>;
