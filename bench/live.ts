/**
 * `npm run bench:live`: while an application writes to the database, does a Godwit migration
 * (one that succeeds, and one that fails at its last step and rolls back) lose any of the
 * application's writes, and how long do the application's writes wait?
 *
 * The application is pgbench: BENCH_CLIENTS clients (4, at most 8), `-n -c N -j N -T <window>`,
 * each transaction of a custom script
 *
 *     \set id random(1, :rows)
 *     begin; update accounts set balance = balance + 1 where id = :id;
 *            insert into ledger (account_id) values (:id); commit;
 *
 * logged one line per transaction (`--log`), from which the bench computes p50, p99 and max
 * latency itself. `accounts(id, owner, bio, balance, kind, score)` has BENCH_ROWS rows with
 * balance 0; `ledger` starts empty. So after a window, whatever the migration did,
 * `count(ledger) − sum(balance)` is the number of the application's writes that were lost.
 *
 * Each scenario is one operation on accounts that the application's transactions do not name
 * (drop_column bio; alter_column_type score int → bigint without down_using, online, and the
 * same in place (online: false) for comparison;
 * an overwriting backfill of owner; an sql step without down; create_index on owner
 * concurrently), run once as is (expected: applied) and once with a last step that raises
 * an exception (expected: rolled_back), with `policy: { lock_timeout, approval: never }` in every manifest
 * (the migrations are destructive: approval: auto would wait for a person).
 * One window: pgbench starts, ~2 s later the migration is started the way a pipeline does,
 * `node bin/godwit.js apply <manifest> --target bench --wait --json`, against a Temporal dev
 * server (or TEMPORAL_ADDRESS) and a Godwit worker in this process (bench/lib/setup.ts). When
 * the window ends before the migration, pgbench is run again in BENCH_EXTEND_S segments until
 * it has ended (reported). A baseline window runs the same load with no migration.
 *
 * Every window starts from the same bytes: the seeded database is built once and each window's
 * database is a copy of it (CREATE DATABASE ... TEMPLATE, file copy, then a checkpoint), outside
 * any timing. A run that ends rollback_failed stays open waiting for a person: the bench records
 * it, then terminates the workflow. The longest write wait is laid next to the run's Temporal
 * history (same system clock) to name the activity it fell in.
 *
 * Prints one table and the targets, and rewrites this benchmark's block of bench/README.md
 * (between the bench:live markers; nothing else is touched).
 *
 * Environment: BENCH_SCENARIOS (comma list of drop_column, alter_column_type, alter_column_type_in_place, backfill,
 * sql_no_down, create_index, noop; default all), BENCH_RUNS (1 run per scenario and outcome),
 * BENCH_OUTCOMES (both, failing or succeeding: which variants run; both by default),
 * BENCH_ROWS (1000000), BENCH_CLIENTS (4), BENCH_WINDOW_S (20), BENCH_EXTEND_S (5),
 * BENCH_LOCK_TIMEOUT (2s), BENCH_GODWIT_NICE (0: Godwit's processes at the usual priority), BENCH_GODWIT_CPU (cap them at this many CPUs, cgroup v1), BENCH_SPLIT_CPUS (1: Godwit's processes on the first half of the CPUs, Postgres and pgbench on the other; `spare`: the same, and the migration's backends on the first half too; root, local server), BENCH_THROTTLE (a throttle policy for every manifest, e.g. `{ yield: 2 }`), DATABASE_URL (admin connection, default
 * postgres://postgres@127.0.0.1:5432/postgres), TEMPORAL_ADDRESS (use that server instead of
 * starting a dev server), BENCH_NO_README=1 (print only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../scripts/build';
import { ensureControlSchema } from '../src/db/control-schema';
import { introspectSchema } from '../src/db/introspect';
import { parseManifest } from '../src/manifest';
import { loadSqlParser, planManifest } from '../src/operations';
import { connected, copyDatabase, dropDatabases, urlOf as dbUrl } from './lib/db';
import { assertPostgresOnAllCpus, spareCore, splitCpus, splitModeFromEnv, unsplitCpus, type CpuSplit } from './lib/cpus';
import { latencyStats, slowest, startPgbench, type LatencyStats, type PgbenchRun, type Txn } from './lib/pgbench';
import { writeReadmeSection } from './lib/readme';
import { BENCH_TARGET, cliEnv, startTemporalAndWorker, type BenchTemporal } from './lib/setup';
import { median } from './lib/stats';
import { activitySpans, mostOverlapping, spanLabel, type ActivitySpan } from './lib/spans';
import { nowEpochMs } from './lib/timed';
import { onInterrupt, runBench } from './lib/main';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const int = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 1));
/** Which variants of each scenario run: both (default), only the failing ones, or only the succeeding ones. */
const OUTCOMES = (['both', 'failing', 'succeeding'] as const).find((o) => o === process.env.BENCH_OUTCOMES) ?? 'both';
const ROWS = Math.max(1, int(process.env.BENCH_ROWS, 1_000_000));
const CLIENTS = Math.min(8, Math.max(4, int(process.env.BENCH_CLIENTS, 4)));
const WINDOW_S = Math.max(5, int(process.env.BENCH_WINDOW_S, 20));
const EXTEND_S = Math.max(1, int(process.env.BENCH_EXTEND_S, 5));
const LOCK_TIMEOUT = process.env.BENCH_LOCK_TIMEOUT ?? '2s';
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** pgbench runs this long before the migration is started. */
const LEAD_MS = 2000;
const DB = 'godwit_bench_live';
/** The starting state, built once; every window's database is a file copy of it. */
const SEED_DB = 'godwit_bench_live_seed';
/**
 * Run Godwit's own processes (this one with its worker, the Temporal server, the CLI) at this
 * nice value, standing in for the machines of their own they have in production; pgbench and
 * Postgres keep the usual priority. The noop scenario measures what is left of their cost.
 */
