/**
 * Destroy late (see RetireSpec in types.ts): the SQL and the reasoning that drop_column and
 * drop_table share when they retire a column or table instead of dropping it. Retiring is a
 * rename, so it holds its lock for a catalog update rather than for a copy of the data, and
 * rolling back is a rename back, exact down to indexes and constraints. The price: until it
 * is purged, what was retired is still there for Postgres, and this file decides where that
 * would show to the application (and then falls back to the copy) or where it would let the
 * migration do what a real DROP refuses (and then refuses too).
 */
import { quoteIdent, quoteLiteral } from '../db/ident';
import { CONTROL_SCHEMA } from '../db/schemas';
import type { ColumnModel, ConstraintModel, IndexModel, SchemaModel, TableModel } from '../db/schema-model';
import { mentionsColumn, readIndexDefinition } from './definitions';
import { column, getOwn, tableIndexes, type Rel } from './model';
import { constraintsOf } from './model-constraints';
import { retiredPlaceholder, type LintFinding, type SqlAction } from './types';

const tx = (sql: string): SqlAction => ({ sql, transactional: true });

/** The lock a rename takes anyway, taken first so that no view or trigger can appear between the guard and the rename. */
export function lockSql(table: Rel): SqlAction {
  return tx(`LOCK TABLE ${table.sql} IN ACCESS EXCLUSIVE MODE`);
}

/** `DO '<plpgsql>'`: the body as one string literal, so no name inside it can end it. */
function doBlock(body: string): SqlAction {
  return tx(`DO ${quoteLiteral(body)}`);
}

/**
 * Refuses exactly what `ALTER TABLE ... DROP COLUMN` (without CASCADE) would refuse: an
 * object that depends on the column normally (a view, rule, policy, trigger column list or
 * WHEN, a publication's column list, a function body, a foreign key of another table), and
 * that the drop would not remove with it (a multi-column CHECK also depends on the column
 * normally, but automatically too, and goes with it), in the table and the tables inheriting
 * it, which the drop would reach. Without it a view would quietly go on reading the retired
 * column. The function is Godwit's own (control schema upgrade 5), so the plan stays readable.
 */
export function columnGuardSql(table: Rel, name: string): SqlAction {
  return tx(`SELECT ${quoteIdent(CONTROL_SCHEMA)}.refuse_drop_column(${quoteLiteral(table.sql)}, ${quoteLiteral(name)})`);
}

/**
 * Refuses exactly what `DROP TABLE` (without CASCADE) would refuse: objects that depend on
 * the table or its row type normally and are not its own (views, foreign keys of other
 * tables, inheritance children, functions taking its row type, columns of that type).
 */
export function tableGuardSql(table: Rel): SqlAction {
  return tx(`SELECT ${quoteIdent(CONTROL_SCHEMA)}.refuse_drop_table(${quoteLiteral(table.sql)})`);
}

/**
 * Rolling back a column whose NOT NULL was relaxed while it was retired: rows the application
 * inserted meanwhile have NULL in it, and SET NOT NULL would fail on them with a bare
 * constraint error. This says how many there are and what to do instead.
 */
export function nullCheckSql(table: Rel, name: string): SqlAction {
  const retired = retiredPlaceholder(0);
  const fill = `UPDATE ${table.sql} SET ${retired} = <value> WHERE ${retired} IS NULL`;
  return doBlock(`
declare n bigint;
begin
  select count(*) into n from ${table.sql} where ${retired} is null;
  if n > 0 then
    raise exception using errcode = 'not_null_violation',
      message = ${quoteLiteral(`cannot restore NOT NULL column ${column(table, name)}: `)} || n || ${quoteLiteral(` rows inserted while it was retired have no value in it (NULL in ${retired})`)},
      hint = ${quoteLiteral(`fill them (${fill}) and run godwit retry-rollback; next time, give drop_column a down: the value for rows inserted while the column is retired`)};
  end if;
end`);
}

