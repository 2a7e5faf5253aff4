/**
 * `npm run bench`: what a one-operation migration (add a nullable column) costs from a
 * pipeline's point of view, trigger to `applied`, with a warm Temporal server and worker:
 * `npx godwit apply <manifest> --target bench --wait` against `npx node-pg-migrate up` and
 * `psql -c` of the same DDL, each spawned as a whole process and timed from spawn to exit.
 * Then where Godwit's time goes. Prints a table and rewrites the figures in bench/README.md.
 *
 * Environment: BENCH_RUNS (15), BENCH_WARMUP (3), BENCH_QUIET=0 (do not wait for a quiet
 * machine before each command), BENCH_QUIET_BUSY (0.3), BENCH_QUIET_WAIT_MS (20000), DATABASE_URL (admin
 * connection, default postgres://postgres@127.0.0.1:5432/postgres), TEMPORAL_ADDRESS (use that
 * server instead of starting a dev server), BENCH_NO_README=1 (print only).
 */
import { writeReadmeSection } from './lib/readme';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runTimeline, type RunTimeline } from './lib/history';
import { waitForQuiet } from './lib/quiet';
import { BENCH_DB, BENCH_TARGET, createBenchDatabase, dropBenchDatabase, rebuildUsersIfWorn, cliEnv, startTemporalAndWorker, USER_ROWS, type BenchTemporal } from './lib/setup';
import { fmtMs, fmtRatio, median, summarize, type Summary } from './lib/stats';
import { timedSpawn, type TimedRun } from './lib/timed';
import { buildCli } from '../scripts/build';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = fileURLToPath(new URL('README.md', import.meta.url));
const int = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 15));
const WARMUP = int(process.env.BENCH_WARMUP, 3);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Before each command, wait (up to QUIET_WAIT_MS) until at most QUIET_BUSY of the CPUs are busy with other work.
const QUIET = process.env.BENCH_QUIET !== '0';
const QUIET_BUSY = Number(process.env.BENCH_QUIET_BUSY ?? 0.3);
const QUIET_WAIT_MS = int(process.env.BENCH_QUIET_WAIT_MS, 20_000);

// The one operation, spelled the way each tool wants it. The DDL is the statement Godwit
// plans for the manifest (`godwit plan` prints it), so all three run the same statement.
const COLUMN = 'bench_note';
const DDL = `ALTER TABLE "public"."users" ADD COLUMN "${COLUMN}" text`;
const GODWIT_ID = '0001_bench_note';
const GODWIT_MANIFEST = `id: ${GODWIT_ID}
description: add a nullable column
operations:
  - add_column: { table: users, column: { name: ${COLUMN}, type: text } }
`;
const NPM_NAME = '1700000000000_bench-note';
const NPM_MIGRATION = `-- Up Migration\n${DDL};\n\n-- Down Migration\nALTER TABLE "public"."users" DROP COLUMN "${COLUMN}";\n`;

type Tool = 'godwit' | 'node-pg-migrate' | 'psql';

interface Contender {
  key: string;
  label: string;
  tool: Tool;
  cmd: string;
  args: string[];
  cwd: string;
  /** The row the ratios are computed against, and the headline rows. */
  headline?: boolean;
  /** Added to the environment every command gets. */
  env?: NodeJS.ProcessEnv;
}

interface Sample {
  run: TimedRun;
  resetMs: number;
}

