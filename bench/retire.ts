/**
 * `npm run bench:retire`: how long drop_column and drop_table hold their locks on a 1M-row
 * table, going forward and rolling back, now that they retire what they drop (a rename) and
 * in the copy they did before (and still do where retiring cannot work).
 *
 * Each step runs through Godwit's step activities (activities/steps.ts), as Temporal would call
 * them, while an application connection updates single rows of the same table in a loop. Two
 * figures per phase: the step's own time (its transaction, with fence, ledger and records), and
 * the longest one application statement waited: the time writes were blocked.
 *
 * - retire drop_column: users.bio (nullable), and users.name (NOT NULL, no default: made
 *   nullable while retired; the rollback counts NULLs and SET NOT NULL scans the table);
 * - copy drop_column: users.bio with users published (one of the reasons drop_column still
 *   copies): LOCK ... IN SHARE MODE, CREATE TABLE AS, checksum, DROP COLUMN forward; ADD
 *   COLUMN and one table rewrite from the keyed snapshot back;
 * - retire drop_table: events, moved into godwit_retired and back;
 * - copy drop_table, as it was before retirement: the whole table copied under SHARE, then
 *   DROP TABLE; back by CREATE TABLE, INSERT ... SELECT and the primary key.
 *
 * Environment: BENCH_ROWS (1000000), BENCH_RUNS (3), DATABASE_URL (admin connection, default
 * postgres://postgres@127.0.0.1:5432/postgres), BENCH_NO_README=1 (print only).
 */
import { cpus, loadavg } from 'node:os';
import { createActivities } from '../activities';
import { ensureControlSchema } from '../src/db/control-schema';
import { introspectSchema } from '../src/db/introspect';
import { acquireLease } from '../src/db/lease';
import { TargetPools } from '../src/db/pool';
import { takeSnapshots } from '../src/db/snapshots';
import { parseManifest } from '../src/manifest';
import { loadSqlParser, planManifest } from '../src/operations';
import type { PlannedStep } from '../src/operations/types';
import type { StepInput } from '../src/contract/migration';
import { writeReadmeSection } from './lib/readme';
import { fmtMs, max, median } from './lib/stats';
import { connected } from './lib/db';

