/**
 * `npm run bench:backfill`: how fast Godwit fills a new column on a big table, against one raw
 * UPDATE and against pgroll, and what it does to an application writing to the same table.
 *
 * The table: `users (id bigint primary key, email text, name text, visits int, created_at)`
 * with an index on email and BENCH_ROWS rows (a plain bigint key: pgroll's backfill does not
 * work with GENERATED ALWAYS identity keys), and an empty `events` table.
 *
 * Part 1, speed, on an otherwise idle database: BENCH_RUNS rounds, each running every contender
 * once, in an order rotated per round so drifting machine load lands on all alike, each on a
 * fresh file copy of the same seeded database, each timed from spawn to exit as a pipeline
 * would run it:
 *   - godwit: `node bin/godwit.js apply <manifest> --target bench --wait --json`, the manifest
 *     `add_column email_norm text` then `backfill: { table: users, set: { email_norm: "lower(email)" } }`
 *     with `policy: { approval: never }`, through a Temporal dev server and a Godwit worker
 *     running in this process (bench/lib/setup.ts);
 *   - godwit_one_lane: the same with `policy.throttle.lanes: 1`, to show what the second lane buys;
 *   - psql: `psql -c 'ALTER TABLE users ADD COLUMN email_norm text' -c 'UPDATE users SET email_norm = lower(email)'`;
 *   - pgroll (PGROLL_TAG, built from source, bench/lib/pgroll.ts): `pgroll start` of an add_column
 *     with `up: lower(email)`, then `pgroll complete`, with its default batch size and delay.
 * Every run is checked afterwards: every row's email_norm = lower(email).
 * Godwit's batch durations come from the backfill's step ledger row (its progress keeps their
 * distribution, src/throttle/durations.ts); its step time from the run's Temporal history.
 *
 * Part 2, under load: pgbench (BENCH_CLIENTS clients) as the application, each transaction
 * `update users set visits = visits + 1 where id = :id; insert into events ...`, so
 * count(events) − sum(visits) after a window is the number of writes lost. Windows of
 * BENCH_WINDOW_S s (extended in BENCH_EXTEND_S s segments while a migration still runs): a
 * baseline with no migration, Godwit's backfill, Godwit's online `alter_column_type visits
 * int → bigint` (online: true), and for comparison the raw UPDATE and pgroll; the migration
 * starts ~2 s into the window, with lock_timeout BENCH_LOCK_TIMEOUT. Reported: the
 * application's p50/p99/max latency over the window and while the migration ran.
 *
 * Writes this benchmark's block of bench/README.md (between the bench:backfill markers).
 *
 * Environment: BENCH_ROWS (1000000), BENCH_RUNS (3), BENCH_TOOLS (godwit,godwit_one_lane,psql,pgroll), BENCH_LOAD_RUNS (1), BENCH_PARTS (speed,load),
 * BENCH_LOAD_KINDS (baseline,godwit_backfill,godwit_alter_online,psql_update,pgroll), BENCH_LOAD_THROTTLE (policy.throttle
 * of Godwit's manifests under load, e.g. `yield: 2`), BENCH_CLIENTS (4), BENCH_WINDOW_S (15), BENCH_EXTEND_S (5), BENCH_LOCK_TIMEOUT (2s), BENCH_SPLIT_CPUS=1 (load part: Godwit and the tools on half the CPUs, Postgres and pgbench on the rest; `spare`: the tools' backends on the first half too), BENCH_QUIET=0 (do not
 * wait for a quiet machine before each run), BENCH_QUIET_BUSY (0.5), BENCH_QUIET_WAIT_MS (15000),
 * BENCH_PGROLL (a pgroll binary to use), PGROLL_SRC (a git repository holding pgroll's tag to
 * build from; default: clone GitHub), BENCH_NO_PGROLL=1, DATABASE_URL (admin connection, default
 * postgres://postgres@127.0.0.1:5432/postgres), TEMPORAL_ADDRESS, BENCH_NO_README=1 (print only).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../scripts/build';
import { ensureControlSchema } from '../src/db/control-schema';
import { countOver, DURATION_BOUNDS_MS, emptyDurations, quantileBound, type DurationHistogram } from '../src/throttle/durations';
import { connected, copyDatabase, dropDatabases, urlOf } from './lib/db';
import { latencyStats, startPgbench, type LatencyStats, type PgbenchRun, type Txn } from './lib/pgbench';
import { ensurePgroll, PGROLL_TAG } from './lib/pgroll';
import { waitForQuiet } from './lib/quiet';
import { writeReadmeSection } from './lib/readme';
import { BENCH_TARGET, cliEnv, startTemporalAndWorker, type BenchTemporal } from './lib/setup';
import { activitySpans, spanLabel, type ActivitySpan } from './lib/spans';
import { fmtRatio, median } from './lib/stats';
import { timedSpawn, type TimedRun } from './lib/timed';
import { onInterrupt, runBench } from './lib/main';
import { assertPostgresOnAllCpus, spareCore, splitCpus, splitModeFromEnv, unsplitCpus, type CpuSplit } from './lib/cpus';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const int = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
const ROWS = Math.max(1, int(process.env.BENCH_ROWS, 1_000_000));
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 3));
const LOAD_RUNS = Math.max(1, int(process.env.BENCH_LOAD_RUNS, 1));
const PARTS = new Set((process.env.BENCH_PARTS ?? 'speed,load').split(',').map((s) => s.trim()));
const CLIENTS = Math.min(8, Math.max(1, int(process.env.BENCH_CLIENTS, 4)));
const WINDOW_S = Math.max(5, int(process.env.BENCH_WINDOW_S, 15));
const EXTEND_S = Math.max(1, int(process.env.BENCH_EXTEND_S, 5));
const LOCK_TIMEOUT = process.env.BENCH_LOCK_TIMEOUT ?? '2s';
/** policy.throttle fields for Godwit's manifests under load, as YAML flow (`yield: 2, batch_ms: 30`); none by default. */
const LOAD_THROTTLE = process.env.BENCH_LOAD_THROTTLE ?? '';
const LOAD_KINDS = (process.env.BENCH_LOAD_KINDS ?? 'baseline,godwit_backfill,godwit_alter_online,psql_update,pgroll').split(',').map((k) => k.trim());
const QUIET = process.env.BENCH_QUIET !== '0';
/**
 * BENCH_SPLIT_CPUS=1: during the load part, Godwit (this process, its worker, the Temporal server,
 * the CLI, and pgroll and psql as the other tools) on one half of the CPUs, Postgres and pgbench
 * on the other, standing in for the machines of their own they have in production (bench/lib/cpus.ts).
 */