const out = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  out(`Godwit overhead benchmark: ${RUNS} timed runs after ${WARMUP} warm-ups per command`);
  out(`machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version}, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  const work = mkdtempSync(join(tmpdir(), 'godwit-bench-'));
  let temporal: BenchTemporal | undefined;
  let db: pg.Client | undefined;
  let dbCreated = false;
  const cleanup = async () => {
    await db?.end().catch(() => undefined);
    db = undefined;
    await temporal?.stop().catch((err: unknown) => out(`stopping worker/server: ${(err as Error).message}`));
    temporal = undefined;
    if (dbCreated) await dropBenchDatabase(ADMIN_URL).catch((err: unknown) => out(`dropping ${BENCH_DB}: ${(err as Error).message}`));
    dbCreated = false;
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    out('\ninterrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // --- setup ------------------------------------------------------------------------
    const dbUrl = await createBenchDatabase(ADMIN_URL);
    dbCreated = true;
    out(`database ${BENCH_DB}: users with ${USER_ROWS.toLocaleString('en')} rows`);
    temporal = await startTemporalAndWorker(dbUrl, (line) => out(`  ${line}`));
    const { endpoint, taskQueue } = temporal;
    out(`temporal ${endpoint.address} (${endpoint.started ? 'dev server started for this run' : 'TEMPORAL_ADDRESS'}), worker on task queue ${taskQueue}`);

    const godwitDir = join(work, 'godwit');
    const npmDir = join(work, 'node-pg-migrate');
    mkdirSync(godwitDir);
    mkdirSync(npmDir);
    const manifest = join(godwitDir, `${GODWIT_ID}.yaml`);
    writeFileSync(manifest, GODWIT_MANIFEST);
    writeFileSync(join(npmDir, `${NPM_NAME}.sql`), NPM_MIGRATION);
    const consumer = makeConsumerProject(work);
    // The compiled CLI as `npm ci` leaves it, built from the sources being measured.
    out(`built the compiled CLI: ${await buildCli(ROOT)}`);

    const env = cliEnv(temporal, { DATABASE_URL: dbUrl });
    const apply = ['apply', manifest, '--target', BENCH_TARGET, '--wait'];
    const npmUp = ['up', '-m', npmDir];
    const contenders: Contender[] = [
      { key: 'godwit-npx-dep', label: 'npx godwit apply --wait', tool: 'godwit', cmd: 'npx', args: ['godwit', ...apply], cwd: consumer, headline: true },
      { key: 'godwit-node', label: 'node bin/godwit.js apply --wait', tool: 'godwit', cmd: process.execPath, args: ['bin/godwit.js', ...apply], cwd: ROOT },
      { key: 'godwit-npx', label: "npx godwit apply --wait, inside Godwit's own repository", tool: 'godwit', cmd: 'npx', args: ['godwit', ...apply], cwd: ROOT },
      { key: 'npm-npx', label: 'npx node-pg-migrate up', tool: 'node-pg-migrate', cmd: 'npx', args: ['node-pg-migrate', ...npmUp], cwd: ROOT, headline: true },
      { key: 'npm-node', label: 'node node_modules/node-pg-migrate/bin/node-pg-migrate.js up', tool: 'node-pg-migrate', cmd: process.execPath, args: ['node_modules/node-pg-migrate/bin/node-pg-migrate.js', ...npmUp], cwd: ROOT },
      { key: 'psql', label: 'psql -c', tool: 'psql', cmd: '/usr/bin/psql', args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dbUrl, '-c', DDL], cwd: ROOT, headline: true },
    ];

    db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const conn = db;

    // --- measurement ------------------------------------------------------------------
    // Rounds: every command once per round, the order rotated each round, so a burst of
    // load on this (shared) machine lands on all of them alike. Each run pays its reset
    // first, through the bench's own open connection, outside the timed window.
    const samples = new Map<string, Sample[]>(contenders.map((c) => [c.key, []]));
    const quiet = { waitedMs: 0, busyStarts: 0 };
    const nodeFloor: number[] = [];
    const helpRuns: number[] = [];
    const probes: Record<string, number>[] = [];
    const probeWall: number[] = [];
    const total = WARMUP + RUNS;
    for (let round = 0; round < total; round++) {
      const warm = round < WARMUP;
      process.stdout.write(`${warm ? 'warm-up' : 'round'} ${warm ? round + 1 : round - WARMUP + 1}/${warm ? WARMUP : RUNS} `);
      for (let i = 0; i < contenders.length; i++) {
        const c = contenders[(i + round) % contenders.length]!;
        if (await rebuildUsersIfWorn(conn)) process.stdout.write('(users rebuilt) ');
        const resetMs = await reset(conn, c.tool);
        if (QUIET) {
          const q = await waitForQuiet(QUIET_BUSY, QUIET_WAIT_MS);
          if (!warm) {
            quiet.waitedMs += q.waitedMs;
            if (!q.quiet) quiet.busyStarts++;
          }
        }
        const run = await timedSpawn(c.cmd, c.args, { cwd: c.cwd, env: { ...env, ...c.env } });
        await verify(conn, c, run);
        if (!warm) samples.get(c.key)!.push({ run, resetMs });
        process.stdout.write('.');
      }
      // The startup probe in the same rounds, so its stages see the same machine load.
      const floor = await timedSpawn(process.execPath, ['-e', '0'], { cwd: ROOT, env });
      const help = await timedSpawn(process.execPath, ['bin/godwit.js', '--help'], { cwd: ROOT, env });
      const probe = await timedSpawn(process.execPath, ['bench/startup-probe.mjs', manifest], { cwd: ROOT, env });
      if (probe.code !== 0) throw new Error(`startup probe failed:\n${probe.stderr}`);
      if (!warm) {
        nodeFloor.push(floor.ms);
        helpRuns.push(help.ms);
        probes.push(JSON.parse(probe.stdout.trim().split('\n').pop()!) as Record<string, number>);
        probeWall.push(probe.ms);
      }
      out();
    }
    const load1 = loadavg();

    // --- profile: godwit runs laid out on the server's history ------------------------
    const timelines = new Map<string, RunTimeline[]>();
    for (const c of contenders.filter((c) => c.tool === 'godwit')) {
      const list: RunTimeline[] = [];
      for (const s of samples.get(c.key)!) {
        const ids = runIds(s.run.stdout);
        if (ids) list.push(await runTimeline(temporal.client, ids.workflowId, ids.runId, s.run.spawnedAt, s.run.spawnedAt + s.run.ms));
      }
      timelines.set(c.key, list);
    }

    // --- report -----------------------------------------------------------------------
    const summaries = new Map<string, Summary>(contenders.map((c) => [c.key, summarize(samples.get(c.key)!.map((s) => s.run.ms))]));
    const resets = contenders.map((c) => ({ c, ms: median(samples.get(c.key)!.map((s) => s.resetMs)) }));
    const ratio = (a: string, b: string, k: 'median' | 'p90') => summaries.get(a)![k] / summaries.get(b)![k];
    const lines: string[] = [];
    const L = (s = '') => lines.push(s);

    const cpu = (key: string) => median(samples.get(key)!.map((s) => s.run.cpuMs));
    L(`| command (whole process, spawn → exit) | median | p90 | min | max | ÷ npx node-pg-migrate (median) | ÷ psql (median) | CPU time, median |`);
    L(`|---|---:|---:|---:|---:|---:|---:|---:|`);
    for (const c of contenders) {
      const s = summaries.get(c.key)!;
      L(`| ${c.headline ? `**\`${c.label}\`**` : `\`${c.label}\``} | ${fmtMs(s.median)} | ${fmtMs(s.p90)} | ${fmtMs(s.min)} | ${fmtMs(s.max)} | ${fmtRatio(ratio(c.key, 'npm-npx', 'median'))} | ${fmtRatio(ratio(c.key, 'psql', 'median'))} | ${fmtMs(cpu(c.key))} |`);
    }
    L();
    L(`CPU time is user + system time of the command's process tree (GNU time); it leaves out what the Temporal server, the worker and Postgres spend on the command's behalf, and it moves much less than the wall clock when the machine is busy.`);
    L();
    L(`Ratios (target: godwit ≤ 1.5 × \`npx node-pg-migrate up\`):`);
    L();
    L(`| ratio | median | p90 |`);
    L(`|---|---:|---:|`);
    const ratioRow = (label: string, a: string, b: string) => L(`| ${label} | ${fmtRatio(ratio(a, b, 'median'))} | ${fmtRatio(ratio(a, b, 'p90'))} |`);
    ratioRow('`npx godwit` ÷ `npx node-pg-migrate up` (each installed in the project that runs it)', 'godwit-npx-dep', 'npm-npx');
    ratioRow('`npx godwit` ÷ `psql -c`', 'godwit-npx-dep', 'psql');
    ratioRow('`node bin/godwit.js` ÷ `node …/node-pg-migrate.js` (no npx on either side)', 'godwit-node', 'npm-node');
    ratioRow("`npx godwit` inside Godwit's own repository ÷ `npx node-pg-migrate up`", 'godwit-npx', 'npm-npx');
    L(`| \`npx godwit\` ÷ \`npx node-pg-migrate up\`, CPU time of the command | ${fmtRatio(cpu('godwit-npx-dep') / cpu('npm-npx'))} | |`);
    L(`| \`node bin/godwit.js\` ÷ \`node …/node-pg-migrate.js\`, CPU time of the command | ${fmtRatio(cpu('godwit-node') / cpu('npm-node'))} | |`);
    L();
    L(`npx's own cost: godwit ${fmtMs(summaries.get('godwit-npx')!.median - summaries.get('godwit-node')!.median)} ` +
      `(${fmtMs(summaries.get('godwit-npx-dep')!.median - summaries.get('godwit-node')!.median)} when installed as a dependency), ` +
      `node-pg-migrate ${fmtMs(summaries.get('npm-npx')!.median - summaries.get('npm-node')!.median)} (difference of medians).`);
    L(`Reset before each run (not in the timings; median): ${resets.map(({ c, ms }) => `${c.key} ${ms.toFixed(1)} ms`).join(', ')}.`);
    const tableText = lines.join('\n');

    const prof: string[] = [];
    const P = (s = '') => prof.push(s);
    P(`Each godwit run laid out on one clock (the bench's spawn and exit, the server's history events; medians over the ${RUNS} timed runs):`);
    P();
    P(`| phase | ${contenders.filter((c) => c.tool === 'godwit').map((c) => `\`${c.key}\``).join(' | ')} |`);
    P(`|---|${contenders.filter((c) => c.tool === 'godwit').map(() => '---:').join('|')}|`);
    const godwitKeys = contenders.filter((c) => c.tool === 'godwit').map((c) => c.key);
    const med = (key: string, f: (t: RunTimeline) => number) => median((timelines.get(key) ?? []).map(f));
    const row = (label: string, f: (t: RunTimeline) => number) => P(`| ${label} | ${godwitKeys.map((k) => fmtMs(med(k, f))).join(' | ')} |`);
    row('spawn → WorkflowExecutionStarted (npx, node, imports, connect, start)', (t) => t.toStarted);
    const startedLine = (k: string) =>
      median(samples.get(k)!.map((x) => x.run.lines.find((l) => l.stream === 'stdout' && / started /.test(l.text))?.at ?? Number.NaN).filter(Number.isFinite));
    P(`| spawn → "started <link>" printed (start RPC answered) | ${godwitKeys.map((k) => fmtMs(startedLine(k))).join(' | ')} |`);
    row('WorkflowExecutionStarted → Completed (the workflow)', (t) => t.workflow);
    const activityNames = [...new Set([...timelines.values()].flat().flatMap((t) => t.activities.map((a) => a.name)))];
    for (const name of activityNames) {
      row(`  · activity \`${name}\` running`, (t) => t.activities.filter((a) => a.name === name).reduce((s, a) => s + a.runMs, 0));
      row(`  · activity \`${name}\` scheduled → started`, (t) => t.activities.filter((a) => a.name === name).reduce((s, a) => s + a.queuedMs, 0));
    }
    row('  · workflow time outside activities', (t) => t.workflowOverheadMs);
    P(`| &nbsp;&nbsp;· workflow tasks (count) | ${godwitKeys.map((k) => String(med(k, (t) => t.workflowTasks))).join(' | ')} |`);
    row('  · workflow tasks, scheduled → completed, summed', (t) => t.workflowTaskMs);
    row('WorkflowExecutionCompleted → process exit', (t) => t.afterClose);
    row('total (spawn → exit)', (t) => t.toStarted + t.workflow + t.afterClose);
    P();
    const sample = timelines.get('godwit-node')?.[Math.floor(RUNS / 2)];
    if (sample) {
      P(`One run's history (\`node bin/godwit.js\`), ms after WorkflowExecutionStarted:`);
      P();
      P('```');
      for (const e of sample.events) P(`${e.atMs.toFixed(1).padStart(7)}  ${e.type}`);
      P('```');
      P();
    }
    const probeKeys = ['boot', 'main', 'apply', 'sdk', 'connect', 'close'];
    const probeLabels: Record<string, string> = {
      boot: 'node boot (process start → first line of the script)',
      main: 'loading the compiled CLI (dist/cli/main.js: commander, the command table)',
      apply: "what `apply` does before it needs Temporal (timed as `godwit plan <manifest>`): yaml, zod and the operations' schemas loaded, the manifest read, validated and planned offline",
      sdk: "loading the SDK's client (`@temporalio/client` with grpc-js and the Temporal API's protobuf definitions, bundled into a chunk of dist/cli)",
      connect: 'connecting to the warm server (a first call, GetSystemInfo, as `connectClient` does)',
      close: 'closing the connection',
    };
    P(`Startup of \`godwit apply\` stage by stage (\`bench/startup-probe.mjs\`: the apply path's imports in order, each timed in a fresh process, one per round; medians of ${RUNS}):`);
    P();
    const stageMedians = Object.fromEntries(probeKeys.map((k) => [k, median(probes.map((p) => p[k] ?? Number.NaN))]));
    const stageSum = Object.values(stageMedians).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const share = (ms: number) => (Number.isFinite(ms) && stageSum > 0 ? `${Math.round((100 * ms) / stageSum)} %` : '');
    P(`| stage | median | share of the stages |`);
    P(`|---|---:|---:|`);
    for (const k of probeKeys) P(`| ${probeLabels[k]} | ${fmtMs(stageMedians[k]!)} | ${share(stageMedians[k]!)} |`);
    P(`| probe process, spawn → exit | ${fmtMs(median(probeWall))} | |`);
    P(`| for comparison: \`node -e 0\`, spawn → exit (the floor for any Node tool) | ${fmtMs(median(nodeFloor))} | |`);
    P(`| for comparison: \`node bin/godwit.js --help\`, spawn → exit (commander and the command table only) | ${fmtMs(median(helpRuns))} | |`);
    const profileText = prof.join('\n');

    const load =
      `load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} after the timed runs` +
      (QUIET
        ? `; before each command the bench waited for at most ${Math.round(QUIET_BUSY * 100)} % of the CPUs to be busy with other work (${(quiet.waitedMs / 1000).toFixed(0)} s of waiting in all; ` +
          `${quiet.busyStarts} of ${RUNS * contenders.length} timed commands started without it after ${QUIET_WAIT_MS / 1000} s)`
        : '');
    const meta =
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version}, ` +
      `${await serverVersion(conn)}, Temporal dev server (\`${endpoint.started ? 'started by the bench' : endpoint.address}\`); ${RUNS} timed runs after ${WARMUP} warm-ups per command; ${load}.`;

    out();
    out(meta);
    out();
    out(tableText);
    out();
    out(profileText);
    out();
    out(`raw samples (ms): ${contenders.map((c) => `${c.key}=[${samples.get(c.key)!.map((s) => Math.round(s.run.ms)).join(',')}]`).join(' ')}`);

    if (process.env.BENCH_NO_README !== '1') {
      const raw = contenders.map((c) => `- \`${c.key}\`: ${samples.get(c.key)!.map((s) => Math.round(s.run.ms)).join(', ')}`).join('\n');
      writeReadmeSection({
        marker: 'results',
        command: 'npm run bench',
        source: 'bench/run.ts',
        heading: '',
        body: `${meta}\n\n${tableText}\n\n### Where Godwit's time goes\n\n${profileText}\n\n<details><summary>Raw samples (ms, in run order)</summary>\n\n${raw}\n\n</details>`,
      });
      out(`\nwrote the figures to ${README}`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

/**
 * A throwaway project that depends on godwit (node_modules/godwit → this repository), so
 * `npx godwit` there takes npx's ordinary path: the bin in node_modules/.bin, as for
 * node-pg-migrate. In this repository itself `npx godwit` is the package's own bin, and
 * npx first loads the whole dependency tree (Arborist) to resolve it.
 */
function makeConsumerProject(work: string): string {
  const dir = join(work, 'consumer');
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'godwit-bench-consumer', private: true, dependencies: { godwit: `file:${ROOT}` } }, null, 2));
  symlinkSync(ROOT.replace(/\/$/, ''), join(dir, 'node_modules', 'godwit'), 'dir');
  symlinkSync('../godwit/bin/godwit.js', join(dir, 'node_modules', '.bin', 'godwit'));
  return dir;
}

