/**
 * `npm run bench:rollback`: how long Godwit takes to roll back a failed 5-step migration on a
 * 1M-row users table, compared with how long the same migration takes to go forward.
 *
 * The migration (realistic kinds, one activity each): add_column email_norm; backfill it with
 * lower(email) (a column this migration added: nothing to snapshot); create_index concurrently
 * on it; alter_column_type score int → bigint with down_using; drop_column bio (retired: renamed
 * out of the way, and back on rollback; before retirement, a snapshot of its 1M values). It runs through a real Temporal dev server and an in-process worker:
 *
 * - forward: the migration with a post check `select true`, to `applied`;
 * - rollback: the same migration with the post check `select false`, so it fails after its
 *   five steps and rolls everything back: compensations last-in-first-out, snapshot restore,
 *   then the proof (schema fingerprint and data checksum of users equal to before).
 *
 * Every run starts from the same bytes: the database is recreated from a seed copy (CREATE
 * DATABASE ... TEMPLATE, file copy, then a checkpoint) outside the timing. Times come from the
 * run itself: the lifecycle transitions' `at` (START → STEPS_DONE, FAIL → ROLLBACK_VERIFIED),
 * the history's activity events (scheduled → completed, per step and per compensation), and
 * the bench's clock around start → result. Every statement the activities send to Postgres is
 * timed too (pg's Client.prototype.query wrapped in this process, attributed to its activity
 * through the activity context), so the report says which statement the time went to.
 *
 * Prints a table and rewrites this benchmark's block of bench/README.md (between the
 * bench:rollback markers; nothing else is touched).
 *
 * The experiment that once ran after it (other ways to restore a dropped column from its
 * snapshot) is finished; its conclusion is in bench/README.md.
 *
 * Environment: BENCH_RUNS (3 forward and 3 rollback runs), BENCH_WARMUP (0 rounds),
 * BENCH_ROWS (1000000), DATABASE_URL (admin connection, default
 * postgres://postgres@127.0.0.1:5432/postgres), TEMPORAL_ADDRESS (use that server instead of
 * starting a dev server), BENCH_NO_README=1 (print only).
 */
import { writeReadmeSection } from './lib/readme';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { parseManifest } from '../src/manifest';
import { resultOf, startMigration } from '../src/client';
import { ensureControlSchema } from '../src/db/control-schema';
import { tableChecksum } from '../src/db/checksum';
import type { MigrationResult } from '../src/contract/migration';
import { BENCH_TARGET, startTemporalAndWorker, type BenchTemporal } from './lib/setup';
import { fmtMs, fmtRatio, max, median, min } from './lib/stats';
import { connected } from './lib/db';

// Its runs fail steps on purpose through `faults`, which a worker runs only when told it is a test one.
process.env.GODWIT_ALLOW_FAULTS ??= '1';

const README = fileURLToPath(new URL('README.md', import.meta.url));
const int = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 3));
const WARMUP = int(process.env.BENCH_WARMUP, 0);
const ROWS = Math.max(1, int(process.env.BENCH_ROWS, 1_000_000));
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'godwit_bench_rollback';
/** The starting state, built once; every run's database is a file copy of it. */
const SEED_DB = 'godwit_bench_rollback_seed';
const MIGRATION_ID = '0042_users_email_norm';

const out = (line = '') => process.stdout.write(`${line}\n`);

