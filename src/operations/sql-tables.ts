/**
 * Which tables a piece of SQL writes, read from its parse tree (the real Postgres
 * parser), and what it does that a copy of those tables' rows could not undo. An sql
 * step without a down is rolled back from whole-table snapshots of exactly these tables.
 */
import type {
  AlterTableStmt,
  CallStmt,
  CopyStmt,
  DropStmt,
  FuncCall,
  IndexStmt,
  IntoClause,
  Node,
  ObjectType,
  RangeVar,
  ReindexStmt,
  SelectStmt,
  TransactionStmt,
  TruncateStmt,
  VacuumStmt,
  VariableSetStmt,
} from 'libpg-query';
import { displayName } from '../db/ident';
import { parseStatements } from './sql-parser';

export interface TableName {
  schema: string;
  table: string;
}

export interface WrittenTables {
  /** Tables whose rows the SQL inserts, updates, deletes, merges, truncates or copies in. */
  tables: TableName[];
  /**
   * What a snapshot of rows cannot undo or the parse cannot see through, one short
   * description each: `ALTER TABLE users`, `DO block`, `call of function f()`.
   */
  unknown: string[];
  /** Tables the `unknown` statements name (ALTER TABLE users, CREATE INDEX ON users): also touched. */
  named: TableName[];
}

/** WrittenTables, and what else planning an sql step needs to know of it. */
export interface SqlReading extends WrittenTables {
  /** Whether it truncates a table: TRUNCATE fires no row triggers, so no change log records it. */
  truncates: boolean;
  /** Its statements that Postgres refuses inside a transaction block: `CREATE INDEX CONCURRENTLY`, `VACUUM`... */
  outsideTransaction: string[];
}

/**
 * Walks every statement of `sql`, nested ones included (`WITH x AS (DELETE ...)`,
 * INSERT ... SELECT, EXPLAIN ANALYZE). Unqualified names resolve to `public`, the
 * planner's default schema. Throws SqlSyntaxError (a PlanError at `path`) when the SQL does not parse.
 */
export function writtenTables(sql: string, path = ''): WrittenTables {
  const { tables, unknown, named } = readSql(sql, path);
  return { tables, unknown, named };
}

/** writtenTables, with whether the SQL truncates and which of its statements cannot run in a transaction. */
export function readSql(sql: string, path = ''): SqlReading {
  const reader = new Reader();
  for (const statement of parseStatements(sql, path)) reader.statement(statement);
  return {
    tables: [...reader.tables.values()],
    unknown: [...reader.unknown],
    named: [...reader.named.values()],
    truncates: reader.truncates,
    outsideTransaction: [...reader.outsideTransaction],
  };
}

/** Statements that change no schema: only the row writes (and function calls) inside them matter. */
const ROW_STATEMENTS = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'TruncateStmt',
  'CopyStmt',
  'ExplainStmt',
  'DeclareCursorStmt',
  'FetchStmt',
  'ClosePortalStmt',
  'PrepareStmt',
  'DeallocateStmt',
  'LockStmt',
  'VariableShowStmt',
  'ConstraintsSetStmt',
  'NotifyStmt',
  'ListenStmt',
  'UnlistenStmt',
  'VacuumStmt',
  'ReindexStmt',
  'ClusterStmt',
  'CheckPointStmt',
  'DiscardStmt',
]);

/** Savepoints stay inside the step's transaction; BEGIN, COMMIT, ROLLBACK... would end it, and the snapshot with it. */
const HARMLESS_TRANSACTION_KINDS = new Set(['TRANS_STMT_SAVEPOINT', 'TRANS_STMT_RELEASE', 'TRANS_STMT_ROLLBACK_TO']);

/**
 * Built-in functions that write nothing, callable unqualified or as pg_catalog.f. Any
 * other function may write anywhere (a user function, setval, lo_import...), so a call
 * of one is something the parse cannot see through. Calls the grammar itself makes
 * (EXTRACT, SUBSTRING ... FROM, AT TIME ZONE) are always built in and never listed here.
 */