const { mode: SPLIT_MODE, text: SPLIT_TEXT } = splitModeFromEnv();
const SPLIT_CPUS = SPLIT_MODE !== null;
let pgbenchCpus: string | null = null;
const QUIET_BUSY = Number(process.env.BENCH_QUIET_BUSY ?? 0.5);
const QUIET_WAIT_MS = int(process.env.BENCH_QUIET_WAIT_MS, 15_000);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'godwit_bench_backfill';
const SEED_DB = 'godwit_bench_backfill_seed';
/** pgbench runs this long before the migration starts. */
const LEAD_MS = 2000;
/** The lock-hold target: no batch should take longer (a bound of DURATION_BOUNDS_MS). */
const BATCH_LIMIT_MS = 100;

const out = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|min)?$/.exec(v.replace(/\s+/g, ''));
  if (!m) throw new Error(`BENCH_LOCK_TIMEOUT: expected a duration like 2s or 500ms, got ${JSON.stringify(v)}`);
  return Number(m[1]) * { ms: 1, s: 1000, min: 60_000 }[m[2] ?? 'ms']!;
}
const LOCK_TIMEOUT_MS = durationMs(LOCK_TIMEOUT);

// --- what each contender runs -------------------------------------------------------------

const ALTER = 'ALTER TABLE users ADD COLUMN email_norm text';
const UPDATE = 'UPDATE users SET email_norm = lower(email)';

function godwitManifest(id: string, kind: 'backfill' | 'alter', underLoad: boolean, oneLane = false): string {
  const ops =
    kind === 'backfill'
      ? `  - add_column: { table: users, column: { name: email_norm, type: text } }\n  - backfill: { table: users, set: { email_norm: "lower(email)" } }\n`
      : `  - alter_column_type: { table: users, column: visits, type: bigint, online: true }\n`;
  const throttle = [oneLane ? 'lanes: 1' : '', underLoad ? LOAD_THROTTLE : ''].filter(Boolean).join(', ');
  return `id: ${id}\ndescription: bench:backfill ${kind}\noperations:\n${ops}policy: { approval: never${underLoad ? `, lock_timeout: ${LOCK_TIMEOUT}` : ''}${throttle ? `, throttle: { ${throttle} }` : ''} }\n`;
}

const PGROLL_MIGRATION = `operations:
  - add_column:
      table: users
      up: lower(email)
      column: { name: email_norm, type: text, nullable: true }
`;

const PGBENCH_SCRIPT = `\\set id random(1, :rows)
begin;
update users set visits = visits + 1 where id = :id;
insert into events (user_id) values (:id);
commit;
`;

const SEED_SQL = (rows: number) => [
  `create table users (
     id bigint primary key,
     email text not null,
     name text not null,
     visits int not null default 0,
     created_at timestamptz not null default now()
   )`,
  `insert into users (id, email, name) select g, 'User' || g || '@Example.com', 'user ' || g from generate_series(1, ${rows}) g`,
  'create index users_email_idx on users (email)',
  'create table events (id bigserial primary key, user_id bigint not null, at timestamptz not null default now())',
  'vacuum (analyze, freeze) users',
  'analyze events',
];