function urlOf(db: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${db}`;
  return url.toString();
}

// Shaped like a users table: a unique email, a ~100-character bio (NULL in every tenth row).
const USERS_DDL = [
  `create table users (
     id bigint generated always as identity primary key,
     email text not null unique,
     name text not null,
     bio text,
     score int not null default 0,
     created_at timestamptz not null default now()
   )`,
  `insert into users (email, name, bio, score, created_at)
   select 'User' || g || '@Example.com',
          'User ' || initcap(substr(md5(g::text), 1, 8)),
          case when g % 10 = 0 then null else repeat(md5(g::text || 'bio'), 3) || substr(md5(g::text), 1, 4) end,
          (g::bigint * 7919) % 1000,
          timestamptz '2020-01-01 00:00:00+00' + g * interval '37 seconds'
     from generate_series(1, ${ROWS}) g`,
  'vacuum (analyze, freeze) users',
];

function manifest(check: boolean): string {
  return `id: ${MIGRATION_ID}
description: Normalised email with its index, score widened to bigint, bio dropped
operations:
  - add_column: { table: users, column: { name: email_norm, type: text } }
  - backfill: { table: users, set: { email_norm: "lower(email)" }, batch_size: 5000 }
  - create_index: { table: users, columns: [email_norm], name: users_email_norm_idx, concurrently: true }
  - alter_column_type: { table: users, column: score, type: bigint, using: "score::bigint", down_using: "score::integer" }
  - drop_column: { table: users, column: bio }
checks:
  post:
    - name: ${check ? 'the application is healthy' : 'the application is healthy (fails on purpose)'}
      sql: select ${check}
policy:
  approval: never # destructive steps: auto would wait for a person
`;
}

// --- databases ----------------------------------------------------------------------------

function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return connected(ADMIN_URL, fn);
}

/** Builds the seed database: users with ROWS rows, frozen and analysed, and Godwit's control schema in place. */
async function buildSeed(): Promise<void> {
  await admin(async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`drop database if exists ${SEED_DB} with (force)`);
    await c.query(`create database ${SEED_DB}`);
  });
  const db = new pg.Client({ connectionString: urlOf(SEED_DB) });
  await db.connect();
  try {
    for (const statement of USERS_DDL) await db.query(statement);
    // The worker creates it on first use and remembers per pool that it did; the copies must have it.
    await ensureControlSchema(db);
  } finally {
    await db.end();
  }
}

/** Recreates the bench database as a file copy of the seed: the same bytes every run. */
async function resetDatabase(): Promise<number> {
  const t0 = performance.now();
  await admin(async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`create database ${DB} template ${SEED_DB} strategy file_copy`);
    // Nothing of the copy or of the previous run left dirty for the checkpointer to write during the run.
    await c.query('checkpoint');
  });
  return performance.now() - t0;
}

async function dropDatabases(): Promise<void> {
  await admin(async (c) => {
    for (const db of [DB, SEED_DB]) await c.query(`drop database if exists ${db} with (force)`);
  });
}

async function withDb<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: urlOf(DB) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function usersShape(c: pg.Client): Promise<string> {
  const { rows } = await c.query<{ shape: string }>(
    `select string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' order by attname) as shape
       from pg_attribute where attrelid = 'public.users'::regclass and attnum > 0 and not attisdropped`,
  );
  const idx = await c.query<{ n: string }>(`select string_agg(indexrelid::regclass::text || (case when indisvalid then '' else ' INVALID' end), ', ' order by 1) as n from pg_index where indrelid = 'public.users'::regclass`);
  return `${rows[0]?.shape ?? ''}; indexes ${idx.rows[0]?.n ?? ''}`;
}

// --- statements, timed in the worker ------------------------------------------------------

interface StatementTiming {
  runId: string;
  activityId: string;
  sql: string;
  ms: number;
}

/**
 * Wraps pg's Client.prototype.query (the worker's pools use it, in this process) to time every
 * statement an activity sends, with the activity it belongs to. Costs microseconds a statement.
 */
function instrumentPg(sink: StatementTiming[]): () => void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    let info: { activityId: string; runId: string } | undefined;
    try {
      const i = Context.current().info;
      info = { activityId: i.activityId, runId: i.workflowExecution?.runId ?? '' };
    } catch {
      info = undefined; // not inside an activity (the bench's own connections)
    }
    const result = original.apply(this, args);
    const first = args[0];
    const sql = typeof first === 'string' ? first : ((first as { text?: string } | null)?.text ?? '');
    if (info && result instanceof Promise) {
      const { activityId, runId } = info;
      const t0 = performance.now();
      const done = () => sink.push({ runId, activityId, sql, ms: performance.now() - t0 });
      result.then(done, done);
    }
    return result;
  };
  return () => {
    proto.query = original;
  };
}

/** A statement's line in the report: snapshot names and checksum expressions shortened. */
function statementLabel(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim().replace(/"godwit_snapshots"\."s_[0-9a-f]+"/g, 'godwit_snapshots.<snapshot>');
  const ck = /^select pg_catalog\.count\(\*\)::text as rows, coalesce\(pg_catalog\.sum\(.* from (\S+) r( where .*)?$/.exec(s);
  if (ck) {
    const columns = (s.match(/OPERATOR\(pg_catalog\.#\)/g)?.length ?? 0) + 1;
    return `data checksum (src/db/checksum.ts) of ${ck[1]!.replace(/"/g, '')}, ${columns} column${columns === 1 ? '' : 's'}${ck[2] ? ', a key range' : ''}`;
  }
  // The schema fingerprint and the introspection are each one union of catalog queries.
  if (/^select set_config\('search_path', 'pg_catalog', true\); \(select 'schema '/.test(s)) return 'schema fingerprint / introspection (one union of catalog queries)';
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

// --- one run ------------------------------------------------------------------------------

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return Number.NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

interface ActivityRun {
  activityId: string;
  type: string;
  summary: string;
  scheduledAt: number;
  /** Scheduled → completed (or failed), ms. */
  ms: number;
  /** Scheduled → started: dispatch (eager: ~0). */
  queuedMs: number;
}

interface RunRecord {
  kind: 'forward' | 'rollback';
  warm: boolean;
  resetMs: number;
  /** The bench's clock: start call → result. */
  wallMs: number;
  /** WorkflowExecutionStarted → closed, from the history. */
  workflowMs: number;
  /** START → STEPS_DONE. */
  stepsMs: number;
  /** FAIL → ROLLBACK_VERIFIED (rollback runs). */
  rollbackMs: number;
  activities: ActivityRun[];
  statements: StatementTiming[];
  result: MigrationResult;
}

function transitionAt(result: MigrationResult, event: string): number {
  const t = result.transitions.find((x) => x.event === event);
  if (!t) throw new Error(`the run has no ${event} transition: ${result.transitions.map((x) => x.event).join(', ')}`);
  return Date.parse(t.at);
}

async function activitiesOf(handle: WorkflowHandle): Promise<{ activities: ActivityRun[]; workflowMs: number }> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId), e);
  const activities: ActivityRun[] = [];
  for (const e of events) {
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (!done) continue;
    const scheduled = byId.get(Number(done.scheduledEventId));
    const started = byId.get(Number(done.startedEventId));
    const attrs = scheduled?.activityTaskScheduledEventAttributes;
    if (!scheduled || !started || !attrs) continue;
    const payload = scheduled.userMetadata?.summary;
    const summary = payload ? String(defaultPayloadConverter.fromPayload(payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0])) : '';
    activities.push({
      activityId: attrs.activityId ?? '',
      type: attrs.activityType?.name ?? '?',
      summary,
      scheduledAt: eventMs(scheduled),
      ms: eventMs(e) - eventMs(scheduled),
      queuedMs: eventMs(started) - eventMs(scheduled),
    });
  }
  const first = events.find((e) => e.workflowExecutionStartedEventAttributes);
  const last = events.find((e) => e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes || e.workflowExecutionTerminatedEventAttributes);
  return { activities, workflowMs: first && last ? eventMs(last) - eventMs(first) : Number.NaN };
}

