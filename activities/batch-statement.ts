import { quoteIdent } from '../src/db/ident';
import { SNAPSHOT_SCHEMA } from '../src/db/schemas';
import { OP_COLUMN, type ChangeLog } from '../src/db/changes';
import type { PlannedStep } from '../src/operations/types';

export type BatchUpdate = NonNullable<NonNullable<PlannedStep['batch']>['update']>;

/** One key range of a batched step: the keys after `lastKey` (all when null) up to `until` (to the end when null). */
export interface KeyRange {
  lastKey: string[] | null;
  until: string[] | null;
}

/**
 * The statement of one batch of at most `size` rows, and its parameters (the range's ends,
 * one text per key column). One row back (the rows updated and the batch's last key, as
 * text), or none when the range has no row left.
 *
 * Postgres picks the batch's last key (`bound`: the size-th key of the range that the filter
 * admits, else the range's last one), so key order is Postgres' own (collations, types). The
 * UPDATE then takes the keys up to it: a range the planner reads through the key's index,
 * however big the table (a join with a list of keys it plans as a hash join over the whole
 * table once the list is long, which made every batch a full scan).
 */
export function batchStatement(table: string, key: readonly string[], update: BatchUpdate, log: ChangeLog | undefined): (range: KeyRange, size: number) => { text: string; values: string[] } {
  const keys = key.map(quoteIdent);
  const row = (cols: readonly string[]) => (cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`);
  const filter = update.where === undefined ? 'true' : `(${update.where})`;
  // With a change log, each batch also writes the rows it changes as they were (from the rows
  // it holds FOR UPDATE) and as it left them, in the same statement: exact, and no table lock.
  // Its columns get names of their own, so that the SET expressions, which may name any column
  // of the table (`'x' || id`), never find one of them ambiguous. The key comes first.
  const logged = log === undefined ? [] : [...new Set([...log.spec.key, ...(log.spec.columns ?? [])])];
  const image = (from: string) => logged.map((c) => `${from}.${quoteIdent(c)}`).join(', ');
  const names = logged.map((_c, i) => `godwit_c${i}`).join(', ');
  return (range, size) => {
    const values: string[] = [];
    const param = (k: readonly string[]) => row(k.map((v) => `$${values.push(v)}`));
    const after = range.lastKey === null ? null : param(range.lastKey);
    const until = range.until === null ? null : param(range.until);
    const within = (alias: string) => {
      const at = row(keys.map((k) => `${alias}${k}`));
      return [after === null ? null : `${at} > ${after}`, until === null ? null : `${at} <= ${until}`].filter((c) => c !== null);
    };
    const where = (alias: string, ...more: string[]) => [...within(alias), ...more].join(' and ');
    const bound = `bound as materialized (
         (select ${keys.join(', ')} from ${table} where ${where('', filter)} order by ${keys.join(', ')} offset ${size - 1} limit 1)
         union all
         (select ${keys.join(', ')} from ${table} where ${where('', filter)} order by ${keys.map((k) => `${k} desc`).join(', ')} limit 1)
         limit 1
       )`;
    const upTo = (alias: string) => `${row(keys.map((k) => `${alias}${k}`))} <= (select ${keys.join(', ')} from bound)`;
    const result = `select (select count(*) from updated)::text as n, ${keys.map((k) => `${k}::text as ${k}`).join(', ')} from bound`;
    if (log === undefined) {
      const text = `with ${bound}, updated as (
           update ${table} as t set ${update.set} where ${where('t.', upTo('t.'), filter)} returning 1
         )
         ${result}`;
      return { text, values };
    }
    const text = `with ${bound}, batch as (
         select ${logged.map((c, i) => `${quoteIdent(c)} as godwit_c${i}`).join(', ')} from ${table} as b where ${where('b.', upTo('b.'), filter)} for update
       ), updated as (
         update ${table} as t set ${update.set} from batch
          where ${where('t.', upTo('t.'), ...key.map((k, i) => `t.${quoteIdent(k)} = batch.godwit_c${i}`))}
         returning ${image('t')}
       ), logged as (
         insert into ${quoteIdent(SNAPSHOT_SCHEMA)}.${quoteIdent(log.name)} (${[...logged, OP_COLUMN].map(quoteIdent).join(', ')})
         select ${names}, op from (
           select ${logged.map((_c, i) => `batch.godwit_c${i}`).join(', ')}, 'o'::"char", 0 from batch
           union all
           select ${image('updated')}, 'n'::"char", 1 from updated
         ) as images (${names}, op, ord) order by ord
         returning 1
       )
       ${result}`;
    return { text, values };
  };
}