// --- setup --------------------------------------------------------------------------------

interface Pgroll {
  path: string;
  how: string;
}

async function buildSeed(pgroll: Pgroll | null, work: string): Promise<void> {
  await dropDatabases(ADMIN_URL, [DB, SEED_DB]);
  await connected(ADMIN_URL, (c) => c.query(`create database ${SEED_DB}`));
  await connected(urlOf(ADMIN_URL, SEED_DB), async (db) => {
    for (const statement of SEED_SQL(ROWS)) await db.query(statement);
    // The worker creates it on first use and remembers per pool that it did: the copies must have it.
    await ensureControlSchema(db);
  });
  if (pgroll) {
    // pgroll refuses a schema with tables but no history of its own: init, then a baseline.
    const url = pgrollUrl(SEED_DB);
    for (const args of [['init'], ['baseline', '00_baseline', join(work, 'pgroll-baseline'), '--yes']]) {
      const r = await timedSpawn(pgroll.path, [...args, '--postgres-url', url], { cwd: work, env: process.env });
      if (r.code !== 0) throw new Error(`pgroll ${args[0]} failed: ${r.stderr || r.stdout}`);
    }
  }
  await connected(urlOf(ADMIN_URL, SEED_DB), (db) => db.query('checkpoint'));
}

function pgrollUrl(db: string): string {
  const url = new URL(urlOf(ADMIN_URL, db));
  url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

async function facts(): Promise<string> {
  return connected(urlOf(ADMIN_URL, SEED_DB), async (c) => {
    const { rows } = await c.query(
      `select pg_size_pretty(pg_total_relation_size('users')) as size, current_setting('server_version') as version,
              current_setting('shared_buffers') as sb, current_setting('max_wal_size') as wal, current_setting('synchronous_commit') as sc,
              current_setting('autovacuum') as av`,
    );
    const r = rows[0];
    return `PostgreSQL ${r.version} (shared_buffers ${r.sb}, max_wal_size ${r.wal}, synchronous_commit ${r.sc}, autovacuum ${r.av}); users ${ROWS.toLocaleString('en')} rows, ${r.size} with its two indexes`;
  });
}

// --- part 1: speed ------------------------------------------------------------------------

/** `godwit_one_lane`: the same manifest with `policy.throttle.lanes: 1`, to show what the second lane buys. */
type Tool = 'godwit' | 'godwit_one_lane' | 'psql' | 'pgroll';

interface SpeedRun {
  tool: Tool;
  round: number;
  /** Spawn to exit of the whole command (pgroll: start + complete), ms. */
  ms: number;
  /** The data step alone: godwit's backfill activity, psql's UPDATE statement, pgroll's start. */
  fillMs: number;
  detail: string;
  batches: DurationHistogram | null;
  resetMs: number;
  busy: number | null;
  load: number;
}

interface Ctx {
  temporal: BenchTemporal;
  env: NodeJS.ProcessEnv;
  work: string;
  tag: string;
  pgroll: Pgroll | null;
}

let sequence = 0;

function check(run: TimedRun, what: string): void {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}${run.signal ? ` (${run.signal})` : ''}: ${(run.stderr || run.stdout).trim().slice(-800)}`);
}

/** The step's activity span from the run's history, by summary prefix. */
function stepSpan(spans: readonly ActivitySpan[], prefix: string): ActivitySpan | undefined {
  return spans.find((s) => s.type === 'runStep' && s.summary.startsWith(prefix));
}

/** The batch-duration distribution the batched step left in its ledger row. */
async function ledgerBatches(summaryPrefix: string): Promise<DurationHistogram | null> {
  return connected(urlOf(ADMIN_URL, DB), async (c) => {
    const { rows } = await c.query<{ progress: { batchMs?: DurationHistogram } | null }>(
      `select progress from godwit.step_ledger where summary like $1 || '%' order by step_id desc limit 1`,
      [summaryPrefix],
    );
    return rows[0]?.progress?.batchMs ?? null;
  });
}

async function runGodwit(ctx: Ctx, kind: 'backfill' | 'alter', underLoad: boolean, oneLane = false): Promise<{ run: TimedRun; spans: ActivitySpan[]; fill: ActivitySpan | undefined; batches: DurationHistogram | null }> {
  const id = `bf_${kind}_${ctx.tag}_${++sequence}`;
  const file = join(ctx.work, `${id}.yaml`);
  writeFileSync(file, godwitManifest(id, kind, underLoad, oneLane));
  const run = await timedSpawn(process.execPath, ['bin/godwit.js', 'apply', file, '--target', BENCH_TARGET, '--wait', '--json'], { cwd: ROOT, env: ctx.env, timeoutMs: 30 * 60_000 });
  check(run, `godwit apply ${id}`);
  const spans = await activitySpans(ctx.temporal.client, `godwit/${BENCH_TARGET}/${id}`).catch(() => []);
  const prefix = kind === 'backfill' ? 'backfill' : 'alter_column_type users.visits to bigint (online 2/4';
  return { run, spans, fill: stepSpan(spans, prefix), batches: await ledgerBatches(prefix) };
}

async function runPsql(ctx: Ctx): Promise<{ run: TimedRun; updateMs: number }> {
  const run = await timedSpawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', urlOf(ADMIN_URL, DB), '-c', '\\timing on', '-c', ALTER, '-c', UPDATE], {
    cwd: ctx.work,
    env: ctx.env,
    timeoutMs: 30 * 60_000,
  });
  check(run, 'psql');
  const times = [...run.stdout.matchAll(/Time: ([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { run, updateMs: times.at(-1) ?? Number.NaN };
}

async function runPgroll(ctx: Ctx, pgroll: Pgroll): Promise<{ start: TimedRun; complete: TimedRun }> {
  const dir = join(ctx.work, `pgroll_${++sequence}`);
  mkdirSync(dir);
  writeFileSync(join(dir, '01_email_norm.yaml'), PGROLL_MIGRATION);
  const url = pgrollUrl(DB);
  const start = await timedSpawn(pgroll.path, ['start', join(dir, '01_email_norm.yaml'), '--postgres-url', url], { cwd: dir, env: ctx.env, timeoutMs: 30 * 60_000 });
  check(start, 'pgroll start');
  const complete = await timedSpawn(pgroll.path, ['complete', '--postgres-url', url], { cwd: dir, env: ctx.env, timeoutMs: 30 * 60_000 });
  check(complete, 'pgroll complete');
  return { start, complete };
}

/** Every row filled, and with the right value. */
async function verifyFilled(): Promise<void> {
  const { rows } = await connected(urlOf(ADMIN_URL, DB), (c) => c.query<{ bad: string }>(`select count(*)::text as bad from users where email_norm is distinct from lower(email)`));
  if (rows[0]!.bad !== '0') throw new Error(`${rows[0]!.bad} rows of users were not filled with lower(email)`);
}

async function speedRun(ctx: Ctx, tool: Tool, round: number): Promise<SpeedRun> {
  const resetMs = await copyDatabase(ADMIN_URL, SEED_DB, DB);
  const busy = QUIET ? (await waitForQuiet(QUIET_BUSY, QUIET_WAIT_MS)).busy : null;
  const load = loadavg()[0]!;
  let r: SpeedRun;
  if (tool === 'godwit' || tool === 'godwit_one_lane') {
    const g = await runGodwit(ctx, 'backfill', false, tool === 'godwit_one_lane');
    const steps = g.spans.filter((s) => Number.isFinite(s.endedAt)).map((s) => `${spanLabel(s)} ${Math.round(s.endedAt - s.scheduledAt)} ms`);
    const fillMs = g.fill ? g.fill.endedAt - g.fill.scheduledAt : Number.NaN;
    r = { tool, round, ms: g.run.ms, fillMs, detail: steps.join(' → '), batches: g.batches, resetMs, busy, load };
  } else if (tool === 'psql') {
    const p = await runPsql(ctx);
    r = { tool, round, ms: p.run.ms, fillMs: p.updateMs, detail: `UPDATE ${Math.round(p.updateMs)} ms`, batches: null, resetMs, busy, load };
  } else {
    const p = await runPgroll(ctx, ctx.pgroll!);
    r = { tool, round, ms: p.start.ms + p.complete.ms, fillMs: p.start.ms, detail: `start ${Math.round(p.start.ms)} ms, complete ${Math.round(p.complete.ms)} ms`, batches: null, resetMs, busy, load };
  }
  await verifyFilled();
  return r;
}

// --- part 2: under load -------------------------------------------------------------------

type LoadKind = 'baseline' | 'godwit_backfill' | 'godwit_alter_online' | 'psql_update' | 'pgroll';

interface LoadWindow {
  kind: LoadKind;
  round: number;
  migrationMs: number;
  windowS: number;
  committed: number;
  failed: number;
  aborted: number;
  /** The first pgbench client that aborted, as pgbench said it. */
  abortedLine: string;
  lost: number;
  all: LatencyStats;
  during: LatencyStats;
  overLockTimeout: number;
  batches: DurationHistogram | null;
  detail: string;
}

async function loadWindow(ctx: Ctx, kind: LoadKind, round: number, scriptFile: string): Promise<LoadWindow> {
  await copyDatabase(ADMIN_URL, SEED_DB, DB);
  const dir = join(ctx.work, `load_${++sequence}_${kind}`);
  const segment = (seconds: number, i: number) =>
    startPgbench({ url: ADMIN_URL, db: DB, clients: CLIENTS, seconds, scriptFile, vars: { rows: ROWS }, logDir: join(dir, `pgbench_${i}`), ...(pgbenchCpus ? { cpus: pgbenchCpus } : {}) }).done;
  const segments: PgbenchRun[] = [];
  const first = segment(WINDOW_S, 0);
  let migration: Promise<{ from: number; to: number; batches: DurationHistogram | null; detail: string }> | null = null;
  let ended = false;
  if (kind !== 'baseline') {
    await sleep(LEAD_MS);
    const from = performance.timeOrigin + performance.now();
    migration = (async () => {
      let batches: DurationHistogram | null = null;
      let detail: string;
      if (kind === 'godwit_backfill' || kind === 'godwit_alter_online') {
        const g = await runGodwit(ctx, kind === 'godwit_backfill' ? 'backfill' : 'alter', true);
        batches = g.batches;
        detail = g.spans
          .filter((s) => s.type === 'runStep')
          .map((s) => `${s.summary} ${Math.round(s.endedAt - s.scheduledAt)} ms${s.attempts > 1 ? ` (${s.attempts} attempts)` : ''}`)
          .join('; ');
      } else if (kind === 'psql_update') {
        detail = `UPDATE ${Math.round((await runPsql(ctx)).updateMs)} ms`;
      } else {
        const p = await runPgroll(ctx, ctx.pgroll!);
        detail = `start ${Math.round(p.start.ms)} ms, complete ${Math.round(p.complete.ms)} ms`;
      }
      return { from, to: performance.timeOrigin + performance.now(), batches, detail };
    })().finally(() => {
      ended = true;
    });
    // Seen by the loop below as ended; its error is thrown when it is awaited.
    migration.catch(() => undefined);
  }
  segments.push(await first);
  while (migration && !ended) segments.push(await segment(EXTEND_S, segments.length));
  const m = migration ? await migration : null;

  const tally = await connected(urlOf(ADMIN_URL, DB), async (c) => {
    const { rows } = await c.query<{ events: string; visits: string }>(`select (select count(*) from events)::text as events, (select coalesce(sum(visits), 0) from users)::text as visits`);
    return Number(rows[0]!.events) - Number(rows[0]!.visits);
  });
  if (kind === 'godwit_backfill' || kind === 'psql_update' || kind === 'pgroll') await verifyFilled();
  const txns: Txn[] = segments.flatMap((s) => s.txns);
  const during = m ? txns.filter((t) => t.endMs >= m.from && t.endMs - t.latencyMs <= m.to) : [];
  return {
    kind,
    round,
    migrationMs: m ? m.to - m.from : Number.NaN,
    windowS: WINDOW_S + (segments.length - 1) * EXTEND_S,
    committed: txns.length,
    failed: segments.reduce((n, s) => n + s.failed, 0),
    aborted: segments.reduce((n, s) => n + s.aborted.length, 0),
    abortedLine: segments.flatMap((s) => s.aborted)[0]?.replace(/\s+/g, ' ').slice(0, 300) ?? '',
    lost: tally,
    all: latencyStats(txns),
    during: latencyStats(during),
    overLockTimeout: txns.filter((t) => t.latencyMs > LOCK_TIMEOUT_MS).length,
    batches: m?.batches ?? null,
    detail: m?.detail ?? '',
  };
}

// --- report -------------------------------------------------------------------------------

const secs = (x: number) => (Number.isFinite(x) ? (x / 1000).toFixed(2) : '—');
const msx = (x: number) => (!Number.isFinite(x) ? '—' : x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString('en'));
const met = (ok: boolean) => (ok ? 'met' : '**not met**');

function merged(hs: readonly (DurationHistogram | null)[]): DurationHistogram {
  let h = emptyDurations();
  for (const x of hs) {
    if (!x) continue;
    h = { count: h.count + x.count, sumMs: h.sumMs + x.sumMs, maxMs: Math.max(h.maxMs, x.maxMs), buckets: h.buckets.map((c, i) => c + (x.buckets[i] ?? 0)) };
  }
  return h;
}

function histogramLine(h: DurationHistogram): string {
  const labels = DURATION_BOUNDS_MS.map((b, i) => `${i === 0 ? 0 : DURATION_BOUNDS_MS[i - 1]}–${b}`).concat(`>${DURATION_BOUNDS_MS.at(-1)}`);
  return labels.map((l, i) => `${l} ms: ${h.buckets[i] ?? 0}`).filter((_s, i) => (h.buckets[i] ?? 0) > 0).join(', ');
}

function speedReport(runs: SpeedRun[], tools: Tool[]): { lines: string[]; targets: string[] } {
  const by = (t: Tool) => runs.filter((r) => r.tool === t);
  const med = (t: Tool, f: (r: SpeedRun) => number) => median(by(t).map(f));
  const lines: string[] = [];
  lines.push('| contender | whole command, median (min–max) | the data step, median | ratio to raw UPDATE (whole / data step) |');
  lines.push('|---|---:|---:|---:|');
  const label: Record<Tool, string> = {
    godwit: '`node bin/godwit.js apply --wait` (add_column + backfill)',
    godwit_one_lane: 'the same with `throttle: { lanes: 1 }` (one key range)',
    psql: '`psql -c ALTER -c UPDATE` (raw)',
    pgroll: `pgroll ${PGROLL_TAG} \`start\` + \`complete\``,
  };
  const step: Record<Tool, string> = { godwit: 'backfill activity', godwit_one_lane: 'backfill activity', psql: 'UPDATE statement', pgroll: '`start` (DDL, trigger, backfill)' };
  const base = med('psql', (r) => r.ms);
  const baseFill = med('psql', (r) => r.fillMs);
  for (const t of tools) {
    const xs = by(t).map((r) => r.ms);
    lines.push(
      `| ${label[t]} | ${secs(median(xs))} s (${secs(Math.min(...xs))}–${secs(Math.max(...xs))}) | ${secs(med(t, (r) => r.fillMs))} s (${step[t]}) | ${fmtRatio(median(xs) / base)} / ${fmtRatio(med(t, (r) => r.fillMs) / baseFill)} |`,
    );
  }
  const h = merged(runs.filter((r) => r.tool.startsWith('godwit')).map((r) => r.batches));
  lines.push('');
  lines.push(
    `Godwit's batches (the time each held its row locks, statement to commit) over ${runs.filter((r) => r.tool.startsWith('godwit')).length} runs: ${h.count} batches, mean ${msx(h.sumMs / Math.max(1, h.count))} ms, ` +
      `p50 ≤ ${msx(quantileBound(h, 0.5))} ms, p90 ≤ ${msx(quantileBound(h, 0.9))} ms, p99 ≤ ${msx(quantileBound(h, 0.99))} ms, max ${msx(h.maxMs)} ms; ` +
      `over ${BATCH_LIMIT_MS} ms: ${countOver(h, BATCH_LIMIT_MS)}. Histogram: ${histogramLine(h)}.`,
  );
  const g = med('godwit', (r) => r.ms);
  const targets = [`| Godwit ≤ 1.1× the raw UPDATE (whole command) | ${fmtRatio(g / base)} | ${met(g / base <= 1.1)} |`];
  if (tools.includes('pgroll')) {
    const p = med('pgroll', (r) => r.ms);
    targets.push(`| Godwit ≥ 2× faster than pgroll | pgroll / Godwit = ${fmtRatio(p / g)} | ${met(p / g >= 2)} |`);
  }
  targets.push(`| no batch holds its locks > ${BATCH_LIMIT_MS} ms | ${countOver(h, BATCH_LIMIT_MS)} of ${h.count} batches over, max ${msx(h.maxMs)} ms | ${met(countOver(h, BATCH_LIMIT_MS) === 0)} |`);
  return { lines, targets };
}

