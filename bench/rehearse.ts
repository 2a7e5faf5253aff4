/**
 * `npm run bench:rehearse`: how long `godwit rehearse` takes, and how that grows with the
 * number of steps and with the sample size.
 *
 * - demo: the four migrations of examples/demo against the demo's database (5,000 users),
 *   sample 1,000 rows per table;
 * - big: a 10-migration directory against a database of 1,000,000 rows (users 600,000,
 *   orders 400,000 with a foreign key to users), sampled at 100, 1,000 and 10,000 rows per
 *   table.
 *
 * Each rehearsal runs through a Temporal dev server (eager activities, as `godwit dev`) and an
 * in-process worker, as `godwit rehearse` would: one parent workflow, one child per
 * (migration, step) and one full apply per migration, on a scratch database beside the
 * target. Times: the bench's clock around start → report (total), the copy activity's own
 * time, and each child's forward and rollback time from its lifecycle transitions.
 *
 * Prints a table and rewrites this benchmark's block of bench/README.md (between the
 * bench:rehearse markers). Environment: BENCH_SAMPLES (100,1000,10000), BENCH_ROWS
 * (1000000), DATABASE_URL (admin connection), TEMPORAL_ADDRESS, BENCH_NO_README=1.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadManifests, parseManifest, type LoadedManifest } from '../src/manifest';
import { rehearsalInput, startRehearsal, watchRehearsal } from '../src/client/rehearse';
import { packageRoot } from '../src/package-root';
import type { RehearsalReport } from '../src/contract/rehearse';
import { BENCH_TARGET, startTemporalAndWorker } from './lib/setup';
import { fmtMs, median } from './lib/stats';
import { onInterrupt, runBench } from './lib/main';
import { writeReadmeSection } from './lib/readme';
import type { TemporalSettings } from '../src/config/temporal';

// Injected failures are the point here: the SDK's warning for each failed activity would bury the report.
process.env.GODWIT_LOG_LEVEL ??= 'ERROR';

const ADMIN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'godwit_bench_rehearse';
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const SAMPLES = (process.env.BENCH_SAMPLES ?? '100,1000,10000').split(',').map(Number);

function urlOf(db: string): string {
  const url = new URL(ADMIN);
  url.pathname = `/${db}`;
  return url.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = ADMIN): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function recreate(sql: string): Promise<void> {
  await admin(async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`create database ${DB}`);
  });
  await admin((c) => c.query(sql), urlOf(DB));
}

const DEMO_SQL = `
  create table users (id bigint generated always as identity primary key, email text not null, name text not null, created_at timestamptz not null default now());
  insert into users (email, name) select 'User' || g || '@Example.COM', 'user ' || (g % 4500) from generate_series(1, 5000) g;
  analyze;`;

const BIG_SQL = (rows: number) => {
  const users = Math.round(rows * 0.6);
  const orders = rows - users;
  return `
  create table users (id bigint generated always as identity primary key, email text not null, name text not null, score int not null default 0, bio text, created_at timestamptz not null default now());
  create table orders (id bigint generated always as identity primary key, user_id bigint not null references users(id), total_cents bigint not null check (total_cents >= 0), note text);
  insert into users (email, name, score, bio) select 'user' || g || '@example.com', 'User ' || g, g % 1000, case when g % 3 = 0 then null else 'bio ' || g end from generate_series(1, ${users}) g;
  insert into orders (user_id, total_cents, note) select 1 + (g::bigint * 7919) % ${users}, g % 100000, 'order ' || g from generate_series(1, ${orders}) g;
  analyze;`;
};

/** Ten migrations of the kinds a project ships: 17 steps in all. */
const TEN: Record<string, string> = {
  '0001': 'id: b0001_email_norm\noperations:\n  - add_column: { table: users, column: { name: email_norm, type: text } }\n  - backfill: { table: users, set: { email_norm: "lower(email)" } }\n  - create_index: { table: users, columns: [email_norm], concurrently: true }\n',
  '0002': 'id: b0002_drop_bio\noperations:\n  - drop_column: { table: users, column: bio }\n',
  '0003': 'id: b0003_rename\noperations:\n  - rename_column: { table: users, from: name, to: display_name }\n',
  '0004': 'id: b0004_tags\noperations:\n  - create_table: { table: tags, columns: [{ name: id, type: bigint, identity: always, primary_key: true }, { name: user_id, type: bigint, nullable: false, references: { table: users, column: id } }, { name: label, type: text, nullable: false }] }\n  - create_index: { table: tags, columns: [user_id], concurrently: true }\n',
  '0005': 'id: b0005_score\noperations:\n  - alter_column_type: { table: users, column: score, type: bigint }\n',
  '0006': 'id: b0006_status\noperations:\n  - sql:\n      up: alter table orders add column status text not null default \'new\'\n      down: alter table orders drop column status\n',
  '0007': 'id: b0007_positive\noperations:\n  - add_constraint: { table: orders, name: orders_total_small, check: "total_cents < 1000000", not_valid: true }\n',
  '0008': 'id: b0008_note\noperations:\n  - drop_column: { table: orders, column: note }\n  - add_column: { table: orders, column: { name: memo, type: varchar(200) } }\n',
  '0009': 'id: b0009_created\noperations:\n  - create_index: { table: orders, columns: [user_id, total_cents], concurrently: true }\n  - set_comment: { table: orders, comment: "what users bought" }\n',
  '0010': 'id: b0010_flag\noperations:\n  - add_column: { table: users, column: { name: flagged, type: boolean, nullable: false, default: "false" } }\n  - set_default: { table: users, column: flagged, default: "true" }\n',
};

