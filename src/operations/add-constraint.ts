import { z } from 'zod';
import { quoteIdent } from '../db/ident';
import { constraintShape, planConstraint, requireOneKind } from './constraint';
import { flag, qualifiedName, strict } from './fields';
import { addIndex, column, getOwn, isNewTable, rel, relFromText, requireColumn, requireRelationAbsent, requireTable, uniq, type Rel } from './model';
import { constraintDisplay, constraintsOf, primaryKeyOf, requireConstraintAbsent, setConstraint } from './model-constraints';
import { fromCatalogNote } from './notes';
import { PlanError, Risk, type LintFinding, type Operation, type PlanContext, type SqlAction, type StepDraft } from './types';

export const addConstraintSpec = strict(
  {
    table: qualifiedName('the table to constrain, e.g. users or billing.invoices'),
    ...constraintShape,
    not_valid: flag('add it NOT VALID (existing rows are not checked), then VALIDATE it in a step of its own that does not block writes').optional(),
  },
  'add_constraint: { table, name, and one of check, unique, primary_key, foreign_key, exclude; not_valid }',
)
  .check(requireOneKind)
  .check((ctx) => {
    const v = ctx.value;
    if (v.not_valid === true && v.check === undefined && v.foreign_key === undefined) {
      ctx.issues.push({
        code: 'custom',
        message: 'not_valid applies to check and foreign_key constraints only (Postgres checks a unique, primary key or exclusion constraint while it builds its index)',
        input: v,
        path: ['not_valid'],
      });
    }
  });
export type AddConstraintSpec = z.output<typeof addConstraintSpec>;

/** The referenced table and columns of a foreign key must exist, and the column counts agree. */
function requireReferenced(ctx: PlanContext, table: Rel, target: Rel, columns: string[], referenced: string[] | undefined): void {
  const model = target.key === table.key ? getOwn(ctx.schema.tables, table.key) : requireTable(ctx, target);
  if (model === undefined) return;
  for (const name of referenced ?? []) requireColumn(ctx, target, model, name);
  const key = referenced ?? primaryKeyOf(ctx.schema, target);
  if (key === undefined) {
    throw new PlanError(`table ${target.display} has no primary key for the foreign key to reference`, ctx.path, 'name the referenced columns: references: { table, columns }');
  }
  if (key.length !== columns.length) {
    throw new PlanError(
      `the foreign key has ${columns.length} column(s) but references ${key.length} (${key.join(', ')})`,
      ctx.path,
      'give as many referencing columns as referenced ones, in the same order',
    );
  }
}