const HARMLESS_FUNCTIONS = new Set(
  [
    // aggregates and window functions
    'count sum avg min max array_agg string_agg bool_and bool_or every bit_and bit_or json_agg jsonb_agg json_object_agg jsonb_object_agg',
    'stddev stddev_pop stddev_samp variance var_pop var_samp percentile_cont percentile_disc mode corr covar_pop covar_samp any_value',
    'row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value',
    // strings
    'lower upper initcap length char_length character_length octet_length bit_length btrim ltrim rtrim lpad rpad substr strpos replace',
    'translate concat concat_ws format left right repeat reverse split_part starts_with ascii chr to_hex md5 sha224 sha256 sha384 sha512',
    'encode decode convert_from convert_to quote_ident quote_literal quote_nullable string_to_array array_to_string string_to_table',
    'regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table regexp_like regexp_count regexp_substr regexp_instr',
    // numbers
    'abs ceil ceiling floor round trunc mod power pow sqrt cbrt exp ln log log10 sign div gcd lcm width_bucket random random_normal pi degrees radians',
    // dates and times
    'now clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part date_bin age isfinite',
    'make_date make_time make_timestamp make_timestamptz make_interval to_timestamp to_date to_char to_number justify_days justify_hours justify_interval',
    // json
    'to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array jsonb_build_array json_object jsonb_object',
    'jsonb_set jsonb_set_lax jsonb_insert jsonb_strip_nulls json_strip_nulls jsonb_pretty json_typeof jsonb_typeof json_array_length jsonb_array_length',
    'json_each jsonb_each json_each_text jsonb_each_text json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text',
    'json_object_keys jsonb_object_keys json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text',
    'jsonb_path_query jsonb_path_query_array jsonb_path_query_first jsonb_path_exists jsonb_path_match',
    'json_populate_record jsonb_populate_record json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset',
    // arrays and sets
    'array_length array_upper array_lower array_dims array_ndims cardinality array_append array_prepend array_cat array_remove array_replace',
    'array_position array_positions array_fill unnest generate_series generate_subscripts',
    // casts written as calls
    'int2 int4 int8 float4 float8 numeric text varchar bpchar bool date time timestamp timestamptz interval json jsonb uuid',
    // ids, hashes, introspection, waiting, locks that end with the transaction
    'gen_random_uuid uuidv4 uuidv7 hashtext hashtextextended pg_typeof pg_column_size num_nulls num_nonnulls format_type to_regclass to_regtype',
    'current_setting version pg_backend_pid txid_current pg_current_xact_id pg_relation_size pg_total_relation_size pg_table_size pg_size_pretty',
    'obj_description col_description pg_get_viewdef pg_get_indexdef pg_get_constraintdef pg_sleep pg_sleep_for pg_sleep_until',
    'pg_advisory_xact_lock pg_advisory_xact_lock_shared pg_try_advisory_xact_lock pg_try_advisory_xact_lock_shared',
    // sequence state is not data a rollback restores (a rolled-back transaction does not restore it either); setval is a deliberate change and not listed
    'nextval currval lastval',
  ].flatMap((group) => group.split(' ')),
);

/**
 * What Postgres refuses to run inside a transaction block, as a statement's type and body
 * say it (never its words: `'vacuum'` in a string or a comment is no VACUUM), or undefined.
 */
function outsideTransaction(type: string, body: Record<string, unknown>): string | undefined {
  switch (type) {
    case 'IndexStmt':
      return (body as IndexStmt).concurrent === true ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return (body as DropStmt).concurrent === true ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt': {
      const r = body as ReindexStmt;
      if (r.kind === 'REINDEX_OBJECT_DATABASE' || r.kind === 'REINDEX_OBJECT_SYSTEM') return `REINDEX ${r.kind.replace('REINDEX_OBJECT_', '')}`;
      return (r.params ?? []).some((p) => (p as { DefElem?: { defname?: string } }).DefElem?.defname === 'concurrently') ? 'REINDEX CONCURRENTLY' : undefined;
    }
    case 'VacuumStmt':
      // ANALYZE alone runs in a transaction.
      return (body as VacuumStmt).is_vacuumcmd === true ? 'VACUUM' : undefined;
    case 'ClusterStmt':
      return body.relation === undefined ? 'CLUSTER of every table' : undefined;
    case 'AlterTableStmt':
      return ((body as AlterTableStmt).cmds ?? []).some((c) => (c as { AlterTableCmd?: { def?: { PartitionCmd?: { concurrent?: boolean } } } }).AlterTableCmd?.def?.PartitionCmd?.concurrent === true)
        ? 'DETACH PARTITION CONCURRENTLY'
        : undefined;
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt':
      return 'DROP TABLESPACE';
    default:
      return undefined;
  }
}

class Reader {
  readonly tables = new Map<string, TableName>();
  readonly named = new Map<string, TableName>();
  readonly unknown = new Set<string>();
  readonly outsideTransaction = new Set<string>();
  truncates = false;

