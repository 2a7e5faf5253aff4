/**
 * `npm run bench:fleet`: one small migration (add a nullable column) on every database of a
 * fleet: `godwit apply <manifest> --fleet bench --wait` at max_parallel 1, 8 and 32 against a
 * sequential loop of `npx node-pg-migrate up` over the same databases, each timed as whole
 * processes from spawn to exit. Then where Godwit's time goes, read from Temporal (the child
 * runs' start and close times). Prints a table and rewrites its section of bench/README.md.
 *
 * Environment: BENCH_FLEET_SIZES (10,100), BENCH_FLEET_PARALLEL (1,8,32), DATABASE_URL (admin
 * connection), TEMPORAL_ADDRESS (use that server), BENCH_NO_README=1 (print only).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { connectOrStartTemporal } from '../src/devserver';
import { TargetPools } from '../src/db/pool';
import { connectWorkerConnection, createGodwitWorker } from '../worker';
import { migrationWorkflowId } from '../src/contract/migration';
import { fleetReleaseId } from '../src/contract/release';
import { buildCli } from '../scripts/build';
import { onInterrupt, runBench } from './lib/main';
import { writeReadmeSection } from './lib/readme';
import { fmtMs, median } from './lib/stats';
import { timedSpawn } from './lib/timed';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number).filter((n) => n > 0) : d);
const SIZES = list(process.env.BENCH_FLEET_SIZES, [10, 100]);
const PARALLEL = list(process.env.BENCH_FLEET_PARALLEL, [1, 8, 32]);
const PREFIX = 'godwit_fleet_bench_';
const out = (line = '') => process.stdout.write(`${line}\n`);

const dbUrl = (i: number) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${PREFIX}${i}`;
  return u.toString();
};
const alias = (i: number) => `f${i}`;

/**
 * Pools that hold few connections and close them soon: 100 targets with the worker's usual
 * pools (4 each, idle for 30 s) would pass this server's max_connections (100).
 */
