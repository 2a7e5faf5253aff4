import { z } from 'zod';
import { quoteLiteral } from '../db/ident';
import type { ViewModel } from '../db/schema-model';
import { qualifiedName, strict, text } from './fields';
import { relFromText, requireRelationAbsent, requireSchema, setOwn, type Rel } from './model';
import { Risk, type Operation, type PlanContext, type SqlAction } from './types';

export const createViewSpec = strict(
  {
    name: qualifiedName('the view to create, e.g. active_users or billing.open_invoices'),
    sql: text("the view's query, e.g. select id, email from users where active"),
  },
  'create_view: { name, sql }',
);
export type CreateViewSpec = z.output<typeof createViewSpec>;

/** `CREATE VIEW ... [WITH (options)] AS <query>`, and its comment when it has one. */
export function createViewSql(name: Rel, view: Pick<ViewModel, 'definition' | 'options' | 'comment'>): SqlAction[] {
  const options = view.options === undefined ? '' : ` WITH (${view.options.join(', ')})`;
  const out: SqlAction[] = [{ sql: `CREATE VIEW ${name.sql}${options} AS ${view.definition}`, transactional: true }];
  if (view.comment !== undefined) out.push({ sql: `COMMENT ON VIEW ${name.sql} IS ${quoteLiteral(view.comment)}`, transactional: true });
  return out;
}

export const createView = {
  kind: 'create_view',
  plan(spec: CreateViewSpec, ctx: PlanContext) {
    const name = relFromText(spec.name);
    requireSchema(ctx, name);
    requireRelationAbsent(ctx, name, 'view', 'pick another name, or drop the existing view first with drop_view');
    setOwn((ctx.schema.views ??= {}), name.key, { schema: name.schema, name: name.name, definition: spec.sql });
    return [
      {
        kind: 'create_view',
        summary: `create_view ${name.display}`,
        forward: createViewSql(name, { definition: spec.sql }),
        inverse: [{ sql: `DROP VIEW ${name.sql}`, transactional: true }],
        touches: [name.key],
        risk: Risk.low,
        lint: [],
      },
    ];
  },
} satisfies Operation<CreateViewSpec>;
