import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { standaloneClient } from '../src/db/pool';
import { quoteIdent } from '../src/db/ident';
import { FINAL_STATES } from '../src/lifecycle/states';
import { readCopyCatalog } from '../src/rehearse/catalog';
import { copySample, copySequences } from '../src/rehearse/sample';
import { fillSynthetic } from '../src/rehearse/synthetic';
import { SchemaCopyError, withSchemaDump } from '../src/rehearse/schema-copy';
import { scratchAlias, scratchDatabase, withDatabase } from '../src/rehearse/scratch-target';
import { STATE_QUERY, type MigrationProgress } from '../src/contract/migration';
import type { AwaitChildInput, DropScratchInput, PrepareRehearsalInput, PrepareRehearsalResult } from '../src/contract/rehearse';
import { type ActivityDeps, heartbeatDetails, heartbeating } from './context';
import { toFailure } from './errors';

/** How often a watched child's state is asked for. */
const WATCH_INTERVAL_MS = 250;
/** Failed looks in a row before the watcher gives up (the activity is retried). */
const WATCH_PATIENCE = 120;

async function connected(url: string): Promise<pg.Client> {
  const client = standaloneClient(url);
  await client.connect();
  return client;
}

/** Migrations recorded as applied on the target; none when Godwit never ran there. Read only. */
async function appliedOn(source: pg.ClientBase): Promise<Map<string, string>> {
  const { rows: present } = await source.query<{ ok: boolean }>(`select to_regclass('godwit.migrations') is not null as ok`);
  if (!present[0]?.ok) return new Map();
  const { rows } = await source.query<{ migration_id: string; checksum: string }>(`select migration_id, checksum from godwit.migrations where state = 'applied'`);
  return new Map(rows.map((r) => [r.migration_id, r.checksum]));
}

/** Creates the scratch database on the target's server, with the target's encoding and collation (after dropping a copy a failed attempt left). */
async function createScratch(source: pg.ClientBase, database: string): Promise<void> {
  const { rows } = await source.query<{ encoding: string; collate: string; ctype: string }>(
    `select pg_encoding_to_char(encoding) as encoding, datcollate as collate, datctype as ctype from pg_database where datname = current_database()`,
  );
  const db = rows[0]!;
  try {
    await source.query(`drop database if exists ${quoteIdent(database)} with (force)`);
    await source.query(
      `create database ${quoteIdent(database)} template template0 encoding ${source.escapeLiteral(db.encoding)} lc_collate ${source.escapeLiteral(db.collate)} lc_ctype ${source.escapeLiteral(db.ctype)}`,
    );
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    const { rows: who } = await source.query<{ role: string }>('select current_user as role');
    throw ApplicationFailure.nonRetryable(
      `cannot create the scratch database ${database} beside the target: the worker's role ${who[0]?.role ?? ''} may not create databases. Grant it (ALTER ROLE ${who[0]?.role ?? '<role>'} CREATEDB), then rehearse again`,
      'ScratchDatabaseRefused',
    );
  }
}

