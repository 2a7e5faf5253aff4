/**
 * The triggers that keep an online type change's two columns in step (see
 * operations/alter-column-type-online.ts) live only as long as the migration: a rollback's
 * compensations drop them, and this drops them once the migration is applied.
 */
import type pg from 'pg';
import { quoteIdent } from './ident';
import { SNAPSHOT_SCHEMA, SYNC_TRIGGER_PREFIX } from './schemas';

const LIKE_PREFIX = `${SYNC_TRIGGER_PREFIX.replaceAll('_', '\\_')}%`;

/**
 * Drops every sync trigger and its function, in the caller's transaction (each DROP TRIGGER
 * takes the table's ACCESS EXCLUSIVE lock for a moment: run it under lock_timeout). Only one
 * migration runs on a target at a time, so those left are the one that just ended.
 * Returns the tables they were on.
 */
export async function removeSyncTriggers(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ trigger: string; rel: string }>(
    `select tg.tgname as trigger, tg.tgrelid::regclass::text as rel
       from pg_trigger tg join pg_proc p on p.oid = tg.tgfoid join pg_namespace n on n.oid = p.pronamespace
      where not tg.tgisinternal and n.nspname = $1 and p.proname like $2
      order by 2, 1`,
    [SNAPSHOT_SCHEMA, LIKE_PREFIX],
  );
  for (const r of rows) await client.query(`drop trigger ${quoteIdent(r.trigger)} on ${r.rel}`);
  const fns = await client.query<{ fn: string }>(
    `select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = $1 and p.proname like $2`,
    [SNAPSHOT_SCHEMA, LIKE_PREFIX],
  );
  for (const f of fns.rows) await client.query(`drop function ${f.fn}`);
  return rows.map((r) => r.rel);
}