class BenchPools extends TargetPools {
  private readonly small = new Map<string, pg.Pool>();
  constructor(private readonly urls: (alias: string) => string) {
    super(urls);
  }
  override pool(name: string): pg.Pool {
    let p = this.small.get(name);
    if (!p) {
      p = new pg.Pool({ connectionString: this.urls(name), max: 2, idleTimeoutMillis: 1_000, application_name: 'godwit' });
      p.on('error', () => undefined);
      p.on('connect', (c) => c.on('error', () => undefined));
      this.small.set(name, p);
    }
    return p;
  }
  override async close(): Promise<void> {
    await Promise.all([...this.small.values()].map((p) => p.end()));
    this.small.clear();
  }
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

interface Row {
  size: number;
  contender: string;
  ms: number;
  /** Median of the child runs' own durations (start → close in Temporal). */
  childMs?: number;
  /** From the release's start to its first child's start: the reachability check of every target. */
  checkMs?: number;
  /** The release workflow's own run, start to close (the rest of `ms` is the CLI's start, planning and exit). */
  releaseMs?: number;
  /** Of the release's time after the check, the share its child runs were running, out of max_parallel lanes. */
  busy?: number;
  /** Events in the release's history, per target. */
  eventsPerTarget?: number;
}

async function main(): Promise<void> {
  const largest = Math.max(...SIZES);
  out(`fleet benchmark: sizes ${SIZES.join(', ')}, max_parallel ${PARALLEL.join(', ')}`);
  out(`machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const work = mkdtempSync(join(tmpdir(), 'godwit-fleet-bench-'));
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => out(`cleanup: ${(err as Error).message}`));
    cleanups.length = 0;
    rmSync(work, { recursive: true, force: true });
  };
  onInterrupt(cleanup);
  try {
    await admin(async (c) => {
      for (let i = 1; i <= largest; i++) {
        await c.query(`drop database if exists ${PREFIX}${i} with (force)`);
        await c.query(`create database ${PREFIX}${i}`);
      }
    });
    cleanups.push(() => admin(async (c) => {
      for (let i = 1; i <= largest; i++) await c.query(`drop database if exists ${PREFIX}${i} with (force)`);
    }));
    for (let i = 1; i <= largest; i++) {
      const c = new pg.Client({ connectionString: dbUrl(i) });
      await c.connect();
      await c.query(`create table users (id int primary key, email text not null); insert into users select g, 'u' || g || '@x' from generate_series(1, 100) g`);
      await c.end();
    }
    out(`${largest} databases, each with a users table of 100 rows`);

    const endpoint = await connectOrStartTemporal({ onNote: (l) => out(`  ${l}`) });
    cleanups.push(() => endpoint.stop());
    const taskQueue = `godwit-fleet-bench-${randomBytes(3).toString('hex')}`;
    const connection = await connectWorkerConnection(endpoint.address);
    const pools = new BenchPools((a) => dbUrl(Number(a.slice(1))));
    const { worker } = await createGodwitWorker({ connection, namespace: endpoint.namespace, taskQueue, pools });
    const running = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await running;
      await pools.close();
      await connection.close();
    });
    const clientConnection = await Connection.connect({ address: endpoint.address });
    const client = new Client({ connection: clientConnection, namespace: endpoint.namespace });
    cleanups.push(() => clientConnection.close());
    out(`built the compiled CLI: ${await buildCli(ROOT)}`);

    const rows: Row[] = [];
    let run = 0;
    for (const size of SIZES) {
      const targets = Array.from({ length: size }, (_v, i) => alias(i + 1));
      const config = join(work, `godwit-${size}.yaml`);
      const fleets = PARALLEL.map((p) => `  bench-${size}-${p}:\n    targets: [${targets.join(', ')}]\n    canary: [f1]\n    max_parallel: ${p}\n    failure_threshold: 1\n`).join('');
      writeFileSync(config, `fleets:\n${fleets}`);
      const env = { ...process.env, TEMPORAL_ADDRESS: endpoint.address, GODWIT_TASK_QUEUE: taskQueue, GODWIT_CONFIG: config, NO_COLOR: '1' };
      for (const p of PARALLEL) {
        const id = `${String(++run).padStart(4, '0')}_bench_col`;
        const dir = join(work, id);
        mkdirSync(dir);
        writeFileSync(join(dir, `${id}.yaml`), `id: ${id}\noperations:\n  - add_column: { table: users, column: { name: c${run}, type: text } }\npolicy: { approval: never }\n`);
        const r = await timedSpawn(process.execPath, ['bin/godwit.js', 'apply', dir, '--fleet', `bench-${size}-${p}`, '--wait'], { cwd: ROOT, env, timeoutMs: 3_600_000 });
        if (r.code !== 0) throw new Error(`godwit apply --fleet exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
        const release = await client.workflow.getHandle(fleetReleaseId(`bench-${size}-${p}`, id)).describe();
        const children = await Promise.all(targets.map((t) => client.workflow.getHandle(migrationWorkflowId(t, id)).describe()));
        const childMs = median(children.map((c) => c.closeTime!.getTime() - c.startTime.getTime()));
        const firstChild = Math.min(...children.map((c) => c.startTime.getTime()));
        const releaseMs = release.closeTime!.getTime() - release.startTime.getTime();
        const checkMs = firstChild - release.startTime.getTime();
        const childTotal = children.reduce((sum, c) => sum + (c.closeTime!.getTime() - c.startTime.getTime()), 0);
        const lanes = Math.min(p, size);
        const row: Row = { size, contender: `godwit --fleet, max_parallel ${p}`, ms: r.ms, childMs, checkMs, releaseMs, busy: childTotal / ((releaseMs - checkMs) * lanes), eventsPerTarget: release.historyLength / size };
        rows.push(row);
        out(`${size} targets, godwit max_parallel ${p}: ${fmtMs(r.ms)} (${fmtMs(r.ms / size)} a target; release ${fmtMs(releaseMs)}, check ${fmtMs(checkMs)}, child run median ${fmtMs(childMs)}, lanes busy ${Math.round(row.busy! * 100)}%)`);
      }
      const npmDir = join(work, `npm-${size}`);
      mkdirSync(npmDir);
      writeFileSync(join(npmDir, `1700000000${String(size).padStart(3, '0')}_bench-col.sql`), `-- Up Migration\nALTER TABLE users ADD COLUMN npm_${size} text;\n\n-- Down Migration\nALTER TABLE users DROP COLUMN npm_${size};\n`);
      const t0 = performance.now();
      for (let i = 1; i <= size; i++) {
        const r = await timedSpawn('npx', ['node-pg-migrate', 'up', '-m', npmDir, '--migrations-table', `pgmigrations_${size}`], { cwd: ROOT, env: { ...process.env, DATABASE_URL: dbUrl(i) } });
        if (r.code !== 0) throw new Error(`node-pg-migrate exited ${r.code} on ${PREFIX}${i}:\n${r.stdout}\n${r.stderr}`);
      }
      const ms = performance.now() - t0;
      rows.push({ size, contender: 'loop of npx node-pg-migrate up', ms });
      out(`${size} targets, sequential npx node-pg-migrate up: ${fmtMs(ms)} (${fmtMs(ms / size)} a target)`);
    }
    const body = report(rows);
    out();
    out(body);
    if (process.env.BENCH_NO_README !== '1') {
      writeReadmeSection({ marker: 'fleet', command: 'npm run bench:fleet', source: 'bench/fleet.ts', heading: 'One migration across a fleet: `npm run bench:fleet`', body });
    }
  } finally {
    await cleanup();
  }
}

function report(rows: Row[]): string {
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 16)}Z on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}; one run each (whole processes, spawn to exit).`,
    '',
    '| targets | contender | total | per target | ÷ the loop | release workflow | reachability check | child run (median) | lanes busy | release history events a target |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const loop = rows.find((x) => x.size === r.size && x.contender.startsWith('loop'));
    lines.push(
      `| ${r.size} | ${r.contender} | ${fmtMs(r.ms)} | ${fmtMs(r.ms / r.size)} | ${loop && loop !== r ? `${(loop.ms / r.ms).toFixed(1)}× faster` : ''} | ${r.releaseMs === undefined ? '' : fmtMs(r.releaseMs)} | ${r.checkMs === undefined ? '' : fmtMs(r.checkMs)} | ${r.childMs === undefined ? '' : fmtMs(r.childMs)} | ${r.busy === undefined ? '' : `${Math.round(r.busy * 100)}%`} | ${r.eventsPerTarget === undefined ? '' : r.eventsPerTarget.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

runBench('bench:fleet', main);