export const addConstraint = {
  kind: 'add_constraint',
  plan(spec: AddConstraintSpec, ctx: PlanContext) {
    const table = relFromText(spec.table);
    const model = requireTable(ctx, table);
    const notValid = spec.not_valid === true;
    const planned = planConstraint(table, spec, {
      ...(model !== undefined ? { columns: Object.keys(model.columns) } : {}),
      taken: (name) => constraintsOf(model).some((c) => c.name === name),
      primaryKeyOf: (target) => primaryKeyOf(ctx.schema, target),
      notValid,
    });
    const c = planned.model;
    for (const name of planned.columns) requireColumn(ctx, table, model, name);
    const existingKey = planned.primaryKey ? constraintsOf(model).find((k) => k.type === 'primary_key') : undefined;
    if (existingKey !== undefined) {
      throw new PlanError(`table ${table.display} already has a primary key, ${existingKey.name}`, ctx.path, 'drop it first with drop_constraint, or add a unique constraint instead');
    }
    requireConstraintAbsent(ctx, table, model, c.name, 'give the constraint another name with name:, or drop the existing one first with drop_constraint');
    if (planned.index !== undefined) requireRelationAbsent(ctx, rel(table.schema, planned.index.name), 'index', 'give the constraint another name with name:');
    if (planned.references !== undefined && spec.foreign_key !== undefined) {
      requireReferenced(ctx, table, planned.references, spec.foreign_key.columns, spec.foreign_key.references.columns);
    }

    const alter = `ALTER TABLE ${table.sql}`;
    const name = constraintDisplay(table, c.name);
    const draft: StepDraft = {
      kind: 'add_constraint',
      summary: `add_constraint ${name}${notValid ? ' (not valid)' : ''}`,
      forward: [{ sql: `${alter} ADD ${planned.sql}`, transactional: true }],
      inverse: [{ sql: `${alter} DROP CONSTRAINT ${quoteIdent(c.name)}`, transactional: true }],
      touches: uniq([table.key, ...(planned.index !== undefined ? [`${table.schema}.${planned.index.name}`] : []), ...(planned.references !== undefined ? [planned.references.key] : [])]),
      risk: Risk.low,
      lint: [],
    };

    // ADD PRIMARY KEY makes its columns NOT NULL; DROP CONSTRAINT leaves them so.
    if (planned.primaryKey) {
      const key = spec.primary_key?.columns ?? [];
      if (model === undefined) {
        draft.inverse = null;
        draft.inverseNote = fromCatalogNote(`which columns of the primary key of ${table.display} accept NULL today`);
      } else {
        for (const k of key) {
          const col = getOwn(model.columns, k);
          if (col?.nullable !== true) continue;
          draft.inverse?.push({ sql: `${alter} ALTER COLUMN ${quoteIdent(k)} DROP NOT NULL`, transactional: true });
          col.nullable = false;
        }
      }
    }

    if (!isNewTable(ctx, table.key)) lintExisting(draft, spec, table, notValid);
    if (model !== undefined) setConstraint(model, { ...c });
    if (planned.index !== undefined) addIndex(ctx.schema, planned.index);
    if (!notValid) return [draft];

    const validate: StepDraft = {
      kind: 'validate_constraint',
      summary: `validate_constraint ${name}`,
      forward: [{ sql: `${alter} VALIDATE CONSTRAINT ${quoteIdent(c.name)}`, transactional: true }],
      // Nothing to undo on its own: the add step's inverse drops the constraint.
      inverse: [] as SqlAction[],
      touches: draft.touches,
      risk: Risk.low,
      lint: [
        {
          level: 'info',
          code: 'validate_without_blocking',
          message: `VALIDATE CONSTRAINT checks the existing rows of ${table.display} while reads and writes go on (SHARE UPDATE EXCLUSIVE lock)`,
        },
      ],
    };
    const stored = getOwn(model?.constraints ?? {}, c.name);
    if (stored !== undefined) {
      stored.valid = true;
      stored.definition = stored.definition.replace(/ NOT VALID$/, '');
    }
    return [draft, validate];
  },
} satisfies Operation<AddConstraintSpec>;

function lintExisting(draft: StepDraft, spec: AddConstraintSpec, table: Rel, notValid: boolean): void {
  const lint: LintFinding[] = draft.lint;
  if (spec.check !== undefined || spec.foreign_key !== undefined) {
    if (notValid) return;
    draft.risk = Risk.medium;
    const lock =
      spec.check !== undefined
        ? `${table.display} is locked against reads and writes`
        : `writes to ${table.display} and to the referenced table are blocked`;
    lint.push({
      level: 'warning',
      code: 'validates_under_lock',
      message: `adding the constraint checks every existing row while ${lock}; set not_valid: true to add it at once and validate it in its own step without blocking`,
    });
    return;
  }
  draft.risk = Risk.medium;
  const kind = spec.primary_key !== undefined ? 'primary key' : spec.unique !== undefined ? 'unique constraint' : 'exclusion constraint';
  lint.push({
    level: 'warning',
    code: 'index_under_lock',
    message: `the ${kind} builds its index while ${table.display} is locked against writes${spec.primary_key !== undefined ? `, and makes ${spec.primary_key.columns.map((k) => column(table, k)).join(', ')} NOT NULL` : ''}`,
  });
}