let current: WorkflowHandle | null = null;

async function runOnce(temporal: BenchTemporal, kind: 'forward' | 'rollback', warm: boolean, sink: StatementTiming[], seedChecksum: string): Promise<RunRecord> {
  const resetMs = await resetDatabase();
  const loaded = parseManifest(manifest(kind === 'forward'), `${MIGRATION_ID}.yaml`);
  const settings = { address: temporal.endpoint.address, namespace: temporal.endpoint.namespace, taskQueue: temporal.taskQueue, uiUrl: temporal.endpoint.uiUrl };
  const t0 = performance.now();
  const handle = await startMigration(temporal.client, settings, { target: BENCH_TARGET, loaded, requestedBy: 'bench' });
  current = handle;
  const result = await resultOf(handle);
  const wallMs = performance.now() - t0;
  current = null;
  const runId = handle.firstExecutionRunId;

  // Checked, untimed: the run did what it says, or the bench fails instead of reporting a number.
  const want = kind === 'forward' ? 'applied' : 'rolled_back';
  if (result.outcome !== want || result.alreadyApplied) throw new Error(`${kind} run ended ${result.outcome}${result.alreadyApplied ? ' (already applied)' : ''}, expected ${want}`);
  const shape = await withDb(usersShape);
  if (kind === 'forward') {
    const expect = /email_norm text/.test(shape) && /score bigint/.test(shape) && !/\bbio\b/.test(shape) && /users_email_norm_idx/.test(shape) && !/INVALID/.test(shape);
    if (!expect) throw new Error(`after the forward run users is ${shape}`);
  } else {
    // Proven per restore (a retired column renamed back, a snapshot put back) or, by policy, per whole table.
    const proofs = [...(result.rollback?.data ?? []), ...(result.rollback?.restores ?? [])];
    if (result.rollback?.equal !== true || proofs.length === 0 || !proofs.every((d) => d.equal)) {
      throw new Error(`rollback not proven: ${JSON.stringify(result.rollback)}`);
    }
    if (!result.steps.every((s) => s.status === 'compensated')) throw new Error(`steps after rollback: ${result.steps.map((s) => s.status).join(', ')}`);
    if (/email_norm/.test(shape) || !/score integer/.test(shape) || !/bio text/.test(shape)) throw new Error(`after the rollback users is ${shape}`);
    const sum = await withDb((c) => tableChecksum(c, 'public', 'users'));
    if (sum.checksum !== seedChecksum || sum.rows !== ROWS) throw new Error(`users after rollback: ${sum.rows} rows ${sum.checksum}, seed ${seedChecksum}`);
  }

  const { activities, workflowMs } = await activitiesOf(handle);
  return {
    kind,
    warm,
    resetMs,
    wallMs,
    workflowMs,
    stepsMs: transitionAt(result, 'STEPS_DONE') - transitionAt(result, 'START'),
    rollbackMs: kind === 'rollback' ? transitionAt(result, 'ROLLBACK_VERIFIED') - transitionAt(result, 'FAIL') : Number.NaN,
    activities,
    statements: sink.filter((s) => s.runId === runId),
    result,
  };
}

