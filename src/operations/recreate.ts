/**
 * SQL that recreates, from the schema model, what a destructive step drops: sequences,
 * columns, constraints, indexes, whole tables. Inverses of drop_table, drop_column and
 * drop_constraint are built from these, so a rollback puts back the same definitions
 * the schema fingerprint saw before the migration.
 */
import { quoteIdent, quoteLiteral } from '../db/ident';
import type { ColumnModel, ConstraintModel, SchemaModel, SequenceModel, TableModel } from '../db/schema-model';
import { getOwn, rel, type Rel } from './model';
import { rewriteFromSnapshot, updateFromSnapshot } from './restore';
import type { SqlAction } from './types';

export const tx = (sql: string): SqlAction => ({ sql, transactional: true });

export function sequenceRel(seq: SequenceModel): Rel {
  return rel(seq.schema, seq.name);
}

/** `INCREMENT BY 1 MINVALUE 1 ... NO CYCLE`: every option, so defaults of another type cannot creep in. */
function sequenceOptions(seq: SequenceModel): string {
  return `INCREMENT BY ${seq.increment} MINVALUE ${seq.min} MAXVALUE ${seq.max} START WITH ${seq.start} CACHE ${seq.cache} ${seq.cycle ? 'CYCLE' : 'NO CYCLE'}`;
}

/** A serial column's sequence, created before the column whose default calls nextval on it. */
export function createSequenceSql(seq: SequenceModel): string {
  return `CREATE SEQUENCE ${sequenceRel(seq).sql} AS ${seq.type} ${sequenceOptions(seq)}`;
}