/** The same reset for every tool: the column goes, and so does the tool's record of having added it. */
async function reset(db: pg.Client, tool: Tool): Promise<number> {
  const t0 = performance.now();
  await db.query(`alter table users drop column if exists ${COLUMN}`);
  if (tool === 'godwit') {
    // Same workflow id every run (godwit/bench/0001_bench_note): Temporal allows a new run
    // once the previous one closed; the control schema must forget that it was applied.
    const { rows } = await db.query<{ t: string | null }>(`select to_regclass('godwit.migrations')::text as t`);
    if (rows[0]?.t) await db.query(`delete from godwit.migrations where migration_id = $1`, [GODWIT_ID]);
  } else if (tool === 'node-pg-migrate') {
    const { rows } = await db.query<{ t: string | null }>(`select to_regclass('public.pgmigrations')::text as t`);
    if (rows[0]?.t) await db.query(`delete from pgmigrations where name = $1`, [NPM_NAME]);
  }
  return performance.now() - t0;
}

/** Outside the timing: the run must have succeeded and really added the column. */
async function verify(db: pg.Client, c: Contender, run: TimedRun): Promise<void> {
  const fail = (why: string) => {
    throw new Error(`${c.label}: ${why}\nexit ${run.code ?? run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  };
  if (run.code !== 0) fail('did not exit 0');
  const { rows } = await db.query(`select 1 from information_schema.columns where table_schema = 'public' and table_name = 'users' and column_name = $1`, [COLUMN]);
  if (rows.length !== 1) fail(`column ${COLUMN} was not added`);
  if (c.tool === 'godwit') {
    if (/already applied/.test(run.stdout)) fail('godwit found the migration already applied (reset did not work)');
    if (!/\bapplied\b/.test(run.stdout) || !runIds(run.stdout)) fail('no "applied" outcome with a run link in the output');
  }
  if (c.tool === 'node-pg-migrate') {
    const r = await db.query(`select 1 from pgmigrations where name = $1`, [NPM_NAME]);
    if (r.rows.length !== 1) fail('no pgmigrations row');
  }
}

function runIds(stdout: string): { workflowId: string; runId: string } | null {
  const m = /\/workflows\/([^/\s]+)\/([0-9a-f-]{36})\/history/.exec(stdout);
  return m ? { workflowId: decodeURIComponent(m[1]!), runId: m[2]! } : null;
}

async function serverVersion(db: pg.Client): Promise<string> {
  const { rows } = await db.query<{ v: string }>(`select current_setting('server_version') as v`);
  return `PostgreSQL ${rows[0]?.v ?? '?'}`;
}

await main();