interface Run {
  scenario: string;
  sample: number;
  totalMs: number;
  report: RehearsalReport;
}

async function rehearse(settings: TemporalSettings, client: Parameters<typeof startRehearsal>[0], scenario: string, manifests: LoadedManifest[], sample: number): Promise<Run> {
  const input = rehearsalInput({ target: BENCH_TARGET, manifests, data: { kind: 'sample', rows: sample }, keep: false, requestedBy: 'bench' });
  const started = performance.now();
  const handle = await startRehearsal(client, settings, input);
  const report = await watchRehearsal(handle, () => undefined);
  return { scenario, sample, totalMs: performance.now() - started, report };
}

function summary(runs: readonly Run[]): string {
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (load ${loadavg()[0]!.toFixed(1)} at the end), Postgres and a Temporal dev server on the same machine.`,
    '',
    '| rehearsal | sample | migrations | steps | child runs | copy | total | verdict |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of runs) {
    const migrations = new Set(r.report.rows.map((x) => x.migrationId)).size;
    const steps = r.report.rows.filter((x) => x.afterStep !== null).length;
    lines.push(`| ${r.scenario} | ${r.sample.toLocaleString('en-US')} | ${migrations} | ${steps} | ${r.report.rows.length} | ${fmtMs(r.report.copyMs ?? 0)} | ${fmtMs(r.totalMs)} | ${r.report.status} |`);
  }
  // Growth with steps: each run's forward time by the step after which it failed.
  const big = runs.filter((r) => r.scenario.startsWith('10 migrations'));
  const byStep = new Map<string, { fwd: number[]; back: number[] }>();
  for (const r of big) {
    for (const row of r.report.rows) {
      const key = row.afterStep === null ? 'apply' : `fail after ${row.afterStep}`;
      const e = byStep.get(key) ?? byStep.set(key, { fwd: [], back: [] }).get(key)!;
      if (row.forwardMs !== null) e.fwd.push(row.forwardMs);
      if (row.rollbackMs !== null) e.back.push(row.rollbackMs);
    }
  }
  lines.push('', 'Child runs of the 10-migration rehearsals, by where the failure was injected (medians over every migration and sample size):', '', '| run | runs | forward | rollback |', '|---|---:|---:|---:|');
  for (const [key, e] of [...byStep.entries()].sort()) lines.push(`| ${key} | ${e.fwd.length} | ${e.fwd.length ? fmtMs(median(e.fwd)) : '-'} | ${e.back.length ? fmtMs(median(e.back)) : '-'} |`);
  const demo = runs.find((r) => r.scenario.startsWith('demo'));
  if (demo) {
    lines.push('', 'What the demo rehearsal found (its fourth migration is the demo\'s failing one):', '', '```');
    for (const row of demo.report.rows) lines.push(`${row.migrationId}  ${row.afterStep === null ? 'apply' : `fail after ${row.afterStep}`}  ${row.outcome}${row.differences.length ? `  ${row.differences[0]!.slice(0, 120)}` : ''}`);
    lines.push('```');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  await recreate(DEMO_SQL);
  const bench = await startTemporalAndWorker(urlOf(DB), log);
  onInterrupt(async () => {
    await bench.stop();
    await admin((c) => c.query(`drop database if exists ${DB} with (force)`));
  });
  const settings: TemporalSettings = { address: bench.endpoint.address, namespace: bench.endpoint.namespace, taskQueue: bench.taskQueue, uiUrl: bench.endpoint.uiUrl };
  const runs: Run[] = [];
  try {
    const demo = await loadManifests(join(packageRoot(), 'examples', 'demo'));
    runs.push(await rehearse(settings, bench.client, 'demo (examples/demo, 5,000 users)', demo, 1000));
    log(`demo: ${fmtMs(runs.at(-1)!.totalMs)} (${runs.at(-1)!.report.status})`);

    log(`creating a ${ROWS.toLocaleString('en-US')}-row database...`);
    await recreate(BIG_SQL(ROWS));
    const ten = Object.entries(TEN).map(([name, text]) => parseManifest(text, `${name}.yaml`));
    for (const sample of SAMPLES) {
      runs.push(await rehearse(settings, bench.client, `10 migrations, ${ROWS.toLocaleString('en-US')} rows`, ten, sample));
      const r = runs.at(-1)!;
      log(`10 migrations, sample ${sample}: ${fmtMs(r.totalMs)}, copy ${fmtMs(r.report.copyMs ?? 0)} (${r.report.status}; ${r.report.rows.filter((x) => x.outcome !== 'proven' && x.outcome !== 'applied').map((x) => `${x.migrationId} ${x.outcome}: ${x.differences[0]}`).join('; ')})`);
    }
  } finally {
    await bench.stop();
    await admin((c) => c.query(`drop database if exists ${DB} with (force)`));
  }
  const body = summary(runs);
  log(`\n${body}`);
  if (!process.env.BENCH_NO_README) writeReadmeSection({ marker: 'rehearse', command: 'npm run bench:rehearse', source: 'bench/rehearse.ts', heading: 'Rehearsal: `godwit rehearse` on the demo and on a sampled 1M-row database', body });
}

runBench('bench:rehearse', main);