export function makeRehearse(deps: ActivityDeps) {
  return {
    /**
     * Makes the rehearsal's scratch database: created beside the target, the target's schema
     * restored into it with pg_restore, then a sample of its rows (closed under foreign keys)
     * or synthetic rows. The target is only read: pg_dump, and one read-only snapshot.
     */
    async prepareRehearsal(input: PrepareRehearsalInput): Promise<PrepareRehearsalResult> {
      const started = Date.now();
      const context = `preparing the rehearsal of '${input.target}'`;
      const database = scratchDatabase(input.rehearsalId);
      const alias = scratchAlias(input.target, input.rehearsalId);
      let source: pg.Client | undefined;
      let dest: pg.Client | undefined;
      try {
        const targetUrl = deps.pools.connectionString(input.target);
        const scratchUrl = withDatabase(targetUrl, database);
        source = await connected(targetUrl);
        return await heartbeating(async () => {
          const s = source!;
          await s.query('begin isolation level repeatable read read only');
          const recorded = await appliedOn(s);
          const applied = input.manifests.filter((m) => recorded.get(m.id) === m.checksum).map((m) => m.id);
          const changed = input.manifests.filter((m) => recorded.has(m.id) && recorded.get(m.id) !== m.checksum).map((m) => ({ id: m.id, recorded: recorded.get(m.id)!, current: m.checksum }));
          if (changed.length > 0) return { scratchTarget: alias, database, tables: [], applied, changed, notes: [], ms: Date.now() - started };
          await s.query('commit');
          // CREATE DATABASE cannot run in a transaction; it writes to the server's catalog, not to the target.
          await createScratch(s, database);
          await s.query('begin isolation level repeatable read read only');
          const notes: string[] = [];
          await deps.pools.forget(alias);
          const counts = await withSchemaDump(targetUrl, async (restore) => {
            await restore('pre-data', scratchUrl);
            dest = await connected(scratchUrl);
            if (input.data.kind === 'synthetic') {
              await restore('post-data', scratchUrl);
              const catalog = await readCopyCatalog(dest);
              const filled = await fillSynthetic(dest, catalog, input.data.rows, input.data.seed, (table, rows) => heartbeatDetails({ table, rows }));
              notes.push(...filled.notes);
              return filled.counts;
            }
            const catalog = await readCopyCatalog(s);
            const copied = await copySample(s, dest, catalog, input.data.rows, (p) => heartbeatDetails(p));
            await copySequences(s, dest, catalog);
            await restore('post-data', scratchUrl);
            return copied;
          });
          await s.query('commit');
          await dest!.query('analyze');
          const tables = [...counts.entries()].map(([table, rows]) => ({ table, rows }));
          return { scratchTarget: alias, database, tables, applied, changed: [], notes, ms: Date.now() - started };
        });
      } catch (err) {
        if (err instanceof SchemaCopyError) throw ApplicationFailure.nonRetryable(`${context}: ${err.message}`, err.name);
        throw toFailure(err, context);
      } finally {
        await source?.end().catch(() => undefined);
        await (dest as pg.Client | undefined)?.end().catch(() => undefined);
      }
    },

    /** Drops the scratch database (it may not exist: a rehearsal that failed early, or a retry). */
    async dropScratch(input: DropScratchInput): Promise<{ dropped: string }> {
      const database = scratchDatabase(input.rehearsalId);
      await deps.pools.forget(scratchAlias(input.target, input.rehearsalId));
      let client: pg.Client | undefined;
      try {
        client = await connected(deps.pools.connectionString(input.target));
        await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
        return { dropped: database };
      } catch (err) {
        throw toFailure(err, `dropping the scratch database ${database}`);
      } finally {
        await client?.end().catch(() => undefined);
      }
    },

    /**
     * Waits until a rehearsal child ends, or waits for a human in rollback_failed (which it would
     * do forever), and returns its progress then; null when it closed some other way (its
     * result says how). Asks the child's state query through the worker's own client.
     */
    async awaitRehearsalChild(input: AwaitChildInput): Promise<MigrationProgress | null> {
      const ctx = Context.current();
      const handle = ctx.client.workflow.getHandle(input.workflowId);
      let failures = 0;
      for (;;) {
        ctx.heartbeat();
        try {
          const description = await handle.describe();
          if (description.status.name !== 'RUNNING') return null;
          const progress = await handle.query<MigrationProgress>(STATE_QUERY);
          failures = 0;
          if (progress.state === 'rollback_failed' || FINAL_STATES.includes(progress.state)) return progress;
        } catch (err) {
          // Started a moment ago and not yet visible, or its first task not yet run: ask again, for a while.
          if (++failures > WATCH_PATIENCE) throw toFailure(err, `watching ${input.workflowId}`);
        }
        await sleep(WATCH_INTERVAL_MS, undefined, { signal: ctx.cancellationSignal });
      }
    },
  };
}