const GODWIT_NICE = Math.min(19, int(process.env.BENCH_GODWIT_NICE, 0));
/**
 * Cap Godwit's processes at this many CPUs (a cgroup v1 cpu quota; Linux, root), standing in for
 * machines of their own more closely than a nice value: pgbench is moved back out of the group.
 */
const GODWIT_CPU = Number(process.env.BENCH_GODWIT_CPU ?? '0') || 0;
const CPU_CGROUP = '/sys/fs/cgroup/cpu';

/** Puts this process (and so what it starts from now on) in a cgroup capped at GODWIT_CPU CPUs. */
function capGodwitCpu(): void {
  const group = join(CPU_CGROUP, `godwit-bench-${process.pid}`);
  mkdirSync(group, { recursive: true });
  writeFileSync(join(group, 'cpu.cfs_period_us'), '100000');
  writeFileSync(join(group, 'cpu.cfs_quota_us'), String(Math.round(GODWIT_CPU * 100_000)));
  writeFileSync(join(group, 'cgroup.procs'), String(process.pid));
}
/**
 * Split the machine's CPUs (BENCH_SPLIT_CPUS=1): Godwit's processes (this one with its worker, the
 * Temporal server, the CLI) on the first half, Postgres and pgbench on the second, baseline windows
 * included. In production Godwit, Temporal and the application's clients run on machines of their
 * own and reach the database only through its queries; on one 2-core box without the split, the
 * CLI's and the worker's own CPU is taken from pgbench and Postgres, which no production database
 * would see. The noop scenario measures what is left.
 */
const { mode: SPLIT_MODE, text: SPLIT_TEXT } = splitModeFromEnv();
const SPLIT_CPUS = SPLIT_MODE !== null;
/** The CPUs pgbench runs on when they are split (set once the split is made). */
let pgbenchCpus: string | null = null;
/** A throttle policy for every manifest, as a YAML flow mapping (e.g. `{ yield: 2 }`), to compare pacings. */
const THROTTLE = process.env.BENCH_THROTTLE?.trim() || null;
const FAILURE = `sql: { up: "do $$ begin raise exception 'bench: injected failure at the last step'; end $$", down: "select 1" }`;

const out = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Postgres duration as the manifest takes it (`2s`, `500ms`, `1min`; a bare number is ms), in ms. */
function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|h|d)?$/.exec(v.replace(/\s+/g, ''));
  if (!m) throw new Error(`BENCH_LOCK_TIMEOUT: expected a duration like 2s or 500ms, got ${JSON.stringify(v)}`);
  const unit = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}
const LOCK_TIMEOUT_MS = durationMs(LOCK_TIMEOUT);

interface Scenario {
  key: string;
  /** What the operation does, for the report. */
  label: string;
  /** The operation, one YAML flow mapping. */
  op: string;
  /** Shown for comparison only (the in-place rewrite the online path replaces): not held to the targets. */
  comparison?: true;
}

// Operations on columns the application never names (it writes balance and inserts ledger rows).
const ALL_SCENARIOS: Scenario[] = [
  { key: 'drop_column', label: 'drop_column accounts.bio', op: 'drop_column: { table: accounts, column: bio }' },
  {
    key: 'alter_column_type',
    label: 'alter_column_type accounts.score int → bigint, no down_using (online: the planner chooses it for this table size)',
    op: 'alter_column_type: { table: accounts, column: score, type: bigint }',
  },
  {
    key: 'alter_column_type_in_place',
    label: 'the same with online: false (an in-place table rewrite), for comparison',
    op: 'alter_column_type: { table: accounts, column: score, type: bigint, online: false }',
    comparison: true,
  },
  { key: 'backfill', label: 'backfill accounts.owner = upper(owner), overwriting every row', op: 'backfill: { table: accounts, set: { owner: "upper(owner)" } }' },
  {
    key: 'sql_no_down',
    label: 'sql without down: update accounts set owner = upper(owner) where id % 10 = 0',
    op: 'sql: { up: "update accounts set owner = upper(owner) where id % 10 = 0" }',
  },
  { key: 'create_index', label: 'create_index accounts(owner) concurrently', op: 'create_index: { table: accounts, columns: [owner], concurrently: true }' },
  {
    // The control: Godwit's processes (the CLI, the worker, the Temporal server) at work on the
    // database's own cores, with SQL that touches nothing. What it adds to p99 is the cost of
    // running them beside the database, not of any lock or write of a migration.
    key: 'noop',
    label: 'sql select 1 (a control: Godwit at work beside the database, touching nothing)',
    op: 'sql: { up: "select 1", down: "select 1" }',
    comparison: true,
  },
  {
    // The other control: a step whose only work is CPU on the database (a PL/pgSQL loop of about
    // 3 s that reads and writes nothing, takes no lock an application query needs). Where the
    // database has no core the application leaves free, this alone sets the p99 that every step
    // doing real work (a fill, a restore, an index build) is held to.
    key: 'cpu_only',
    label: 'sql: a loop that keeps one database CPU busy for about 3 s, touching no data (a control)',
    op: 'sql: { up: "do $$ begin for i in 1..600000000 loop end loop; end $$", down: "select 1" }',
    comparison: true,
  },
];