  statement(node: Node): void {
    const [type, body] = unwrap(node);
    const refused = outsideTransaction(type, body);
    if (refused !== undefined) this.outsideTransaction.add(refused);
    if (ROW_STATEMENTS.has(type)) {
      this.walk(node);
    } else if (type === 'TransactionStmt') {
      const kind = (body as TransactionStmt).kind ?? '';
      if (!HARMLESS_TRANSACTION_KINDS.has(kind)) this.unknown.add(`${kind.replace(/^TRANS_STMT_/, '').replaceAll('_', ' ')} (transaction control)`);
    } else if (type === 'VariableSetStmt') {
      // Other settings (lock_timeout, work_mem, role...) change no data; a search_path would change what unqualified names mean.
      if ((body as VariableSetStmt).name === 'search_path') this.unknown.add('SET search_path');
    } else if (type === 'DoStmt') {
      this.unknown.add('DO block');
    } else if (type === 'CallStmt') {
      this.unknown.add(`CALL ${functionName((body as CallStmt).funccall)}()`);
    } else {
      this.schemaChange(type, body);
    }
  }

  /** Every row write and function call anywhere under `value`. */
  private walk(value: unknown): void {
    if (Array.isArray(value)) {
      for (const item of value) this.walk(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const body = child as Record<string, unknown>;
      switch (key) {
        case 'InsertStmt':
        case 'UpdateStmt':
        case 'DeleteStmt':
        case 'MergeStmt':
          this.write(body.relation as RangeVar | undefined);
          break;
        case 'TruncateStmt':
          this.truncates = true;
          for (const r of (body as TruncateStmt).relations ?? []) this.write(rangeVar(r));
          break;
        case 'CopyStmt':
          // COPY t TO ... and COPY (query) TO ... only read.
          if ((body as CopyStmt).is_from === true) this.write((body as CopyStmt).relation);
          break;
        case 'SelectStmt': {
          const into = (body as SelectStmt).intoClause;
          if (into !== undefined) this.creates('SELECT INTO', into);
          break;
        }
        case 'FuncCall':
          this.call(body as FuncCall);
          break;
      }
      this.walk(child);
    }
  }

  private write(relation: RangeVar | undefined): void {
    if (relation?.relname === undefined) return;
    const t = tableName(relation);
    this.tables.set(key(t), t);
  }

  private call(call: FuncCall): void {
    // Calls the grammar makes for SQL syntax (EXTRACT, TRIM, AT TIME ZONE...) are built in.
    if (call.funcformat === 'COERCE_SQL_SYNTAX') return;
    const parts = (call.funcname ?? []).map(stringOf);
    const name = parts.at(-1) ?? '';
    const schema = parts.length > 1 ? parts.at(-2) : undefined;
    if ((schema === undefined || schema === 'pg_catalog') && HARMLESS_FUNCTIONS.has(name)) return;
    this.unknown.add(`call of function ${parts.join('.')}()`);
  }

  private creates(what: string, into: IntoClause): void {
    if (into.rel?.relname === undefined) {
      this.unknown.add(`${what} (creates a table)`);
      return;
    }
    const t = tableName(into.rel);
    this.unknown.add(`${what} ${display(t)} (creates a table)`);
    this.named.set(key(t), t);
  }

  /** A statement that changes the schema (or anything else but rows): described, and its table noted. */
  private schemaChange(type: string, body: Record<string, unknown>): void {
    const b = body as Partial<Record<string, unknown>> & { relation?: RangeVar; objtype?: ObjectType };
    const name = (rv: unknown) => display(tableName(rv as RangeVar));
    const onTable = (rv: RangeVar | undefined) => {
      if (rv?.relname !== undefined) this.named.set(key(tableName(rv)), tableName(rv));
    };
    switch (type) {
      case 'AlterTableStmt':
        this.unknown.add(`ALTER ${objectWord(b.objtype ?? 'OBJECT_TABLE')} ${name(b.relation)}`);
        if ((b.objtype ?? 'OBJECT_TABLE') === 'OBJECT_TABLE') onTable(b.relation);
        return;
      case 'CreateStmt':
        this.unknown.add(`CREATE TABLE ${name(b.relation)}`);
        onTable(b.relation);
        return;
      case 'CreateTableAsStmt': {
        const into = b.into as IntoClause;
        if (b.objtype === 'OBJECT_MATVIEW') this.unknown.add(`CREATE MATERIALIZED VIEW ${into.rel === undefined ? '' : name(into.rel)}`.trimEnd());
        else this.creates('CREATE TABLE AS', into);
        return;
      }
      case 'IndexStmt':
        this.unknown.add(`CREATE INDEX ${b.idxname === undefined ? '' : `${String(b.idxname)} `}ON ${name(b.relation)}`);
        onTable(b.relation);
        return;
      case 'CreateTrigStmt':
        this.unknown.add(`CREATE TRIGGER ${String(b.trigname)} ON ${name(b.relation)}`);
        onTable(b.relation);
        return;
      case 'RuleStmt':
        this.unknown.add(`CREATE RULE ${String(b.rulename)} ON ${name(b.relation)}`);
        onTable(b.relation);
        return;
      case 'CreatePolicyStmt':
        this.unknown.add(`CREATE POLICY ${String(b.policy_name)} ON ${name(b.table)}`);
        onTable(b.table as RangeVar);
        return;
      case 'DropStmt': {
        const objtype = b.removeType as ObjectType;
        const names = ((b.objects as Node[] | undefined) ?? []).map(listName).filter((n) => n !== undefined);
        this.unknown.add(`DROP ${objectWord(objtype)}${names.length > 0 ? ` ${names.map(display).join(', ')}` : ''}`);
        if (objtype === 'OBJECT_TABLE') for (const t of names) this.named.set(key(t), t);
        return;
      }
      case 'RenameStmt': {
        const relationType = (b.relationType ?? b.renameType) as ObjectType;
        this.unknown.add(b.relation === undefined ? `ALTER ${objectWord(b.renameType as ObjectType)} ... RENAME` : `ALTER ${objectWord(relationType)} ${name(b.relation)} RENAME`);
        if (relationType === 'OBJECT_TABLE') onTable(b.relation);
        return;
      }
      case 'ViewStmt':
        this.unknown.add(`CREATE VIEW ${name(b.view)}`);
        return;
      case 'RefreshMatViewStmt':
        this.unknown.add(`REFRESH MATERIALIZED VIEW ${name(b.relation)}`);
        return;
      case 'CreateSeqStmt':
      case 'AlterSeqStmt':
        this.unknown.add(`${type === 'CreateSeqStmt' ? 'CREATE' : 'ALTER'} SEQUENCE ${name(b.sequence)}`);
        return;
      case 'CreateFunctionStmt':
        this.unknown.add(`CREATE ${b.is_procedure === true ? 'PROCEDURE' : 'FUNCTION'} ${((b.funcname as Node[] | undefined) ?? []).map(stringOf).join('.')}`);
        return;
      case 'CommentStmt':
        this.unknown.add(`COMMENT ON ${objectWord(b.objtype ?? 'OBJECT_TABLE')}`);
        return;
      case 'GrantStmt':
        this.unknown.add(b.is_grant === true ? 'GRANT' : 'REVOKE');
        return;
      case 'ExecuteStmt':
        this.unknown.add(`EXECUTE ${String(b.name)}`);
        return;
      default:
        // CreateEnumStmt → CREATE ENUM, AlterOwnerStmt → ALTER OWNER...
        this.unknown.add(type.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase());
    }
  }
}

function unwrap(node: Node): [string, Record<string, unknown>] {
  const [entry] = Object.entries(node as unknown as Record<string, Record<string, unknown>>);
  return entry ?? ['', {}];
}

function tableName(rv: RangeVar): TableName {
  return { schema: rv.schemaname ?? 'public', table: rv.relname ?? '' };
}

function rangeVar(node: Node): RangeVar | undefined {
  return (node as { RangeVar?: RangeVar }).RangeVar;
}

function stringOf(node: Node): string {
  return (node as { String?: { sval?: string } }).String?.sval ?? '';
}

/** `a` or `b.c` as DROP lists them (a List of Strings), for relations. */
function listName(node: Node): TableName | undefined {
  const items = (node as { List?: { items?: Node[] } }).List?.items;
  if (items === undefined || items.length === 0) return undefined;
  const parts = items.map(stringOf);
  return { schema: parts.length > 1 ? (parts.at(-2) ?? 'public') : 'public', table: parts.at(-1) ?? '' };
}

function functionName(call: FuncCall | undefined): string {
  return (call?.funcname ?? []).map(stringOf).join('.');
}

const key = (t: TableName) => `${t.schema}.${t.table}`;
const display = (t: TableName) => displayName({ schema: t.schema, name: t.table });

const OBJECT_WORDS: Partial<Record<ObjectType, string>> = {
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_FDW: 'FOREIGN DATA WRAPPER',
  OBJECT_FOREIGN_SERVER: 'SERVER',
  OBJECT_TABCONSTRAINT: 'CONSTRAINT',
  OBJECT_DOMCONSTRAINT: 'CONSTRAINT',
};

function objectWord(type: ObjectType): string {
  return OBJECT_WORDS[type] ?? type.replace(/^OBJECT_/, '').replaceAll('_', ' ');
}