const LOAD_LABEL: Record<LoadKind, string> = {
  baseline: 'baseline (no migration)',
  godwit_backfill: 'Godwit add_column + backfill',
  godwit_alter_online: 'Godwit alter_column_type visits → bigint, online',
  psql_update: 'raw ALTER + UPDATE (comparison)',
  pgroll: `pgroll ${PGROLL_TAG} start + complete (comparison)`,
};

function loadReport(ws: LoadWindow[]): { lines: string[]; targets: string[] } {
  const lines: string[] = [];
  lines.push(`| window | migration s | app txns | lost | errors | p50 / p99 / max, whole window (ms) | p99 / max while the migration ran (ms) | writes > ${LOCK_TIMEOUT} |`);
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of ws) {
    lines.push(
      `| ${LOAD_LABEL[w.kind]}${LOAD_RUNS > 1 ? ` (run ${w.round + 1})` : ''} | ${secs(w.migrationMs)} | ${w.committed.toLocaleString('en')} | ${w.lost} | ${w.failed + w.aborted} | ` +
        `${msx(w.all.p50)} / ${msx(w.all.p99)} / ${msx(w.all.max)} | ${w.kind === 'baseline' ? '' : `${msx(w.during.p99)} / ${msx(w.during.max)}`} | ${w.overLockTimeout} |`,
    );
  }
  const baseP99 = median(ws.filter((w) => w.kind === 'baseline').map((w) => w.all.p99));
  const targets: string[] = [];
  for (const kind of ['godwit_backfill', 'godwit_alter_online'] as const) {
    const mine = ws.filter((w) => w.kind === kind);
    if (mine.length === 0) continue;
    const p99 = Math.max(...mine.map((w) => w.during.p99));
    const over = mine.reduce((n, w) => n + w.overLockTimeout, 0);
    const lost = mine.reduce((n, w) => n + Math.abs(w.lost) + w.aborted, 0);
    targets.push(`| ${LOAD_LABEL[kind]}: app p99 while it ran ≤ 2× baseline p99 (${msx(2 * baseP99)} ms) | ${msx(p99)} ms (${fmtRatio(p99 / baseP99)}) | ${met(p99 <= 2 * baseP99)} |`);
    targets.push(`| ${LOAD_LABEL[kind]}: no write waits past lock_timeout (${LOCK_TIMEOUT}), none lost | ${over} over, ${lost} lost or aborted | ${met(over === 0 && lost === 0)} |`);
  }
  return { lines, targets };
}

