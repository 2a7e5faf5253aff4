/** Enums and views in ctx.schema, and the columns that use a type. */
import { displayName, parseQualifiedName, qualifiedKey } from '../db/ident';
import type { EnumModel, SchemaModel, ViewModel } from '../db/schema-model';
import { getOwn, knowsAbsence, type Rel } from './model';
import { didYouMean } from './suggest';
import { PlanError, type PlanContext } from './types';

/**
 * The SchemaModel key of the type a column type names (`public.mood` for `mood[]`,
 * `"Billing".Money`...), folding unquoted parts to lower case as Postgres does.
 */
export function typeKey(type: string): string | undefined {
  const base = type.trim().replace(/(\s*\[\s*\d*\s*\])+$/, '');
  const folded = base.replace(/"(?:[^"]|"")+"|[^".]+/g, (part) => (part.startsWith('"') ? part : part.trim().toLowerCase()));
  try {
    return qualifiedKey(parseQualifiedName(folded));
  } catch {
    return undefined;
  }
}

/** Columns whose type is the type `key` (or an array of it). */
export function columnsOfType(schema: SchemaModel, key: string): string[] {
  const found: string[] = [];
  for (const table of Object.values(schema.tables)) {
    for (const c of Object.values(table.columns)) {
      if (typeKey(c.type) === key) found.push(`${displayName(table)}.${c.name}`);
    }
  }
  return found;
}

/** The enum, or undefined when the model cannot tell; throws when it surely does not exist. */
export function requireEnum(ctx: PlanContext, name: Rel): EnumModel | undefined {
  const found = getOwn(ctx.schema.enums ?? {}, name.key);
  if (found !== undefined || !knowsAbsence(ctx)) return found;
  const known = Object.values(ctx.schema.enums ?? {}).filter((e) => e.schema === name.schema).map((e) => e.name);
  throw new PlanError(
    `enum type ${name.display} does not exist`,
    ctx.path,
    `${didYouMean(name.name, known).trim()} Check the name (schema-qualify it if it is not in public), or create it with create_enum first.`.trim(),
  );
}

/** The view, or undefined when the model cannot tell; throws when it surely does not exist. */
export function requireView(ctx: PlanContext, name: Rel): ViewModel | undefined {
  const found = getOwn(ctx.schema.views ?? {}, name.key);
  if (found !== undefined || !knowsAbsence(ctx)) return found;
  const known = Object.values(ctx.schema.views ?? {}).filter((v) => v.schema === name.schema).map((v) => v.name);
  const isTable = getOwn(ctx.schema.tables, name.key) !== undefined;
  throw new PlanError(
    isTable ? `${name.display} is a table, not a view` : `view ${name.display} does not exist`,
    ctx.path,
    isTable ? 'use drop_table to drop a table' : `${didYouMean(name.name, known).trim()} Check the name (schema-qualify it if it is not in public), or create it with create_view first.`.trim(),
  );
}