function pickScenarios(): Scenario[] {
  const wanted = (process.env.BENCH_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (wanted.length === 0) return ALL_SCENARIOS;
  const unknown = wanted.filter((w) => !ALL_SCENARIOS.some((s) => s.key === w));
  if (unknown.length) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; pick from ${ALL_SCENARIOS.map((s) => s.key).join(', ')}`);
  return ALL_SCENARIOS.filter((s) => wanted.includes(s.key));
}

function manifest(s: Scenario, failing: boolean, id: string): string {
  return `id: ${id}
description: "bench:live ${s.label}${failing ? ', then a step that fails' : ''}"
operations:
  - ${s.op}
${failing ? `  - ${FAILURE}\n` : ''}policy: { lock_timeout: ${LOCK_TIMEOUT}, approval: never${THROTTLE ? `, throttle: ${THROTTLE}` : ''} }
`;
}

const PGBENCH_SCRIPT = `\\set id random(1, :rows)
begin;
update accounts set balance = balance + 1 where id = :id;
insert into ledger (account_id) values (:id);
commit;
`;

// --- databases ----------------------------------------------------------------------------

const urlOf = (db: string) => dbUrl(ADMIN_URL, db);

const SEED_SQL = (rows: number) => [
  `create table accounts (
     id int primary key,
     owner text not null,
     bio text,
     balance bigint not null default 0,
     kind text not null default 'basic',
     score int not null default 0
   )`,
  `insert into accounts (id, owner, bio) select g, 'owner' || g, 'bio ' || g from generate_series(1, ${rows}) g`,
  `create table ledger (id bigserial primary key, account_id int not null, at timestamptz default now())`,
  'vacuum (analyze, freeze) accounts',
  'analyze ledger',
];

/** Builds the seed database once: accounts with ROWS rows, an empty ledger, Godwit's control schema. */
async function buildSeed(): Promise<void> {
  await connected(ADMIN_URL, async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`drop database if exists ${SEED_DB} with (force)`);
    await c.query(`create database ${SEED_DB}`);
  });
  await connected(urlOf(SEED_DB), async (db) => {
    for (const statement of SEED_SQL(ROWS)) await db.query(statement);
    // The worker creates it on first use and remembers per pool that it did; the copies must have it.
    await ensureControlSchema(db);
  });
}

/** Recreates the window's database as a file copy of the seed. */
const resetDatabase = () => copyDatabase(ADMIN_URL, SEED_DB, DB);

/** count(ledger) and sum(balance) after the window; either is an error message when it cannot be read. */
async function tally(): Promise<{ ledger: number | string; balance: number | string }> {
  return connected(urlOf(DB), async (c) => {
    const read = async (sql: string): Promise<number | string> => {
      try {
        const { rows } = await c.query<{ n: string | null }>(sql);
        return Number(rows[0]?.n ?? 0);
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    return { ledger: await read('select count(*)::text as n from ledger'), balance: await read('select coalesce(sum(balance), 0)::text as n from accounts') };
  });
}

// --- the migration, as a pipeline starts it -----------------------------------------------

interface ApplyRun {
  code: number | null;
  startedAt: number;
  endedAt: number;
  stdout: string;
  stderr: string;
}

/** `node bin/godwit.js apply <file> --target bench --wait --json`, spawned; `done` resolves at its exit. */
function spawnApply(file: string, env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<ApplyRun> } {
  const startedAt = nowEpochMs();
  const child = spawn(process.execPath, ['bin/godwit.js', 'apply', file, '--target', BENCH_TARGET, '--wait', '--json'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<ApplyRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, startedAt, endedAt: nowEpochMs(), stdout, stderr }));
  });
  return { child, done };
}

const STATE_BY_EXIT: Record<number, string> = { 0: 'applied', 2: 'rolled_back', 3: 'rollback_failed', 4: 'rejected' };

interface ApplyReport {
  workflowId?: string;
  runId?: string;
  state?: string;
  reason?: string | null;
}

function parseApply(run: ApplyRun): ApplyReport {
  try {
    const parsed = JSON.parse(run.stdout) as { migrations?: ApplyReport[] };
    return parsed.migrations?.at(-1) ?? {};
  } catch {
    return {};
  }
}

// --- one window ---------------------------------------------------------------------------

interface RunRecord {
  scenario: Scenario | null;
  failing: boolean;
  round: number;
  expected: string;
  outcome: string;
  exitCode: number | null;
  reason: string | null;
  /** Apply spawn → exit, ms; NaN for the baseline. */
  migrationMs: number;
  migrationFrom: number;
  migrationTo: number;
  /** pgbench's window, s, and how much of it was added because the migration outlasted BENCH_WINDOW_S. */
  windowS: number;
  extendedS: number;
  committed: number;
  reported: number;
  failedTxns: number;
  aborted: string[];
  ledger: number | string;
  balance: number | string;
  /** count(ledger) − sum(balance), or null when either could not be read. */
  lost: number | null;
  stats: LatencyStats;
  /** Transactions that overlapped the migration (apply spawn → exit). */
  during: LatencyStats;
  /** Transactions that waited longer than the lock_timeout. */
  overLockTimeout: number;
  worst: { latencyMs: number; endMs: number; during: string } | null;
  /** Activities that took more than one attempt (lock timeouts are retried with backoff). */
  retried: string[];
  spans: ActivitySpan[];
  resetMs: number;
}

interface Live {
  temporal: BenchTemporal;
  work: string;
  scriptFile: string;
  env: NodeJS.ProcessEnv;
  tag: string;
}

/** What is running right now, for the cleanup after an interrupt. */
const running: { pgbench: ChildProcess | null; apply: ChildProcess | null; workflowId: string | null } = { pgbench: null, apply: null, workflowId: null };

async function runWindow(live: Live, scenario: Scenario | null, failing: boolean, round: number, n: number): Promise<RunRecord> {
  const resetMs = await resetDatabase();
  const name = scenario ? `${scenario.key}_${failing ? 'fail' : 'ok'}` : 'baseline';
  const id = `live_${name}_${live.tag}_${round + 1}`;
  const dir = join(live.work, `${n}_${name}`);
  const segment = (seconds: number, i: number) => {
    const p = startPgbench({ url: ADMIN_URL, db: DB, clients: CLIENTS, seconds, scriptFile: live.scriptFile, vars: { rows: ROWS }, logDir: join(dir, `pgbench_${i}`), ...(GODWIT_NICE ? { priority: 0 } : {}), ...(GODWIT_CPU ? { cgroup: CPU_CGROUP } : {}), ...(pgbenchCpus ? { cpus: pgbenchCpus } : {}) });
    running.pgbench = p.child;
    return p.done;
  };

  const segments: PgbenchRun[] = [];
  const first = segment(WINDOW_S, 0);
  let apply: Promise<ApplyRun> | null = null;
  let applyDone = false;
  if (scenario) {
    await sleep(LEAD_MS);
    const file = join(dir, `${id}.yaml`);
    writeFileSync(file, manifest(scenario, failing, id));
    const a = spawnApply(file, live.env);
    running.apply = a.child;
    apply = a.done.finally(() => {
      applyDone = true;
    });
  }
  segments.push(await first);
  // The window must cover the whole migration: more of the same load until it has ended.
  let extendedS = 0;
  while (apply && !applyDone) {
    segments.push(await segment(EXTEND_S, segments.length));
    extendedS += EXTEND_S;
  }
  running.pgbench = null;
  const applied = apply ? await apply : null;
  running.apply = null;

  // The outcome, then close the run if it is left open (rollback_failed waits for a person).
  let outcome = 'no migration';
  let reason: string | null = null;
  let spans: ActivitySpan[] = [];
  if (applied) {
    const report = parseApply(applied);
    outcome = report.state ?? STATE_BY_EXIT[applied.code ?? -1] ?? `error (exit ${applied.code})`;
    reason = report.reason ?? (applied.code === 1 ? applied.stderr.trim().split('\n')[0] ?? null : null);
    const workflowId = report.workflowId ?? `godwit/${BENCH_TARGET}/${id}`;
    running.workflowId = workflowId;
    const handle = live.temporal.client.workflow.getHandle(workflowId);
    const open = await handle
      .describe()
      .then((d) => d.status.name === 'RUNNING')
      .catch(() => false);
    if (open) await handle.terminate(`bench:live recorded the outcome ${outcome}`).catch((err: unknown) => out(`  could not terminate ${workflowId}: ${(err as Error).message}`));
    running.workflowId = null;
    spans = await activitySpans(live.temporal.client, workflowId, report.runId).catch(() => []);
  }

  const { ledger, balance } = await tally();
  const txns: Txn[] = segments.flatMap((s) => s.txns);
  const from = applied?.startedAt ?? Number.NaN;
  const to = applied?.endedAt ?? Number.NaN;
  const duringTxns = applied ? txns.filter((t) => t.endMs >= from && t.endMs - t.latencyMs <= to) : [];
  const w = slowest(txns);
  const worstSpan = w && applied ? mostOverlapping(spans, w.endMs - w.latencyMs, w.endMs) : null;
  const record: RunRecord = {
    scenario,
    failing,
    round,
    expected: scenario ? (failing ? 'rolled_back' : 'applied') : '',
    outcome,
    exitCode: applied?.code ?? null,
    reason,
    migrationMs: applied ? applied.endedAt - applied.startedAt : Number.NaN,
    migrationFrom: from,
    migrationTo: to,
    windowS: WINDOW_S + extendedS,
    extendedS,
    committed: txns.length,
    reported: segments.reduce((t, s) => t + s.reported, 0),
    failedTxns: segments.reduce((t, s) => t + s.failed, 0),
    aborted: segments.flatMap((s) => s.aborted),
    ledger,
    balance,
    lost: typeof ledger === 'number' && typeof balance === 'number' ? ledger - balance : null,
    stats: latencyStats(txns),
    during: latencyStats(duringTxns),
    overLockTimeout: txns.filter((t) => t.latencyMs > LOCK_TIMEOUT_MS).length,
    worst: w ? { latencyMs: w.latencyMs, endMs: w.endMs, during: !applied ? '' : worstSpan ? spanLabel(worstSpan) : w.endMs < from || w.endMs - w.latencyMs > to ? 'outside the migration' : 'between activities' } : null,
    retried: spans.filter((s) => s.attempts > 1).map((s) => `${spanLabel(s)}: ${s.attempts} attempts`),
    spans,
    resetMs,
  };
  for (const s of segments) if (s.code !== 0 && s.aborted.length === 0) out(`  pgbench exited ${s.code}: ${s.stderr.trim().split('\n').slice(-2).join(' / ')}`);
  return record;
}

// --- report -------------------------------------------------------------------------------

/** Latency in ms: one decimal below 10 ms, whole ms above. */
function ms(x: number): string {
  if (!Number.isFinite(x)) return '—';
  return x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString('en');
}

const secs = (x: number) => (Number.isFinite(x) ? (x / 1000).toFixed(1) : '—');
const count = (x: number) => x.toLocaleString('en');

function scenarioName(r: RunRecord): string {
  const run = RUNS > 1 ? ` (run ${r.round + 1})` : '';
  if (!r.scenario) return `baseline (no migration)${run}`;
  return `${r.scenario.key}${r.failing ? ' + failing last step' : ''}${run}`;
}

function lostCell(r: RunRecord): string {
  if (r.lost !== null) return r.lost === 0 ? '0' : `**${count(r.lost)}**`;
  return `unreadable (${[r.ledger, r.balance].find((x) => typeof x === 'string')})`;
}

function appErrors(r: RunRecord): string {
  const n = r.aborted.length + r.failedTxns;
  return n === 0 ? '0' : `**${n}**`;
}

/** One step of the migration as Godwit plans it against the seed's catalog: forward, inverse, snapshots. */
async function planLines(scenarios: Scenario[]): Promise<string[]> {
  const schema = await connected(urlOf(SEED_DB), (c) => introspectSchema(c));
  await loadSqlParser();
  const lines: string[] = [];
  const short = (sql: string) => {
    const s = sql.replace(/\s+/g, ' ').trim();
    return `\`${(s.length > 160 ? `${s.slice(0, 157)}...` : s).replace(/\|/g, '\\|')}\``;
  };
  for (const s of scenarios) {
    const [step] = planManifest(parseManifest(manifest(s, false, `live_${s.key}`), `live_${s.key}.yaml`).manifest, schema);
    if (!step) continue;
    const snaps = (step.snapshots ?? []).map((x) => {
      const o = x as unknown as Record<string, unknown>;
      return o.kind === 'table' ? `the whole table ${String(o.table)}` : o.kind === 'columns' ? `${String(o.table)}(${[...((o.key as string[]) ?? []), ...((o.columns as string[]) ?? [])].join(', ')})` : JSON.stringify(o);
    });
    lines.push(
      `- **${s.key}** (${step.summary}, risk ${step.risk}): forward ${step.forward.map((a) => short(a.sql)).join('; ')}` +
        `${snaps.length ? `; snapshot of ${snaps.join(', ')} first` : ''}; inverse ${step.inverse === null ? `none (${step.inverseNote ?? ''})` : step.inverse.length ? step.inverse.map((a) => short(a.sql)).join('; ') : 'nothing'}` +
        `${step.lint.length ? `; lint ${step.lint.map((l) => l.code).join(', ')}` : ''}`,
    );
  }
  return lines;
}