const int = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
const ROWS = int(process.env.BENCH_ROWS, 1_000_000);
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 3));
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'godwit_bench_retire';
const url = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${DB}`;
  return u.toString();
})();

const SEED = `
  create table users (id bigint primary key, email text not null, name text not null, bio text, score int not null default 0);
  insert into users select g, 'user' || g || '@example.com', 'user ' || g, case when g % 10 = 0 then null else repeat('bio ' || g || ' ', 8) end, 0
    from generate_series(1, ${ROWS}) g;
  create table events (id bigint primary key, kind text not null, payload jsonb, at timestamptz not null);
  create index events_at_idx on events (at);
  insert into events select g, 'kind' || (g % 20), jsonb_build_object('n', g, 'tag', 'e' || g), '2026-01-01'::timestamptz + g * interval '1 s'
    from generate_series(1, ${ROWS}) g;`;

const withClient = connected;

/** The application: single-row updates of `table` in a loop; the longest wait of one statement is the lock it met. */
function startWriter(table: string): { stop(): Promise<number> } {
  let running = true;
  let slowest = 0;
  const done = withClient(url, async (c) => {
    for (let i = 0; running; i++) {
      const t0 = performance.now();
      // A statement that met the table gone (retired) fails at once; only waits count.
      await c.query(`update ${table} set ${table === 'users' ? 'score = score + 1' : "kind = kind"} where id = $1`, [1 + ((i * 7919) % ROWS)]).catch(() => undefined);
      slowest = Math.max(slowest, performance.now() - t0);
    }
  });
  return {
    async stop() {
      running = false;
      await done;
      return slowest;
    },
  };
}

let runSeq = 0;
async function stepInput(step: PlannedStep): Promise<StepInput> {
  const runId = `bench-retire-${process.pid}-${++runSeq}`;
  const token = await withClient(url, async (c) => {
    await ensureControlSchema(c);
    await c.query('delete from godwit.leases');
    return (await acquireLease(c, 'bench', `wf-${runId}`)).token;
  });
  return { target: 'bench', migrationId: `bench_${runSeq}`, workflowId: `wf-${runId}`, runId, token, step, policy: { approval: 'auto', bake_seconds: 0, lock_timeout: '60s', statement_timeout: '0' }, audit: [] };
}

async function planOne(operation: string): Promise<PlannedStep> {
  const loaded = parseManifest(`id: bench\noperations:\n  - ${operation}\n`, 'bench.yaml');
  // Planning against a catalog reads its index and constraint definitions with the parser.
  await loadSqlParser();
  const [step] = await withClient(url, async (c) => planManifest(loaded.manifest, await introspectSchema(c)));
  return step!;
}

interface Timing {
  stepMs: number;
  blockedMs: number;
}

/** Runs `fn` while the application writes `table`; returns fn's time and the longest wait the application saw. */
async function timed(table: string, fn: () => Promise<unknown>): Promise<Timing> {
  const writer = startWriter(table);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await fn();
    const stepMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 300));
    return { stepMs, blockedMs: await writer.stop() };
  } finally {
    await writer.stop();
  }
}

type Acts = ReturnType<typeof createActivities>;

interface Scenario {
  key: string;
  label: string;
  table: string;
  /** Runs forward then back, timing each. */
  run(acts: Acts): Promise<{ forward: Timing; back: Timing }>;
}

/** A planned step, forward then its compensation, through the step activities. */
function viaActivities(operation: string, check?: (step: PlannedStep) => void) {
  return async (acts: Acts, table: string) => {
    const step = await planOne(operation);
    check?.(step);
    const input = await stepInput(step);
    const forward = await timed(table, () => acts.runStep(input));
    const back = await timed(table, () => acts.compensateStep(input));
    return { forward, back };
  };
}

const retires = (step: PlannedStep) => {
  if (step.retire === undefined) throw new Error(`${step.summary} does not retire: ${step.lint.map((l) => l.message).join('; ')}`);
};
const copies = (step: PlannedStep) => {
  if (step.snapshots === undefined) throw new Error(`${step.summary} does not copy`);
};

const scenarios: Scenario[] = [
  {
    key: 'retire_column',
    label: 'drop_column users.bio, retired (rename)',
    table: 'users',
    run: (acts) => viaActivities('drop_column: { table: users, column: bio }', retires)(acts, 'users'),
  },
  {
    key: 'retire_not_null',
    label: 'drop_column users.name (NOT NULL, no default), retired; back: count NULLs, SET NOT NULL',
    table: 'users',
    run: (acts) => viaActivities('drop_column: { table: users, column: name }', retires)(acts, 'users'),
  },
  {
    key: 'copy_column',
    label: 'drop_column users.bio, copied (users published); back: ADD COLUMN and one rewrite',
    table: 'users',
    async run(acts) {
      await withClient(url, (c) => c.query('create publication bench_copy for table users'));
      try {
        return await viaActivities('drop_column: { table: users, column: bio }', copies)(acts, 'users');
      } finally {
        await withClient(url, (c) => c.query('drop publication bench_copy'));
      }
    },
  },
  {
    key: 'retire_table',
    label: 'drop_table events, retired (renamed into godwit_retired)',
    table: 'events',
    run: (acts) => viaActivities('drop_table: { table: events }', retires)(acts, 'events'),
  },
  {
    key: 'copy_table',
    label: 'drop_table events as before retirement: copy under SHARE, DROP TABLE; back: CREATE TABLE, INSERT, keys',
    table: 'events',
    async run() {
      const scope = { migrationId: 'bench', runId: `bench-copy-${++runSeq}`, stepId: '1-drop_table' };
      let snapshot = '';
      const forward = await timed('events', () =>
        withClient(url, async (c) => {
          await c.query('begin');
          snapshot = (await takeSnapshots(c, scope, [{ kind: 'table', schema: 'public', table: 'events' }]))[0] ?? '';
          await c.query('drop table events');
          await c.query('commit');
        }),
      );
      const back = await timed('events', () =>
        withClient(url, async (c) => {
          await c.query('begin');
          await c.query(`create table events (id bigint not null, kind text not null, payload jsonb, at timestamptz not null)`);
          await c.query(`insert into events select * from godwit_snapshots."${snapshot}"`);
          await c.query('create index events_at_idx on events (at)');
          await c.query('alter table events add primary key (id)');
          await c.query('commit');
          await c.query(`drop table godwit_snapshots."${snapshot}"`);
          await c.query('delete from godwit.snapshots where snapshot_table = $1', [snapshot]);
        }),
      );
      return { forward, back };
    },
  },
];

async function main(): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  await withClient(ADMIN_URL, async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`create database ${DB}`);
  });
  out(`seeding ${ROWS} rows into users and events...`);
  await withClient(url, async (c) => {
    await c.query(SEED);
    await c.query('vacuum (analyze, freeze) users, events');
  });
  const pools = new TargetPools(() => url);
  const acts = createActivities({ pools });
  const samples = new Map(scenarios.map((s) => [s.key, { forward: [] as Timing[], back: [] as Timing[] }]));
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const s of scenarios) {
        const { forward, back } = await s.run(acts);
        samples.get(s.key)!.forward.push(forward);
        samples.get(s.key)!.back.push(back);
        out(`run ${run + 1}/${RUNS} ${s.key}: forward ${fmtMs(forward.stepMs)} (writes blocked ${fmtMs(forward.blockedMs)}), back ${fmtMs(back.stepMs)} (writes blocked ${fmtMs(back.blockedMs)})`);
      }
    }
  } finally {
    await pools.close();
    await withClient(ADMIN_URL, (c) => c.query(`drop database if exists ${DB} with (force)`));
  }

  const cell = (ts: Timing[], k: keyof Timing) => fmtMs(median(ts.map((t) => t[k])));
  const worst = (ts: Timing[]) => fmtMs(max(ts.map((t) => t.blockedMs)));
  const lines = [
    `Medians of ${RUNS} runs on ${ROWS.toLocaleString('en-US')}-row tables (${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)} at the end). "Writes blocked" is the ` +
      'longest one application update of the table waited (worst run in brackets). While a dropped table is gone (before its rollback commits), ' +
      "the application's statements on it fail at once rather than wait, so for drop_table the rollback's step time is what counts.",
    '',
    '| step | forward: step | forward: writes blocked | rollback: step | rollback: writes blocked |',
    '|---|---:|---:|---:|---:|',
    ...scenarios.map((s) => {
      const { forward, back } = samples.get(s.key)!;
      return `| ${s.label} | ${cell(forward, 'stepMs')} | ${cell(forward, 'blockedMs')} (${worst(forward)}) | ${cell(back, 'stepMs')} | ${cell(back, 'blockedMs')} (${worst(back)}) |`;
    }),
  ];
  out();
  for (const l of lines) out(l);
  if (process.env.BENCH_NO_README !== '1') {
    writeReadmeSection({ marker: 'retire', command: 'npm run bench:retire', source: 'bench/retire.ts', heading: 'Retiring instead of copying: how long writes wait', body: lines.join('\n') });
  }
}

await main();
