/**
 * writtenTables: which tables SQL writes, read with the real Postgres parser, and what
 * it does that a snapshot of those tables' rows could not undo.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser, PlanError, SqlSyntaxError, writtenTables } from '../../src/operations';

beforeAll(loadSqlParser);

const names = (sql: string) => writtenTables(sql).tables.map((t) => `${t.schema}.${t.table}`);
const unknown = (sql: string) => writtenTables(sql).unknown;

describe('tables a statement writes', () => {
  it.each<[string, string, string[]]>([
    ['INSERT', 'insert into users (id) values (1)', ['public.users']],
    ['INSERT ... SELECT, not the table it reads', 'insert into archive select * from users where id < 10', ['public.archive']],
    ['INSERT ... ON CONFLICT DO UPDATE', 'insert into users (id) values (1) on conflict (id) do update set name = excluded.name', ['public.users']],
    ['UPDATE, not its FROM', 'update users u set name = o.note from orders o where o.user_id = u.id', ['public.users']],
    ['UPDATE ONLY', 'update only users set name = null', ['public.users']],
    ['DELETE, not its USING', 'delete from orders using users where users.id = orders.user_id', ['public.orders']],
    ['MERGE, not its source', 'merge into users t using staging s on t.id = s.id when matched then update set name = s.name when not matched then insert (id) values (s.id)', ['public.users']],
    ['TRUNCATE of a list', 'truncate table a, only billing.b restart identity', ['public.a', 'billing.b']],
    ['COPY ... FROM', "copy users (id, name) from '/tmp/users.csv' with (format csv)", ['public.users']],
    ['COPY ... FROM STDIN', 'copy billing.invoices from stdin', ['billing.invoices']],
    ['nothing for COPY ... TO', 'copy users to stdout', []],
    ['nothing for COPY (query) TO', 'copy (select * from users) to stdout', []],
    ['nothing for a SELECT', 'select count(*) from users join orders on orders.user_id = users.id', []],
    ['nothing for SELECT ... FOR UPDATE', 'select * from users for update', []],
    ['nothing for pg_sleep', 'select pg_sleep(1)', []],
    ['nothing for LOCK', 'lock table users in share mode', []],
    ['nothing for SET of a setting', "set local lock_timeout = '1s'", []],
    ['nothing for savepoints', 'savepoint a; release savepoint a', []],
    ['nothing for only comments', '-- nothing to do\n/* at all */', []],
    ['the DELETE inside EXPLAIN ANALYZE, which runs it', 'explain analyze delete from users', ['public.users']],
  ])('%s', (_name, sql, tables) => {
    expect(names(sql)).toEqual(tables);
    expect(unknown(sql)).toEqual([]);
  });

  it('finds writes in CTEs, at any depth, and not the CTE names', () => {
    const sql = `
      with gone as (delete from orders where total_cents > 1000 returning user_id),
           touched as (update users set bio = null where id in (select user_id from gone) returning id)
      insert into audit.log (user_id) select id from touched`;
    expect(names(sql)).toEqual(['audit.log', 'public.orders', 'public.users']);
  });

  it('finds a write in a CTE of a SELECT', () => {
    expect(names('with x as (insert into t values (1) returning *) select * from x')).toEqual(['public.t']);
  });

  it('reads every statement, and names each table once', () => {
    expect(names('update users set a = 1; delete from billing.invoices; update users set b = 2; insert into "Orders" values (1)')).toEqual([
      'public.users',
      'billing.invoices',
      'public.Orders',
    ]);
  });

  it('resolves unqualified names to public, folds unquoted names to lower case and keeps quoted ones as they are', () => {
    expect(writtenTables('UPDATE Users SET a = 1; delete from Billing."Invoices"; insert into "Weird ""name""" values (1); update "Sales"."Q1.2026" set x = 1').tables).toEqual([
      { schema: 'public', table: 'users' },
      { schema: 'billing', table: 'Invoices' },
      { schema: 'public', table: 'Weird "name"' },
      { schema: 'Sales', table: 'Q1.2026' },
    ]);
  });

  it('keeps unicode names', () => {
    expect(names('delete from "ユーザー" where "🦤" is null')).toEqual(['public.ユーザー']);
  });
});