// --- report -------------------------------------------------------------------------------

/** The activities that make up a phase of a run, in order, by their summaries. */
interface Row {
  label: string;
  forward: number[];
  compensation: number[];
}

function stepRows(forward: RunRecord[], rollback: RunRecord[]): { rows: Row[]; labels: { key: string; label: string; kind: 'forward' | 'compensation'; runs: RunRecord[] }[] } {
  const steps = rollback[0]?.result.steps ?? forward[0]!.result.steps;
  const find = (r: RunRecord, type: string, summary?: string) => r.activities.filter((a) => a.type === type && (summary === undefined || a.summary === summary));
  const sumMs = (xs: ActivityRun[]) => xs.reduce((t, a) => t + a.ms, 0);
  const rows: Row[] = [];
  const labels: { key: string; label: string; kind: 'forward' | 'compensation'; runs: RunRecord[] }[] = [];
  rows.push({ label: 'prepare: lease, introspect, plan, fingerprint, checksum of users (before START)', forward: forward.map((r) => sumMs(find(r, 'prepareMigration'))), compensation: [] });
  for (const s of steps) {
    rows.push({
      label: `${s.index}. ${s.summary}`,
      forward: forward.map((r) => sumMs(find(r, 'runStep', s.summary))),
      compensation: rollback.map((r) => sumMs(find(r, 'compensateStep', `undo ${s.summary}`))),
    });
    labels.push({ key: `runStep:${s.summary}`, label: `${s.index}. ${s.summary}`, kind: 'forward', runs: forward });
  }
  for (const s of [...steps].reverse()) labels.push({ key: `compensateStep:undo ${s.summary}`, label: `undo ${s.index}. ${s.summary}`, kind: 'compensation', runs: rollback });
  rows.push({ label: 'post check (forward: passes; rollback run: fails, before FAIL)', forward: forward.map((r) => sumMs(find(r, 'runChecks'))), compensation: [] });
  rows.push({ label: 'proof: verifyRollback (fingerprint + data checksum of users)', forward: [], compensation: rollback.map((r) => sumMs(find(r, 'verifyRollback'))) });
  labels.push({ key: 'verifyRollback:', label: 'proof (verifyRollback)', kind: 'compensation', runs: rollback });
  rows.push({ label: 'finishMigration (after BAKE_PASSED / ROLLBACK_VERIFIED)', forward: forward.map((r) => sumMs(find(r, 'finishMigration'))), compensation: rollback.map((r) => sumMs(find(r, 'finishMigration'))) });
  return { rows, labels };
}