/** `GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME ... )`, with the sequence's own name and options when known. */
export function identityClause(kind: 'always' | 'by_default', seq: SequenceModel | undefined): string {
  const head = `GENERATED ${kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
  return seq === undefined ? head : `${head} (SEQUENCE NAME ${sequenceRel(seq).sql} ${sequenceOptions(seq)})`;
}

/**
 * Moves a sequence past the values restored into its column, so the next nextval does
 * not hand out a value that is already there. An empty column leaves it at its start.
 */
export function resetSequenceSql(table: Rel, column: string, seq: SequenceModel): string {
  const edge = seq.increment.startsWith('-') ? 'min' : 'max';
  return `SELECT setval(${quoteLiteral(sequenceRel(seq).sql)}::regclass, ${edge}(${quoteIdent(column)})) FROM ${table.sql}`;
}

/** `type COLLATE x`: the column's type as the model has it. */
export function columnType(col: ColumnModel): string {
  return col.collation === undefined ? col.type : `${col.type} COLLATE ${col.collation}`;
}

/** The sequence a column owns, unless it is an identity column's (which the identity clause creates). */
export function serialSequence(table: TableModel, col: ColumnModel): SequenceModel | undefined {
  return col.identity === undefined ? getOwn(table.sequences ?? {}, col.name) : undefined;
}

/** ` DEFERRABLE [INITIALLY DEFERRED]` as the end of a constraint definition spells it, or ''. */
function deferrability(definition: string): string {
  const m = / DEFERRABLE( INITIALLY DEFERRED)?$/.exec(definition.replace(/ NOT VALID$/, ''));
  return m === null ? '' : m[0];
}

/**
 * Recreates a dropped constraint. A primary key or unique constraint is rebuilt from its
 * index definition and attached with USING INDEX, which keeps the index's storage
 * parameters (pg_get_constraintdef leaves them out); anything else is re-added from its
 * definition (NOT VALID included, so an unvalidated constraint comes back unvalidated).
 */
export function recreateConstraint(schema: SchemaModel, table: Rel, c: ConstraintModel): SqlAction[] {
  const add = `ALTER TABLE ${table.sql} ADD CONSTRAINT ${quoteIdent(c.name)}`;
  const index = c.index === undefined ? undefined : getOwn(schema.indexes, `${table.schema}.${c.index}`);
  if ((c.type === 'primary_key' || c.type === 'unique') && index !== undefined) {
    const kind = c.type === 'primary_key' ? 'PRIMARY KEY' : 'UNIQUE';
    return [tx(index.definition), tx(`${add} ${kind} USING INDEX ${quoteIdent(index.name)}${deferrability(c.definition)}`)];
  }
  return [tx(`${add} ${c.definition}`)];
}

/** Constraints in an order that can be re-added: keys first (foreign keys may need them), foreign keys last. */
export function constraintOrder(constraints: ConstraintModel[]): ConstraintModel[] {
  const rank = { primary_key: 0, unique: 1, exclude: 2, check: 3, foreign_key: 4 } as const;
  return [...constraints].sort((a, b) => rank[a.type] - rank[b.type]);
}

/** Why `table` cannot be recreated from the model, or null. */
export function recreateProblem(table: TableModel): string | null {
  if (table.partitioned === true) return 'it is partitioned, and recreating its partitions is not supported yet';
  if (table.partitionOf !== undefined) return `it is a partition of ${table.partitionOf}, and recreating partitions is not supported yet`;
  if (table.inherits !== undefined) return `it inherits from ${table.inherits.join(', ')}, and recreating inheritance is not supported yet`;
  return null;
}

/** `COMMENT ON COLUMN ...` for a column that has a comment. */
export function columnCommentSql(table: Rel, col: ColumnModel): SqlAction[] {
  return col.comment === undefined ? [] : [tx(`COMMENT ON COLUMN ${table.sql}.${quoteIdent(col.name)} IS ${quoteLiteral(col.comment)}`)];
}

/** `ALTER TABLE ... REPLICA IDENTITY ...` */
export function replicaIdentitySql(table: Rel, identity: 'default' | 'full' | 'nothing' | 'index', index?: string): string {
  const what = identity === 'index' ? `USING INDEX ${quoteIdent(index ?? '')}` : identity.toUpperCase();
  return `ALTER TABLE ${table.sql} REPLICA IDENTITY ${what}`;
}

const TRIGGER_STATE = { disabled: 'DISABLE', replica: 'ENABLE REPLICA', always: 'ENABLE ALWAYS' } as const;

/** Triggers after the data is back, so restoring rows does not fire them. */
function triggersSql(table: Rel, model: TableModel): SqlAction[] {
  const out: SqlAction[] = [];
  for (const t of Object.values(model.triggers ?? {})) {
    out.push(tx(t.definition));
    if (t.enabled !== 'origin') out.push(tx(`ALTER TABLE ${table.sql} ${TRIGGER_STATE[t.enabled]} TRIGGER ${quoteIdent(t.name)}`));
  }
  return out;
}

function grantsSql(table: Rel, model: TableModel): SqlAction[] {
  return (model.grants ?? []).map((g) =>
    tx(`GRANT ${g.privilege} ON TABLE ${table.sql} TO ${g.grantee === null ? 'PUBLIC' : quoteIdent(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`),
  );
}

/** One column inside CREATE TABLE: type, collation, generated or identity, default, NOT NULL. */
function columnDefinition(model: TableModel, col: ColumnModel): string {
  const parts = [quoteIdent(col.name), columnType(col)];
  if (col.generated !== undefined) parts.push(`GENERATED ALWAYS AS (${col.generated}) STORED`);
  if (col.identity !== undefined) parts.push(identityClause(col.identity, getOwn(model.sequences ?? {}, col.name)));
  if (col.default !== null) parts.push(`DEFAULT ${col.default}`);
  if (!col.nullable) parts.push('NOT NULL');
  return parts.join(' ');
}

/** Columns a restore writes: all but generated ones, which Postgres computes. */
export function writableColumns(model: TableModel): string[] {
  return Object.values(model.columns)
    .filter((c) => c.generated === undefined)
    .map((c) => c.name);
}

/**
 * `INSERT INTO t (a, b) OVERRIDING SYSTEM VALUE SELECT a, b FROM {{snapshot:N}}`. Without
 * a model of the table, every column of the snapshot in order (`SELECT *`).
 * OVERRIDING SYSTEM VALUE keeps identity ALWAYS values as they were.
 */
export function insertFromSnapshotSql(table: Rel, columns: string[] | undefined, snapshot: string): string {
  if (columns === undefined) return `INSERT INTO ${table.sql} OVERRIDING SYSTEM VALUE SELECT * FROM ${snapshot}`;
  const list = columns.map(quoteIdent).join(', ');
  return `INSERT INTO ${table.sql} (${list}) OVERRIDING SYSTEM VALUE SELECT ${list} FROM ${snapshot}`;
}

/**
 * The statements that recreate a dropped table from the model, empty: its serial sequences,
 * the table with its columns, then indexes, constraints, replica identity, comments,
 * triggers and grants. Only a table the same migration created is dropped (any other is
 * retired), and its rows were all written by the migration, so none come back.
 */
export function recreateTableSql(schema: SchemaModel, table: Rel, model: TableModel): SqlAction[] {
  const out: SqlAction[] = [];
  const columns = Object.values(model.columns);
  const serials = columns.flatMap((c) => {
    const seq = serialSequence(model, c);
    return seq === undefined ? [] : [{ column: c.name, seq }];
  });
  for (const { seq } of serials) out.push(tx(createSequenceSql(seq)));

  const body = columns.map((c) => `  ${columnDefinition(model, c)}`).join(',\n');
  const options = model.options === undefined ? '' : ` WITH (${model.options.join(', ')})`;
  out.push(tx(`CREATE ${model.unlogged === true ? 'UNLOGGED ' : ''}TABLE ${table.sql} (\n${body}\n)${options}`));

  for (const { column, seq } of serials) out.push(tx(`ALTER SEQUENCE ${sequenceRel(seq).sql} OWNED BY ${table.sql}.${quoteIdent(column)}`));

  const constraints = constraintOrder(Object.values(model.constraints ?? {}));
  const constraintIndexes = new Set(constraints.flatMap((c) => (c.index === undefined ? [] : [c.index])));
  for (const index of Object.values(schema.indexes)) {
    if (index.table === table.key && !constraintIndexes.has(index.name)) out.push(tx(index.definition));
  }
  for (const c of constraints) out.push(...recreateConstraint(schema, table, c));
  if (model.replicaIdentity !== undefined) out.push(tx(replicaIdentitySql(table, model.replicaIdentity, model.replicaIdentityIndex)));

  if (model.comment !== undefined) out.push(tx(`COMMENT ON TABLE ${table.sql} IS ${quoteLiteral(model.comment)}`));
  for (const c of columns) out.push(...columnCommentSql(table, c));
  out.push(...triggersSql(table, model), ...grantsSql(table, model));
  return out;
}

export interface ColumnRestore {
  /** Restore the column's values from snapshot 0 by this row key; absent: its values are not kept. */
  key?: string[];
  /** Restore them with one table rewrite (rewriteFromSnapshot) rather than an UPDATE; see rewriteRestoreProblem. */
  rewrite?: boolean;
  /** Constraints and indexes that went with the column (Postgres drops them with it). */
  constraints: ConstraintModel[];
  indexes: string[];
}

/**
 * Re-adds a dropped column as it was: its sequence, the column (nullable at first, so
 * the values can be put back), its values from the snapshot (by one table rewrite when
 * `restore.rewrite`, else by an UPDATE), then its default, NOT
 * NULL, identity, sequence position, the constraints and indexes that went with it,
 * replica identity and comment. A generated column is simply added again: Postgres
 * computes its values.
 */
export function restoreColumnSql(schema: SchemaModel, table: Rel, model: TableModel, col: ColumnModel, restore: ColumnRestore): SqlAction[] {
  const alter = `ALTER TABLE ${table.sql}`;
  const name = quoteIdent(col.name);
  const out: SqlAction[] = [];
  const serial = serialSequence(model, col);
  const seq = getOwn(model.sequences ?? {}, col.name);
  if (serial !== undefined) out.push(tx(createSequenceSql(serial)));
  if (col.generated !== undefined) {
    out.push(tx(`${alter} ADD COLUMN ${name} ${columnType(col)} GENERATED ALWAYS AS (${col.generated}) STORED`));
  } else {
    out.push(tx(`${alter} ADD COLUMN ${name} ${columnType(col)}`));
    if (restore.key !== undefined) {
      out.push(...(restore.rewrite === true ? rewriteFromSnapshot(table, model, col, columnType(col), restore.key) : [updateFromSnapshot(table, restore.key, [col.name])]));
    }
    if (col.default !== null) out.push(tx(`${alter} ALTER COLUMN ${name} SET DEFAULT ${col.default}`));
    if (!col.nullable) out.push(tx(`${alter} ALTER COLUMN ${name} SET NOT NULL`));
    if (col.identity !== undefined) out.push(tx(`${alter} ALTER COLUMN ${name} ADD ${identityClause(col.identity, seq)}`));
    if (serial !== undefined) out.push(tx(`ALTER SEQUENCE ${sequenceRel(serial).sql} OWNED BY ${table.sql}.${name}`));
    if (seq !== undefined && restore.key !== undefined) out.push(tx(resetSequenceSql(table, col.name, seq)));
  }
  for (const key of restore.indexes) {
    const index = getOwn(schema.indexes, key);
    if (index !== undefined) out.push(tx(index.definition));
  }
  for (const c of constraintOrder(restore.constraints)) out.push(...recreateConstraint(schema, table, c));
  const identityIndex = model.replicaIdentity === 'index' ? model.replicaIdentityIndex : undefined;
  const dropped = [...restore.indexes.map((k) => getOwn(schema.indexes, k)?.name), ...restore.constraints.map((c) => c.index)];
  if (identityIndex !== undefined && dropped.includes(identityIndex)) out.push(tx(replicaIdentitySql(table, 'index', identityIndex)));
  out.push(...columnCommentSql(table, col));
  return out;
}