describe('what a snapshot of rows cannot undo', () => {
  it.each<[string, string, string[]]>([
    ['ALTER TABLE', 'alter table users add column x int', ['ALTER TABLE users']],
    ['ALTER TABLE in a schema', 'alter table billing.invoices drop column id', ['ALTER TABLE billing.invoices']],
    ['ALTER of an index', 'alter index users_email_idx set (fillfactor = 70)', ['ALTER INDEX users_email_idx']],
    ['CREATE TABLE', 'create table t (id int)', ['CREATE TABLE t']],
    ['CREATE TABLE AS', 'create table t as select * from users', ['CREATE TABLE AS t (creates a table)']],
    ['SELECT INTO', 'select * into new_users from users', ['SELECT INTO new_users (creates a table)']],
    ['CREATE MATERIALIZED VIEW', 'create materialized view mv as select 1', ['CREATE MATERIALIZED VIEW mv']],
    ['REFRESH MATERIALIZED VIEW', 'refresh materialized view mv', ['REFRESH MATERIALIZED VIEW mv']],
    ['DROP TABLE of several', 'drop table if exists a, billing.b cascade', ['DROP TABLE a, billing.b']],
    ['DROP of a function', 'drop function f(int)', ['DROP FUNCTION']],
    ['CREATE INDEX', 'create index concurrently i on users (name)', ['CREATE INDEX i ON users']],
    ['RENAME', 'alter table users rename column name to full_name', ['ALTER TABLE users RENAME']],
    ['CREATE VIEW', 'create view v as select 1', ['CREATE VIEW v']],
    ['CREATE FUNCTION', "create function app.f() returns int language sql as 'select 1'", ['CREATE FUNCTION app.f']],
    ['CREATE TRIGGER', 'create trigger t before update on users for each row execute function f()', ['CREATE TRIGGER t ON users']],
    ['CREATE SEQUENCE', 'create sequence s', ['CREATE SEQUENCE s']],
    ['CREATE TYPE ... AS ENUM', "create type mood as enum ('a')", ['CREATE ENUM']],
    ['ALTER TYPE ... ADD VALUE', "alter type mood add value 'b'", ['ALTER ENUM']],
    ['CREATE SCHEMA', 'create schema s', ['CREATE SCHEMA']],
    ['COMMENT', "comment on table users is 'people'", ['COMMENT ON TABLE']],
    ['GRANT', 'grant select on users to public', ['GRANT']],
    ['a DO block', 'do $$ begin delete from users; end $$', ['DO block']],
    ['CALL of a procedure', 'call billing.close_month(2026, 1)', ['CALL billing.close_month()']],
    ['a user function in a SELECT', 'select fix_everything()', ['call of function fix_everything()']],
    ['a qualified user function', 'select app.lower(name) from users', ['call of function app.lower()']],
    ['a user function in a SET', 'update users set name = app.normalise(name)', ['call of function app.normalise()']],
    ['a user function in FROM', 'select * from app.purge_old()', ['call of function app.purge_old()']],
    ['setval', "select setval('users_id_seq', 1)", ['call of function setval()']],
    ['EXECUTE of a prepared statement', 'execute p(1)', ['EXECUTE p']],
    ['SET search_path', 'set search_path = billing', ['SET search_path']],
    ['COMMIT, which would end the step with its snapshot', 'delete from users; commit', ['COMMIT (transaction control)']],
  ])('%s', (_name, sql, described) => {
    expect(unknown(sql)).toEqual(described);
  });

  it('lets built-in functions through, qualified with pg_catalog or not, and calls the grammar makes', () => {
    const sql = `update users set name = pg_catalog.lower(trim(name)), email = coalesce(lower(email), ''), created_at = date_trunc('day', now()),
                 prefs = jsonb_set(prefs, '{n}', to_jsonb(extract(year from now()))), id = nextval('users_id_seq')
                 where substring(name from 1 for 1) = 'a' and position('x' in name) > 0 and length(name) < 100`;
    expect(writtenTables(sql)).toEqual({ tables: [{ schema: 'public', table: 'users' }], unknown: [], named: [] });
  });

  it('names the tables the statements it cannot see through change, and keeps what it found', () => {
    expect(writtenTables('update users set a = 1; alter table orders add column x int; create index on billing.invoices (id); drop table old; select f()')).toEqual({
      tables: [{ schema: 'public', table: 'users' }],
      unknown: ['ALTER TABLE orders', 'CREATE INDEX ON billing.invoices', 'DROP TABLE old', 'call of function f()'],
      named: [
        { schema: 'public', table: 'orders' },
        { schema: 'billing', table: 'invoices' },
        { schema: 'public', table: 'old' },
      ],
    });
  });

  it('lists each thing once', () => {
    expect(unknown('select f(); select f(); do $$ begin end $$; do $$ begin end $$')).toEqual(['call of function f()', 'DO block']);
  });
});

describe('SQL that does not parse', () => {
  const error = (sql: string): SqlSyntaxError => {
    try {
      writtenTables(sql, 'operations[0].sql.up');
    } catch (e) {
      if (e instanceof SqlSyntaxError) return e;
      throw e;
    }
    throw new Error('expected a SqlSyntaxError');
  };

  it('is a PlanError with the parser message, the position and where in the manifest', () => {
    const e = error('update users set name = 1 wher id = 2');
    expect(e).toBeInstanceOf(PlanError);
    expect(e.name).toBe('PlanError');
    expect(e.message).toBe('syntax error at or near "wher", at line 1, column 27 of the SQL');
    expect(e.path).toBe('operations[0].sql.up');
    expect([e.position, e.line, e.column]).toEqual([26, 1, 27]);
  });

  it('counts lines and characters, not bytes or UTF-16 units', () => {
    const e = error("update users set name = '🦤é';\ndelete frm users");
    expect(e.message).toBe('syntax error at or near "frm", at line 2, column 8 of the SQL');
    expect([e.line, e.column]).toEqual([2, 8]);
  });

  it('reports an unfinished statement at its end', () => {
    expect(error('select 1 +').message).toBe('syntax error at end of input, at line 1, column 11 of the SQL');
  });
});