// --- main ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  assertPostgresOnAllCpus();
  const started = new Date();
  const load0 = loadavg();
  process.env.GODWIT_LOG_LEVEL ??= 'ERROR';
  out(`Godwit backfill benchmark: users with ${ROWS.toLocaleString('en')} rows; parts ${[...PARTS].join(', ')}; load ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  const work = mkdtempSync(join(tmpdir(), 'godwit-bench-backfill-'));
  let temporal: BenchTemporal | undefined;
  let cleaning: Promise<void> | null = null;
  let split: CpuSplit | null = null;
  let stopSpare: (() => Promise<void>) | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      process.on('uncaughtException', (err) => out(`  while cleaning up: ${err.message}`));
      await stopSpare?.();
      if (split) unsplitCpus(split);
      await dropDatabases(ADMIN_URL, [DB, SEED_DB]).catch((err: unknown) => out(`dropping ${DB}, ${SEED_DB}: ${(err as Error).message}`));
      await temporal?.stop().catch((err: unknown) => out(`stopping worker/server: ${(err as Error).message}`));
      rmSync(work, { recursive: true, force: true });
    })());
  onInterrupt(cleanup);

  try {
    let pgroll: Pgroll | null = null;
    let pgrollNote = 'pgroll: left out (BENCH_NO_PGROLL=1)';
    if (process.env.BENCH_NO_PGROLL !== '1') {
      const got = ensurePgroll(ROOT, (line) => out(`  ${line}`));
      if ('missing' in got) pgrollNote = `pgroll ${PGROLL_TAG}: not measured, ${got.missing}`;
      else {
        pgroll = got;
        pgrollNote = `pgroll ${PGROLL_TAG}: ${got.how}`;
      }
    }
    out(pgrollNote);
    const t0 = performance.now();
    await buildSeed(pgroll, work);
    out(`seed database built in ${secs(performance.now() - t0)} s; every run gets a file copy of it`);
    const info = await facts();
    out(`built the compiled CLI: ${await buildCli(ROOT)}`);
    temporal = await startTemporalAndWorker(urlOf(ADMIN_URL, DB), (line) => out(`  ${line}`));
    const env = cliEnv(temporal);
    const ctx: Ctx = { temporal, env, work, tag: started.toISOString().replace(/\D/g, '').slice(0, 14), pgroll };

    const wanted = (process.env.BENCH_TOOLS ?? 'godwit,godwit_one_lane,psql,pgroll').split(',').map((t) => t.trim());
    // The raw UPDATE is what every ratio is taken against: always measured.
    const tools: Tool[] = (['godwit', 'godwit_one_lane', 'psql', 'pgroll'] as const).filter((t) => t === 'psql' || (wanted.includes(t) && (t !== 'pgroll' || pgroll !== null)));
    const speed: SpeedRun[] = [];
    if (PARTS.has('speed')) {
      for (let round = 0; round < RUNS; round++) {
        for (let i = 0; i < tools.length; i++) {
          const tool = tools[(i + round) % tools.length]!;
          const r = await speedRun(ctx, tool, round);
          speed.push(r);
          out(`speed ${round + 1}/${RUNS} ${tool.padEnd(6)} ${secs(r.ms).padStart(6)} s  data step ${secs(r.fillMs)} s  (${r.detail.slice(0, 200)}; load ${r.load.toFixed(2)}, cpu busy ${r.busy === null ? '?' : r.busy.toFixed(2)})`);
        }
      }
    }

    const windows: LoadWindow[] = [];
    if (PARTS.has('load')) {
      const scriptFile = join(work, 'app.sql');
      writeFileSync(scriptFile, PGBENCH_SCRIPT);
      const kinds = (['baseline', 'godwit_backfill', 'godwit_alter_online', 'psql_update', 'pgroll'] as const).filter((k) => LOAD_KINDS.includes(k) && (k !== 'pgroll' || pgroll !== null));
      if (SPLIT_CPUS) {
        split = splitCpus();
        pgbenchCpus = split.database;
        out(`CPUs split for the load part (BENCH_SPLIT_CPUS=${process.env.BENCH_SPLIT_CPUS}): Godwit, its worker, the Temporal server, the CLI and the other tools on CPU ${split.godwit}; Postgres and pgbench on CPU ${split.database}, baseline included`);
        if (SPLIT_MODE === 'spare') {
          stopSpare = await spareCore(split, ADMIN_URL);
          out(`  with a core to spare: every client backend but pgbench's (Godwit's, psql's, pgroll's) is moved to CPU ${split.godwit} within 50 ms of appearing`);
        }
      }
      for (let round = 0; round < LOAD_RUNS; round++) {
        for (const kind of kinds) {
          const w = await loadWindow(ctx, kind, round, scriptFile);
          windows.push(w);
          out(
            `load ${round + 1}/${LOAD_RUNS} ${kind.padEnd(20)} migration ${secs(w.migrationMs)} s; txns ${w.committed}, lost ${w.lost}, p99 ${msx(w.all.p99)} max ${msx(w.all.max)} ms` +
              `${kind === 'baseline' ? '' : `; while it ran p99 ${msx(w.during.p99)} max ${msx(w.during.max)} ms`} (load ${loadavg()[0]!.toFixed(2)})`,
          );
        }
      }
    }
    const load1 = loadavg();

    // --- the report ---
    const meta =
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version}; ${info}. ` +
      `Load average (1, 5, 15 min) ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end: the machine is shared, compare ratios within this run. ${pgrollNote}.`;
    const body: string[] = [meta, ''];
    const targets: string[] = ['| target | result | |', '|---|---|---|'];
    if (speed.length) {
      const s = speedReport(speed, tools);
      body.push(`**Speed** (${RUNS} rounds, order rotated per round, each run on a fresh copy of the seed):`, '', ...s.lines, '');
      targets.push(...s.targets);
    }
    if (windows.length) {
      const l = loadReport(windows);
      body.push(
        `**Under load**${LOAD_THROTTLE ? ` (Godwit's manifests with \`throttle: { ${LOAD_THROTTLE} }\`)` : ''}${SPLIT_CPUS ? ` (${SPLIT_TEXT})` : ''}: pgbench, ${CLIENTS} clients, \`update users set visits = visits + 1 where id = :id; insert into events ...\` per transaction, ${WINDOW_S} s windows (extended by ${EXTEND_S} s while a migration runs), migration started ${LEAD_MS / 1000} s in, lock_timeout ${LOCK_TIMEOUT}; *lost* = count(events) − sum(visits):`,
        '',
        ...l.lines,
        '',
      );
      targets.push(...l.targets);
    }
    body.push(...targets, '');
    const raw = [
      ...speed.map((r) => `- speed round ${r.round + 1}, ${r.tool}: ${Math.round(r.ms)} ms, data step ${Math.round(r.fillMs)} ms; ${r.detail}${r.batches ? `; batches ${r.batches.count}, max ${msx(r.batches.maxMs)} ms` : ''} (reset ${Math.round(r.resetMs)} ms, load ${r.load.toFixed(2)})`),
      ...windows.map(
        (w) =>
          `- load ${LOAD_LABEL[w.kind]}: migration ${Math.round(w.migrationMs)} ms${w.detail ? ` (${w.detail})` : ''}; window ${w.windowS} s, txns ${w.committed}, lost ${w.lost}, failed ${w.failed}, aborted ${w.aborted}${w.abortedLine ? ` (${w.abortedLine})` : ''}; ` +
          `all p50 ${msx(w.all.p50)} p99 ${msx(w.all.p99)} max ${msx(w.all.max)}; during (${w.during.n}) p50 ${msx(w.during.p50)} p99 ${msx(w.during.p99)} max ${msx(w.during.max)}` +
          `${w.batches ? `; batches ${w.batches.count}, max ${msx(w.batches.maxMs)} ms: ${histogramLine(w.batches)}` : ''}`,
      ),
    ];
    body.push('<details><summary>Raw samples, in run order</summary>', '', ...raw, '', '</details>');
    const text = body.join('\n');
    out();
    out(text);
    if (process.env.BENCH_NO_README === '1') out('\nBENCH_NO_README=1: bench/README.md left as it is');
    else {
      writeReadmeSection({ marker: 'backfill', command: 'npm run bench:backfill', source: 'bench/backfill.ts', heading: 'Backfill speed and pacing: `npm run bench:backfill`', body: text });
      out('\nwrote the bench:backfill section of bench/README.md');
    }
  } finally {
    await cleanup();
  }
}

runBench('bench:backfill', main);
