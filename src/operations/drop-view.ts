import { z } from 'zod';
import { createViewSql } from './create-view';
import { qualifiedName, strict, text } from './fields';
import { relFromText } from './model';
import { requireView } from './model-objects';
import { fromCatalogNote } from './notes';
import { Risk, type Operation, type PlanContext, type StepDraft } from './types';

export const dropViewSpec = strict(
  {
    name: qualifiedName('the view to drop, e.g. active_users or billing.open_invoices'),
    sql: text("the view's query: optional, used to recreate it on rollback when the plan is made offline").optional(),
  },
  'drop_view: { name, sql }',
);
export type DropViewSpec = z.output<typeof dropViewSpec>;

export const dropView = {
  kind: 'drop_view',
  plan(spec: DropViewSpec, ctx: PlanContext) {
    const name = relFromText(spec.name);
    const model = requireView(ctx, name);
    // The catalog's definition wins: it is what the view is, whatever the manifest says.
    const view = model ?? (spec.sql === undefined ? undefined : { definition: spec.sql });
    const draft: StepDraft = {
      kind: 'drop_view',
      summary: `drop_view ${name.display}`,
      forward: [{ sql: `DROP VIEW ${name.sql}`, transactional: true }],
      inverse: view === undefined ? null : createViewSql(name, view),
      touches: [name.key],
      risk: Risk.medium,
      lint: [{ level: 'warning', code: 'breaks_clients', message: `queries that read ${name.display} fail once it is dropped` }],
    };
    if (view === undefined) draft.inverseNote = `${fromCatalogNote(`view ${name.display}`)}; give sql: to see it here`;
    if (model !== undefined) delete ctx.schema.views?.[name.key];
    return [draft];
  },
} satisfies Operation<DropViewSpec>;