/** Defaults that hand each row a value of its own, so a unique index over the column stays satisfied. */
const PER_ROW_DEFAULT = /^(nextval\(|gen_random_uuid\(\)$|uuid_generate_v[14]\(\)$|uuidv[47]\(\)$)/i;

/** An index whose entries must not collide: unique, or backing an exclusion constraint. */
function collidingIndexes(schema: SchemaModel, table: Rel, model: TableModel): IndexModel[] {
  const exclusion = new Set(constraintsOf(model).flatMap((c) => (c.type === 'exclude' && c.index !== undefined ? [c.index] : [])));
  return tableIndexes(schema, table.key)
    .map(([, index]) => index)
    .filter((index) => index.unique || exclusion.has(index.name));
}

/** The value rows inserted while the column is retired get: `down`, its default, its identity or generated value, or NULL. */
export interface InsertValue {
  /** SQL of the value, or null for NULL. */
  sql: string | null;
  /** Postgres computes a value per row (identity, serial, generated, a uuid function). */
  perRow: boolean;
  /** NOT NULL has to be relaxed for inserts to work (NOT NULL, no default, no down). */
  relaxNotNull: boolean;
}

export function insertValue(col: ColumnModel, down: string | undefined): InsertValue {
  if (col.identity !== undefined || col.generated !== undefined) return { sql: null, perRow: true, relaxNotNull: false };
  const sql = down ?? col.default;
  return { sql, perRow: sql !== null && PER_ROW_DEFAULT.test(sql.trim()), relaxNotNull: !col.nullable && sql === null };
}

/** Tables that share the column: the table and its partitions and inheritance children, recursively. */
function tableTree(schema: SchemaModel, key: string): TableModel[] {
  const out: TableModel[] = [];
  const seen = new Set<string>();
  const visit = (k: string) => {
    if (seen.has(k)) return;
    seen.add(k);
    const t = getOwn(schema.tables, k);
    if (t !== undefined) out.push(t);
    for (const child of Object.values(schema.tables)) {
      if (child.partitionOf === k || child.inherits?.includes(k) === true) visit(`${child.schema}.${child.name}`);
    }
  };
  visit(key);
  return out;
}

/**
 * Why the column cannot simply be renamed out of the way, so its values are copied instead;
 * null when it can. Retiring is refused where the retired column would keep getting in the
 * application's way: inserts that no longer name the column would fail (it is in the primary
 * key, in the replica identity index, in a unique index that would see the same value or NULL
 * collide, or read by a check that may refuse the NULL it gets once NOT NULL is relaxed), or
 * logical replication would carry the renamed column to subscribers that do not have it.
 */
export function columnRetireProblem(schema: SchemaModel, table: Rel, model: TableModel, col: ColumnModel, value: InsertValue): string | null {
  const name = col.name;
  const constraints = constraintsOf(model);
  const key = constraints.find((c) => c.type === 'primary_key' && c.columns.includes(name));
  if (key !== undefined) return `it is in the primary key ${key.name}, which rows inserted without it would violate`;
  if (model.replicaIdentity === 'index' && model.replicaIdentityIndex !== undefined) {
    const index = getOwn(schema.indexes, `${table.schema}.${model.replicaIdentityIndex}`);
    if (index !== undefined && mentionsColumn(index.definition, name)) return `it is in the replica identity index ${index.name}, which cannot hold NULL`;
  }
  const published = tableTree(schema, table.key).flatMap((t) => t.publications ?? []);
  if (published.length > 0) {
    return `${table.display} is published (publication ${[...new Set(published)].join(', ')}): logical replication would send the renamed column to subscribers, which do not have it`;
  }
  for (const index of collidingIndexes(schema, table, model)) {
    const parts = readIndexDefinition(index.definition);
    const inExpression = parts.keys.some((k) => k.reads.includes(name));
    if (inExpression || parts.predicate.includes(name)) return `${index.name} uses it in an expression or predicate, where the value rows inserted without it get may collide`;
    if (value.perRow || !parts.keys.some((k) => k.column === name)) continue;
    if (value.sql !== null) return `it is in ${index.name}, and rows inserted without it would all get ${value.sql} and collide`;
    if (parts.nullsNotDistinct) return `it is in ${index.name}, which is NULLS NOT DISTINCT, so the NULLs of rows inserted without it would collide`;
  }
  if (value.relaxNotNull) {
    const check = constraints.find((c) => c.type === 'check' && c.columns.includes(name));
    if (check !== undefined) {
      return `it is NOT NULL without a default, so it would hold NULL for rows inserted while it is retired, which check ${check.name} may refuse (give drop_column a down that ${check.name} accepts)`;
    }
  }
  return null;
}

/** Foreign keys that keep being enforced while what they are on is retired. */
export function retiredForeignKeys(constraints: readonly ConstraintModel[]): LintFinding | null {
  const fks = constraints.filter((c) => c.type === 'foreign_key');
  if (fks.length === 0) return null;
  return {
    level: 'warning',
    code: 'retired_foreign_key',
    message:
      `foreign key ${fks.map((c) => c.name).join(', ')} is still enforced until it is purged: deleting or changing a referenced row that retired rows ` +
      'still point to is refused (or cascades into them, as its ON DELETE says); drop it first with drop_constraint if the application must not see that',
  };
}

/** What a retired object keeps doing until it is purged (`until`), for the plan. */
export function retiredNote(what: string, until: string): LintFinding {
  return {
    level: 'info',
    code: 'retired',
    message:
      `${what}. Rolling back renames it back. Until it is purged ${until}. \`godwit snapshots prune\` purges it once the migration is ` +
      'applied and its retention (policy.retention, default 14 days) has ended',
  };
}

/** Where retirement does not work and the old copy does: named in the plan, since writes wait for the copy. */
export function copyUnderLockNote(what: string, table: Rel, problem: string, size?: { rows: number; bytes: number }): LintFinding {
  const of = size === undefined ? '' : ` (~${Math.round(size.rows).toLocaleString('en-US')} rows, ${Math.round(size.bytes / (1024 * 1024)).toLocaleString('en-US')} MB)`;
  return {
    level: 'warning',
    code: 'copy_under_lock',
    message: `${what} cannot be retired: ${problem}. Its data is copied into a snapshot instead, in the step's transaction, and writes to ${table.display}${of} wait for the length of the copy`,
  };
}

/** `ALTER TABLE t ALTER COLUMN c ...` */
export function alterColumnSql(table: Rel, name: string, action: string): SqlAction {
  return tx(`ALTER TABLE ${table.sql} ALTER COLUMN ${name} ${action}`);
}