async function facts(): Promise<{ size: string; version: string; settings: string }> {
  return connected(urlOf(SEED_DB), async (c) => {
    const { rows } = await c.query(
      `select pg_size_pretty(pg_total_relation_size('accounts')) as size, current_setting('server_version') as version,
              current_setting('shared_buffers') as sb, current_setting('max_wal_size') as wal, current_setting('synchronous_commit') as sc,
              current_setting('autovacuum') as av, current_setting('max_connections') as mc`,
    );
    const r = rows[0];
    return {
      size: r.size,
      version: r.version,
      settings: `server settings: shared_buffers ${r.sb}, max_wal_size ${r.wal}, synchronous_commit ${r.sc}, autovacuum ${r.av}`,
    };
  });
}

async function main(): Promise<void> {
  assertPostgresOnAllCpus();
  const started = new Date();
  const load0 = loadavg();
  process.env.GODWIT_LOG_LEVEL ??= 'ERROR';
  const scenarios = pickScenarios();
  out(
    `Godwit live benchmark: pgbench ${CLIENTS} clients for ${WINDOW_S} s windows on accounts with ${ROWS.toLocaleString('en')} rows; ` +
      `${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'} × (applied, rolled back) × ${RUNS} run${RUNS === 1 ? '' : 's'}, lock_timeout ${LOCK_TIMEOUT}`,
  );

  const work = mkdtempSync(join(tmpdir(), 'godwit-bench-live-'));
  let temporal: BenchTemporal | undefined;
  let seeded = false;
  let cleaning: Promise<void> | null = null;
  let split: CpuSplit | null = null;
  let stopSpare: (() => Promise<void>) | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      // Dropping the databases ends the worker's connections on purpose; a pool client caught
      // between two statements then emits an 'error' nobody listens to. We are leaving anyway.
      process.on('uncaughtException', (err) => out(`  while cleaning up: ${err.message}`));
      running.pgbench?.kill('SIGTERM');
      running.apply?.kill('SIGTERM');
      await stopSpare?.();
      if (split) unsplitCpus(split);
      if (running.workflowId && temporal) await temporal.client.workflow.getHandle(running.workflowId).terminate('bench:live interrupted').catch(() => undefined);
      if (seeded) await dropDatabases(ADMIN_URL, [DB, SEED_DB]).catch((err: unknown) => out(`dropping ${DB}, ${SEED_DB}: ${(err as Error).message}`));
      await temporal?.stop().catch((err: unknown) => out(`stopping worker/server: ${(err as Error).message}`));
      rmSync(work, { recursive: true, force: true });
    })());
  onInterrupt(cleanup);

  try {
    seeded = true;
    const tSeed = performance.now();
    await buildSeed();
    out(`seed database ${SEED_DB} built in ${secs(performance.now() - tSeed)} s; every window gets a file copy of it as ${DB}`);
    const info = await facts();
    const plan = await planLines(scenarios);

    const scriptFile = join(work, 'app.sql');
    writeFileSync(scriptFile, PGBENCH_SCRIPT);
    // The compiled CLI as `npm ci` leaves it, built from the sources being measured.
    out(`built the compiled CLI: ${await buildCli(ROOT)}`);

    if (SPLIT_CPUS) {
      split = splitCpus();
      pgbenchCpus = split.database;
      out(`CPUs split (BENCH_SPLIT_CPUS=${process.env.BENCH_SPLIT_CPUS}): Godwit, its worker, the Temporal server and the CLI on CPU ${split.godwit}; Postgres and pgbench on CPU ${split.database}, baseline windows included`);
      if (SPLIT_MODE === 'spare') {
        stopSpare = await spareCore(split, ADMIN_URL);
        out(`  with a core to spare: every client backend but pgbench's (the migration's queries, Godwit's bookkeeping) is moved to CPU ${split.godwit} within 50 ms of appearing`);
      }
    }
    if (GODWIT_CPU) {
      capGodwitCpu();
      out(`Godwit's processes are capped at ${GODWIT_CPU} CPU (BENCH_GODWIT_CPU, a cgroup cpu quota); pgbench and Postgres are not`);
    }
    if (GODWIT_NICE) {
      setPriority(GODWIT_NICE);
      out(`Godwit's processes run at nice ${GODWIT_NICE} (BENCH_GODWIT_NICE); pgbench and Postgres at the usual priority`);
    }
    temporal = await startTemporalAndWorker(urlOf(DB), (line) => out(`  ${line}`));
    const { endpoint, taskQueue } = temporal;
    out(`temporal ${endpoint.address} (${endpoint.started ? 'dev server started for this run' : 'TEMPORAL_ADDRESS'}), worker on task queue ${taskQueue}`);
    const env = cliEnv(temporal);
    // Migration ids unique per bench run: each window is a new workflow and a fresh database.
    const live: Live = { temporal, work, scriptFile, env, tag: started.toISOString().replace(/\D/g, '').slice(0, 14) };

    const records: RunRecord[] = [];
    let n = 0;
    const outcomes = OUTCOMES === 'both' ? 2 : 1;
    const total = RUNS * (1 + scenarios.length * outcomes);
    for (let round = 0; round < RUNS; round++) {
      const plan: [Scenario | null, boolean][] = [[null, false]];
      // Alternate which outcome goes first, so drift in the machine's load lands on both alike.
      for (const s of scenarios) {
        if (OUTCOMES !== 'both') plan.push([s, OUTCOMES === 'failing']);
        else plan.push(...((round % 2 === 0 ? [[s, false], [s, true]] : [[s, true], [s, false]]) as [Scenario, boolean][]));
      }
      for (const [scenario, failing] of plan) {
        n++;
        const r = await runWindow(live, scenario, failing, round, n);
        records.push(r);
        out(
          `${String(n).padStart(2)}/${total} ${scenarioName(r).padEnd(36)} ${scenario ? `${r.outcome.padEnd(15)} migration ${secs(r.migrationMs).padStart(5)} s  ` : ''}` +
            `txns ${count(r.committed)}, lost ${r.lost ?? 'unreadable'}, p50 ${ms(r.stats.p50)} p99 ${ms(r.stats.p99)} max ${ms(r.stats.max)} ms` +
            `${r.extendedS ? `, window extended by ${r.extendedS} s` : ''}${r.aborted.length ? `, ${r.aborted.length} client(s) aborted` : ''} (reset ${secs(r.resetMs)} s, load ${loadavg()[0]!.toFixed(2)})`,
        );
      }
    }
    const load1 = loadavg();

    // --- the table and the targets ---
    const baseline = records.filter((r) => !r.scenario);
    const migrations = records.filter((r) => r.scenario);
    // With more than one round, the baseline is the median of its windows.
    const baseP99 = median(baseline.map((r) => r.stats.p99));
    const lines: string[] = [];
    const L = (s = '') => lines.push(s);
    L('| scenario | expected | outcome | migration s | app txns committed | app errors | writes lost | p50 | p99 | max (ms) |');
    L('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of records) {
      const outcome = r.scenario ? (r.outcome === r.expected ? r.outcome : `**${r.outcome}**`) : '';
      L(
        `| ${scenarioName(r)} | ${r.expected ? r.expected.replace('_', ' ') : ''} | ${outcome.replace('_', ' ')} | ${secs(r.migrationMs)} | ${count(r.committed)}${r.extendedS ? ` (in ${r.windowS} s)` : ''} | ${appErrors(r)} | ${lostCell(r)} | ${ms(r.stats.p50)} | ${ms(r.stats.p99)} | ${ms(r.stats.max)} |`,
      );
    }
    L();
    L(
      `p50, p99 and max are the latencies of every committed application transaction in the window (${WINDOW_S} s, longer where the migration outlasted it); ` +
        '*app errors* counts pgbench clients that aborted on an error and transactions pgbench logged as failed; *writes lost* is count(ledger) − sum(balance).',
    );
    L();

    L('Where each migration made the application wait (the slowest transaction, laid on the run\'s Temporal history; a lock-timeout retry shows as more than one attempt):');
    L();
    L(`| scenario | slowest write | it overlapped | writes > lock_timeout (${LOCK_TIMEOUT}) | p99 / max while the migration ran (ms) | retried activities |`);
    L('|---|---:|---|---:|---:|---|');
    for (const r of migrations) {
      L(
        `| ${scenarioName(r)} | ${ms(r.worst?.latencyMs ?? Number.NaN)} ms | ${r.worst?.during ?? ''} | ${count(r.overLockTimeout)} | ${ms(r.during.p99)} / ${ms(r.during.max)} | ${r.retried.join('; ') || 'none'} |`,
      );
    }
    L();

    // Comparison rows (the in-place rewrite) are measured and shown, not held to the targets.
    const judged = migrations.filter((r) => r.scenario?.comparison !== true);
    const failing = judged.filter((r) => r.failing);
    const succeeding = judged.filter((r) => !r.failing);
    const met = (ok: boolean) => (ok ? 'met' : '**not met**');
    const names = (rs: RunRecord[], detail: (r: RunRecord) => string) => rs.map((r) => `${scenarioName(r)} (${detail(r)})`).join(', ');
    const notRolledBack = failing.filter((r) => r.outcome !== 'rolled_back');
    const notApplied = succeeding.filter((r) => r.outcome !== 'applied');
    const lost = records.filter((r) => r.lost !== 0 || r.aborted.length > 0);
    const waited = judged.filter((r) => !(r.stats.max <= LOCK_TIMEOUT_MS));
    const slowP99 = judged.filter((r) => !(r.stats.p99 <= 2 * baseP99));
    L('| target | result | |');
    L('|---|---|---|');
    L(
      `| failing scenarios end \`rolled_back\` in all runs | ${failing.length - notRolledBack.length} of ${failing.length} runs${notRolledBack.length ? `; ${names(notRolledBack, (r) => r.outcome)}` : ''} | ${met(notRolledBack.length === 0)} |`,
    );
    L(`| succeeding scenarios end \`applied\` | ${succeeding.length - notApplied.length} of ${succeeding.length} runs${notApplied.length ? `; ${names(notApplied, (r) => r.outcome)}` : ''} | ${met(notApplied.length === 0)} |`);
    L(
      `| no application write lost (count(ledger) = sum(balance)), no client aborted | ${lost.length ? names(lost, (r) => (r.lost !== null ? `${count(r.lost)} lost` : 'unreadable') + (r.aborted.length ? `, ${r.aborted.length} aborted` : '')) : `0 lost in ${records.length} windows`} | ${met(lost.length === 0)} |`,
    );
    L(
      `| max write wait ≤ lock_timeout (${LOCK_TIMEOUT}) | ${waited.length ? names(waited, (r) => `${ms(r.stats.max)} ms`) : `worst ${ms(Math.max(...judged.map((r) => r.stats.max)))} ms`} | ${met(waited.length === 0)} |`,
    );
    L(
      `| p99 ≤ 2 × baseline p99 (${ms(2 * baseP99)} ms) | ${slowP99.length ? names(slowP99, (r) => `${ms(r.stats.p99)} ms`) : `worst ${ms(Math.max(...judged.map((r) => r.stats.p99)))} ms`} | ${met(slowP99.length === 0)} |`,
    );
    if (RUNS > 1) {
      // Each window against the baseline of its own round: the machine's load moves between
      // rounds, and a window is best compared with the baseline measured minutes before it.
      const roundBase = new Map(baseline.map((r) => [r.round, r.stats.p99]));
      L();
      L(`Per scenario over ${RUNS} runs; *ratio* is a window's p99 over the p99 of its own round's baseline window (the baseline's p99 ranged ${ms(Math.min(...baseline.map((r) => r.stats.p99)))} to ${ms(Math.max(...baseline.map((r) => r.stats.p99)))} ms):`);
      L();
      L('| scenario | runs as expected | writes lost | max wait, worst (ms) | p99 median / worst (ms) | ratio median / worst | runs with ratio > 2 |');
      L('|---|---:|---:|---:|---:|---:|---:|');
      const groups = new Map<string, RunRecord[]>();
      for (const r of migrations) {
        const name = `${r.scenario!.key}${r.failing ? ' + failing last step' : ''}`;
        groups.set(name, [...(groups.get(name) ?? []), r]);
      }
      for (const [name, rs] of groups) {
        const ratios = rs.map((r) => r.stats.p99 / (roundBase.get(r.round) ?? baseP99));
        L(
          `| ${name} | ${rs.filter((r) => r.outcome === r.expected).length} of ${rs.length} | ${rs.reduce((n, r) => n + (r.lost ?? 0), 0)} | ${ms(Math.max(...rs.map((r) => r.stats.max)))} | ` +
            `${ms(median(rs.map((r) => r.stats.p99)))} / ${ms(Math.max(...rs.map((r) => r.stats.p99)))} | ${median(ratios).toFixed(2)} / ${Math.max(...ratios).toFixed(2)} | ${ratios.filter((x) => x > 2).length} |`,
        );
      }
    }
    const table = lines.join('\n');

    const meta =
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ` +
      `PostgreSQL ${info.version}, node ${process.version}; accounts: ${ROWS.toLocaleString('en')} rows, ${info.size} with its index; ${info.settings}; ` +
      `pgbench ${CLIENTS} clients, ${WINDOW_S} s windows; lock_timeout ${LOCK_TIMEOUT}; ${GODWIT_NICE ? `Godwit's processes at nice ${GODWIT_NICE}; ` : ''}${GODWIT_CPU ? `Godwit's processes capped at ${GODWIT_CPU} CPU; ` : ''}${SPLIT_CPUS ? `${SPLIT_TEXT}; ` : ''}${THROTTLE ? `throttle ${THROTTLE}; ` : ''}${RUNS} run${RUNS === 1 ? '' : 's'} per scenario and outcome; ` +
      `load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end.`;

    const method =
      `**Method.** The application is pgbench (${CLIENTS} clients, one thread each, no vacuum) running, for a ${WINDOW_S} s window, a script whose transaction adds 1 ` +
      "to a random account's balance and inserts a ledger row (`begin; update accounts set balance = balance + 1 where id = :id; insert into ledger (account_id) values (:id); commit;`); " +
      'every transaction is logged with its latency. Balances start at 0 and ledger empty, so after the window count(ledger) − sum(balance) is the number of committed writes lost. ' +
      `About ${LEAD_MS / 1000} s into the window the migration starts as a pipeline runs it, \`node bin/godwit.js apply <manifest> --target bench --wait --json\`, through a Temporal dev server and a Godwit worker; ` +
      `its time is that command's, spawn to exit. If it outlasts the window, the same load continues in ${EXTEND_S} s pgbench segments until it has ended. ` +
      `Each scenario is one operation on a column the application never names, once as is (expected \`applied\`) and once followed by a step that raises an exception ` +
      `(expected \`rolled_back\`), with \`policy: { lock_timeout: ${LOCK_TIMEOUT}, approval: never }\` (destructive migrations: \`auto\` would wait for a person). The baseline is the same window with no migration. ` +
      'Every window starts on a file copy of the same seeded database; a run left open in `rollback_failed` is terminated after its outcome is recorded.';

    const raw = records
      .map((r) => {
        const s = (x: LatencyStats) => `p50 ${ms(x.p50)}, p99 ${ms(x.p99)}, max ${ms(x.max)}`;
        const head = `- ${scenarioName(r)}: `;
        const mig = r.scenario
          ? `outcome ${r.outcome} (exit ${r.exitCode})${r.reason ? ` — ${r.reason.replace(/\s+/g, ' ').slice(0, 300)}` : ''}; migration ${Math.round(r.migrationMs)} ms; `
          : '';
        return (
          `${head}${mig}window ${r.windowS} s${r.extendedS ? ` (extended ${r.extendedS} s)` : ''}; txns ${r.committed} (pgbench reported ${r.reported}), ledger ${r.ledger}, sum(balance) ${r.balance}, lost ${r.lost ?? 'unreadable'}; ` +
          `latency ms: ${s(r.stats)}${r.scenario ? `; while the migration ran (${r.during.n} txns): ${s(r.during)}` : ''}; over lock_timeout ${r.overLockTimeout}` +
          `${r.failedTxns ? `; failed txns ${r.failedTxns}` : ''}${r.aborted.length ? `; aborted: ${r.aborted.map((a) => a.replace(/\s+/g, ' ').slice(0, 200)).join(' | ')}` : ''}`
        );
      })
      .join('\n');
    const timelines = migrations
      .map((r) => {
        const steps = r.spans
          .filter((s) => Number.isFinite(s.endedAt))
          .map((s) => `${spanLabel(s)} ${Math.round(s.endedAt - s.scheduledAt)} ms${s.attempts > 1 ? ` (${s.attempts} attempts)` : ''}${s.failure ? ' failed' : ''}`);
        return `- ${scenarioName(r)}: ${steps.join(' → ')}`;
      })
      .join('\n');

    const body = [
      meta,
      '',
      table,
      '',
      method,
      '',
      'What Godwit planned for each operation (against the seed\'s catalog):',
      '',
      ...plan,
      '',
      '<details><summary>Raw samples, in run order</summary>',
      '',
      raw,
      '',
      'Activities of each run (scheduled → closed, from its history):',
      '',
      timelines,
      '',
      '</details>',
    ].join('\n');

    out();
    out(meta);
    out();
    out(table);
    out();
    out(`raw samples:\n${raw}`);
    out();
    out(`activities:\n${timelines}`);
    if (process.env.BENCH_NO_README === '1') out('\nBENCH_NO_README=1: bench/README.md left as it is');
    else {
      writeReadmeSection({
        marker: 'live',
        command: 'npm run bench:live',
        source: 'bench/live.ts',
        heading: 'Application writes during a migration: `npm run bench:live`',
        body,
      });
      out('\nwrote the bench:live section of bench/README.md');
    }
  } finally {
    await cleanup();
  }
}

runBench('bench:live', main);