/** Median per statement label, over runs, of the time a label took inside one activity of a run. */
function anatomy(runs: RunRecord[], type: string, summary: string): { label: string; ms: number }[] {
  const perRun = runs.map((r) => {
    const ids = new Set(r.activities.filter((a) => a.type === type && (summary === '' || a.summary === summary)).map((a) => a.activityId));
    const m = new Map<string, number>();
    for (const s of r.statements) {
      if (!ids.has(s.activityId)) continue;
      const l = statementLabel(s.sql);
      m.set(l, (m.get(l) ?? 0) + s.ms);
    }
    return m;
  });
  const labels = new Set(perRun.flatMap((m) => [...m.keys()]));
  return [...labels].map((label) => ({ label, ms: median(perRun.map((m) => m.get(label) ?? 0)) })).sort((a, b) => b.ms - a.ms);
}

/** Facts about the seed (the starting state of every run) and the server. */
async function facts(): Promise<{ size: string; version: string; settings: string }> {
  const c = new pg.Client({ connectionString: urlOf(SEED_DB) });
  await c.connect();
  try {
    const { rows } = await c.query(
      `select pg_size_pretty(pg_total_relation_size('users')) as size, current_setting('server_version') as version,
              current_setting('max_parallel_workers_per_gather') as workers, current_setting('shared_buffers') as sb,
              current_setting('max_wal_size') as wal, current_setting('autovacuum') as av, current_setting('maintenance_work_mem') as mwm`,
    );
    const r = rows[0];
    return {
      size: r.size,
      version: r.version,
      settings: `server defaults: shared_buffers ${r.sb}, max_wal_size ${r.wal}, maintenance_work_mem ${r.mwm}, max_parallel_workers_per_gather ${r.workers}, autovacuum ${r.av}`,
    };
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  process.env.GODWIT_LOG_LEVEL ??= 'ERROR';
  out(`Godwit rollback benchmark: ${RUNS} forward and ${RUNS} rollback runs (after ${WARMUP} warm-up round${WARMUP === 1 ? '' : 's'}), users with ${ROWS.toLocaleString('en')} rows`);

  let temporal: BenchTemporal | undefined;
  let seeded = false;
  const statements: StatementTiming[] = [];
  const uninstrument = instrumentPg(statements);
  let cleaning: Promise<void> | null = null;
  let interrupted = false;
  const cleanup = () =>
    (cleaning ??= (async () => {
      // Dropping the databases ends the worker's connections on purpose; a pool client caught
      // between two statements then emits an 'error' nobody listens to. We are leaving anyway.
      process.on('uncaughtException', (err) => out(`  while cleaning up: ${err.message}`));
      uninstrument();
      // An open run first (a server given by TEMPORAL_ADDRESS outlives the bench), then the
      // databases (ends any statement still running), then the worker and the server.
      await current?.terminate('bench:rollback interrupted').catch(() => undefined);
      if (seeded) await dropDatabases().catch((err: unknown) => out(`dropping ${DB}, ${SEED_DB}: ${(err as Error).message}`));
      await temporal?.stop().catch((err: unknown) => out(`stopping worker/server: ${(err as Error).message}`));
    })());
  const onSignal = () => {
    interrupted = true;
    out('\ninterrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    seeded = true;
    const tSeed = performance.now();
    await buildSeed();
    const seedChecksum = await (async () => {
      const c = new pg.Client({ connectionString: urlOf(SEED_DB) });
      await c.connect();
      try {
        return (await tableChecksum(c, 'public', 'users')).checksum;
      } finally {
        await c.end();
      }
    })();
    out(`seed database ${SEED_DB} built in ${fmtMs(performance.now() - tSeed)}; every run gets a file copy of it as ${DB}`);
    const info = await facts();

    temporal = await startTemporalAndWorker(urlOf(DB), (line) => out(`  ${line}`));
    out(`temporal ${temporal.endpoint.address} (${temporal.endpoint.started ? 'dev server started for this run' : 'TEMPORAL_ADDRESS'}), worker on task queue ${temporal.taskQueue}`);

    const records: RunRecord[] = [];
    for (let round = 0; round < WARMUP + RUNS; round++) {
      const warm = round < WARMUP;
      // Alternate which kind goes first, so drift in the machine's load lands on both alike.
      const order: ('forward' | 'rollback')[] = round % 2 === 0 ? ['forward', 'rollback'] : ['rollback', 'forward'];
      for (const kind of order) {
        process.stdout.write(`${warm ? 'warm-up' : 'round'} ${warm ? round + 1 : round - WARMUP + 1}/${warm ? WARMUP : RUNS} ${kind.padEnd(8)} `);
        const r = await runOnce(temporal, kind, warm, statements, seedChecksum);
        records.push(r);
        out(
          kind === 'forward'
            ? `START→STEPS_DONE ${fmtMs(r.stepsMs)}, start→applied ${fmtMs(r.wallMs)} (reset ${fmtMs(r.resetMs)}, load ${loadavg()[0]!.toFixed(2)})`
            : `FAIL→ROLLBACK_VERIFIED ${fmtMs(r.rollbackMs)}, its forward steps ${fmtMs(r.stepsMs)}, start→rolled_back ${fmtMs(r.wallMs)} (reset ${fmtMs(r.resetMs)}, load ${loadavg()[0]!.toFixed(2)})`,
        );
      }
    }
    const load1 = loadavg();
    const fwd = records.filter((r) => r.kind === 'forward' && !r.warm);
    const rb = records.filter((r) => r.kind === 'rollback' && !r.warm);

    const lines: string[] = [];
    const L = (s = '') => lines.push(s);
    const stat = (xs: number[]) => `${fmtMs(median(xs))} | ${fmtMs(min(xs))} | ${fmtMs(max(xs))}`;
    const fwdSteps = fwd.map((r) => r.stepsMs);
    const rbTimes = rb.map((r) => r.rollbackMs);
    L(`| what (${RUNS} runs each) | median | min | max |`);
    L('|---|---:|---:|---:|');
    L(`| **forward**: START → STEPS_DONE (the 5 steps) | ${stat(fwdSteps)} |`);
    L(`| forward run, whole: start → result \`applied\` (prepare, 5 steps, post check, finish) | ${stat(fwd.map((r) => r.wallMs))} |`);
    L(`| **rollback**: FAIL → ROLLBACK_VERIFIED (5 compensations + proof) | ${stat(rbTimes)} |`);
    L(`| rollback run, whole: start → result \`rolled_back\` (prepare, 5 steps, failing check, rollback, finish) | ${stat(rb.map((r) => r.wallMs))} |`);
    L(`| the rollback runs' own forward steps: START → STEPS_DONE | ${stat(rb.map((r) => r.stepsMs))} |`);
    L();
    const ofMedians = median(rbTimes) / median(fwdSteps);
    const paired = median(rb.map((r) => r.rollbackMs / r.stepsMs));
    const verdict = (x: number) => (x <= 1 ? 'met' : '**missed**');
    L('| ratio | value | target | |');
    L('|---|---:|---:|---|');
    L(`| rollback ÷ forward (medians: FAIL→ROLLBACK_VERIFIED ÷ START→STEPS_DONE of the forward runs) | ${fmtRatio(ofMedians)} | ≤ 1.00× | ${verdict(ofMedians)} |`);
    L(`| rollback ÷ forward within each rollback run (median of ${rb.length} per-run ratios) | ${fmtRatio(paired)} | ≤ 1.00× | ${verdict(paired)} |`);
    L(`| rollback ÷ whole forward run (start → \`applied\`) | ${fmtRatio(median(rbTimes) / median(fwd.map((r) => r.wallMs)))} | | |`);
    L();

    const { rows, labels } = stepRows(fwd, rb);
    L('Where the time goes, activity by activity (history: scheduled → completed; medians):');
    L();
    L('| activity | forward | compensation (rollback) |');
    L('|---|---:|---:|');
    for (const row of rows) L(`| ${row.label} | ${row.forward.length ? fmtMs(median(row.forward)) : ''} | ${row.compensation.length ? fmtMs(median(row.compensation)) : ''} |`);
    const inWindow = (r: RunRecord, from: string, to: string, types: string[]) => {
      const a = transitionAt(r.result, from);
      const b = transitionAt(r.result, to);
      return r.activities.filter((x) => types.includes(x.type) && x.scheduledAt >= a - 1 && x.scheduledAt <= b).reduce((t, x) => t + x.ms, 0);
    };
    const fwdGap = median(fwd.map((r) => r.stepsMs - inWindow(r, 'START', 'STEPS_DONE', ['runStep'])));
    const rbGap = median(rb.map((r) => r.rollbackMs - inWindow(r, 'FAIL', 'ROLLBACK_VERIFIED', ['compensateStep', 'verifyRollback'])));
    L(`| between activities inside the window (workflow tasks, dispatch) | ${fmtMs(fwdGap)} | ${fmtMs(rbGap)} |`);
    L(`| **window** (START → STEPS_DONE / FAIL → ROLLBACK_VERIFIED) | **${fmtMs(median(fwdSteps))}** | **${fmtMs(median(rbTimes))}** |`);
    L();
    const queued = max(records.flatMap((r) => r.activities.map((a) => a.queuedMs)));
    L(`Activity dispatch (scheduled → started) was at most ${fmtMs(queued)} in any run: eager activity execution on.`);
    L();

    L('Inside each activity: the statements it sent to Postgres, timed in the worker (medians; statements under 3% of the activity folded into the last line):');
    L();
    L('| activity | statement | time |');
    L('|---|---|---:|');
    for (const { key, label, runs } of labels) {
      const [type, summary] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
      const parts = anatomy(runs, type, summary);
      const total = parts.reduce((t, p) => t + p.ms, 0);
      const big = parts.filter((p) => p.ms >= 0.03 * total && p.ms >= 5);
      const rest = parts.filter((p) => !big.includes(p));
      let first = true;
      for (const p of big) {
        L(`| ${first ? label : ''} | \`${p.label.replace(/\|/g, '\\|')}\` | ${fmtMs(p.ms)} |`);
        first = false;
      }
      if (rest.length) L(`| ${first ? label : ''} | ${rest.length} other statement${rest.length === 1 ? '' : 's'} (fence, ledger, audit, catalog) | ${fmtMs(rest.reduce((t, p) => t + p.ms, 0))} |`);
    }
    const table = lines.join('\n');

    const load = `load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end`;
    const meta =
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ` +
      `PostgreSQL ${info.version}, node ${process.version}; users: ${ROWS.toLocaleString('en')} rows, ${info.size} with its indexes before the migration; ` +
      `${info.settings}; ${RUNS} forward and ${RUNS} rollback runs${WARMUP ? ` after ${WARMUP} warm-up round${WARMUP === 1 ? '' : 's'}` : ''}, alternating which goes first, each on a fresh file copy of the same database; ${load}.`;
    const raw = [
      `- forward START→STEPS_DONE: ${fwd.map((r) => Math.round(r.stepsMs)).join(', ')}`,
      `- forward start→applied: ${fwd.map((r) => Math.round(r.wallMs)).join(', ')}`,
      `- rollback FAIL→ROLLBACK_VERIFIED: ${rb.map((r) => Math.round(r.rollbackMs)).join(', ')}`,
      `- rollback runs' START→STEPS_DONE: ${rb.map((r) => Math.round(r.stepsMs)).join(', ')}`,
      `- rollback start→rolled_back: ${rb.map((r) => Math.round(r.wallMs)).join(', ')}`,
      ...rows.map((row) => `- ${row.label}: forward ${row.forward.map(Math.round).join(', ') || '—'}; compensation ${row.compensation.map(Math.round).join(', ') || '—'}`),
    ].join('\n');

    out();
    out(meta);
    out();
    out(table);
    out();
    out(`raw samples (ms, in run order):\n${raw}`);

    if (process.env.BENCH_NO_README !== '1') {
      writeReadmeSection({
        marker: 'rollback',
        command: 'npm run bench:rollback',
        source: 'bench/rollback.ts',
        heading: 'Rollback against forward time',
        body: `${meta}\n\n${table}\n\n<details><summary>Raw samples (ms, in run order)</summary>\n\n${raw}\n\n</details>`,
      });
      out(`\nwrote the figures to ${README}`);
    }
  } catch (err) {
    // Interrupted: the statement that failed was ended by the cleanup, which exits with 130.
    if (!interrupted) throw err;
  } finally {
    await cleanup();
  }
}

// A failure must fail the command: the cleanup's uncaughtException listener would swallow a rejected top-level await.
await main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
