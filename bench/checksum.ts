/**
 * `npm run bench:checksum`: what Godwit's proof of a rollback costs on a 1M-row users table.
 *
 * - Data checksum (src/db/checksum.ts) against reading the table in other ways, in the same
 *   run: `COPY users TO '/dev/null'` (server side), `pg_dump -t users` to /dev/null, and two
 *   row-text hashes (the issue's `sum(hashtextextended(u::text, 0))` and a row of the columns
 *   sorted by name), plus the checksum serial and in resumable chunks.
 * - Snapshot of one column (`CREATE TABLE godwit_snapshots.x AS SELECT id, email FROM users`,
 *   the statement Godwit's snapshot runs, after the same SHARE lock) against a plain
 *   `CREATE TABLE AS SELECT`, and the snapshot with the checksum of the copy Godwit records.
 *
 * Every contender runs once per round, the order rotated each round, so a burst of load on a
 * shared machine lands on all of them alike. Prints a table and rewrites this benchmark's
 * section of bench/README.md (between the bench:checksum markers; nothing else is touched).
 *
 * Environment: BENCH_RUNS (7), BENCH_WARMUP (1), BENCH_ROWS (1000000), DATABASE_URL (admin
 * connection, default postgres://postgres@127.0.0.1:5432/postgres), BENCH_KEEP_DB=1 (keep the
 * database afterwards and reuse it next time), BENCH_NO_README=1 (print only).
 */
import { writeReadmeSection } from './lib/readme';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { checksumQuery, PINNED_SETTINGS, tableChecksum, type TableChecksum } from '../src/db/checksum';

// Its runs fail steps on purpose through `faults`, which a worker runs only when told it is a test one.
process.env.GODWIT_ALLOW_FAULTS ??= '1';

const README = fileURLToPath(new URL('README.md', import.meta.url));
const int = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 7));
const WARMUP = int(process.env.BENCH_WARMUP, 1);
const ROWS = Math.max(1, int(process.env.BENCH_ROWS, 1_000_000));
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'godwit_bench_checksum';
const CHUNK_ROWS = 100_000;

const out = (line = '') => process.stdout.write(`${line}\n`);

function dbUrl(): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DB}`;
  return url.toString();
}

// Shaped like a users table: ~230 bytes a row, a NULL bio in every tenth row.
const USERS_DDL = [
  `create table users (
     id bigint generated always as identity primary key,
     email text not null,
     name text not null,
     bio text,
     created_at timestamptz not null,
     prefs jsonb not null,
     score int
   )`,
  `insert into users (email, name, bio, created_at, prefs, score)
   select 'user' || g || '@example.com',
          'User ' || initcap(substr(md5(g::text), 1, 8)),
          case when g % 10 = 0 then null else repeat(md5(g::text || 'bio'), 3) || substr(md5(g::text), 1, 4) end,
          timestamptz '2020-01-01 00:00:00+00' + g * interval '37 seconds',
          jsonb_build_object('theme', (array['dark', 'light', 'auto'])[g % 3 + 1], 'lang', 'en', 'notify', g % 2 = 0),
          (g::bigint * 7919) % 1000
     from generate_series(1, ${ROWS}) g`,
  'vacuum analyze users',
  'create schema if not exists godwit_snapshots',
];

/** Creates the bench database with its users table, or reuses it (BENCH_KEEP_DB=1) when it has ROWS rows. */
async function setup(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [DB])).rowCount === 1;
    if (exists && process.env.BENCH_KEEP_DB === '1') {
      const db = new pg.Client({ connectionString: dbUrl() });
      await db.connect();
      try {
        const { rows } = await db.query<{ n: string | null }>(`select (select count(*) from users)::text as n`).catch(() => ({ rows: [{ n: null }] }));
        if (rows[0]?.n === String(ROWS)) return;
      } finally {
        await db.end();
      }
    }
    await admin.query(`drop database if exists ${DB} with (force)`);
    await admin.query(`create database ${DB}`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ connectionString: dbUrl() });
  await db.connect();
  try {
    for (const statement of USERS_DDL) await db.query(statement);
  } finally {
    await db.end();
  }
}

async function dropDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${DB} with (force)`);
  } finally {
    await admin.end();
  }
}

interface Contender {
  key: string;
  label: string;
  group: 'read' | 'snapshot';
  /** Outside the timing: make the run repeatable (drop the previous copy). */
  reset?: () => Promise<void>;
  /** The timed work; returns something to check it did the work. */
  run: () => Promise<string>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmtS = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');
const fmtX = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '—');

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  out(`Godwit checksum benchmark: ${RUNS} timed rounds after ${WARMUP} warm-up, users with ${ROWS.toLocaleString('en')} rows`);
  await setup();
  const db = new pg.Client({ connectionString: dbUrl() });
  await db.connect();
  try {
    const info = await facts(db);
    out(`table users: ${info.size} (heap ${info.heap}), ${info.settings}`);

    const ck = (opts: Parameters<typeof tableChecksum>[3] = {}) => async () => {
      const r: TableChecksum = await tableChecksum(db, 'public', 'users', opts);
      return `${r.rows} ${r.checksum}`;
    };
    const sorted = ['bio', 'created_at', 'email', 'id', 'name', 'prefs', 'score'].map((c) => `u.${c}`).join(', ');
    const q = (sql: string) => async () => JSON.stringify((await db.query(sql)).rows[0] ?? null);
    const snapshotSql = 'create table godwit_snapshots.bench_snap as select id, email from users';
    const dropCopies = async () => {
      await db.query('drop table if exists public.bench_ctas');
      await db.query('drop table if exists godwit_snapshots.bench_snap');
    };
    // Godwit's snapshot: in the step's transaction, after locking the source against writes.
    const snapshot = (withChecksum: boolean) => async () => {
      await db.query('begin');
      try {
        await db.query('lock table users in share mode');
        const r = await db.query(snapshotSql);
        const sum = withChecksum ? await tableChecksum(db, 'godwit_snapshots', 'bench_snap') : null;
        await db.query('commit');
        return `${r.rowCount} ${sum?.checksum ?? ''}`;
      } catch (err) {
        await db.query('rollback');
        throw err;
      }
    };

    const contenders: Contender[] = [
      { key: 'checksum', label: 'Godwit `tableChecksum` (one parallel pass)', group: 'read', run: ck() },
      { key: 'copy', label: "`COPY users TO '/dev/null'` (server side)", group: 'read', run: q(`copy users to '/dev/null'`) },
      { key: 'pg_dump', label: '`pg_dump -t users -f /dev/null` (whole process)', group: 'read', run: async () => pgDump() },
      { key: 'checksum_chunked', label: `Godwit \`tableChecksum\`, resumable chunks of ${CHUNK_ROWS.toLocaleString('en')} rows`, group: 'read', run: ck({ chunkRows: CHUNK_ROWS }) },
      {
        key: 'checksum_serial',
        label: 'Godwit `tableChecksum`, no parallel workers',
        group: 'read',
        run: async () => {
          await db.query('set max_parallel_workers_per_gather = 0');
          try {
            return await ck()();
          } finally {
            await db.query('reset max_parallel_workers_per_gather');
          }
        },
      },
      { key: 'wholerow', label: '`sum(hashtextextended(u::text, 0))` (the issue\'s reference, column order dependent)', group: 'read', run: q(`select count(*), sum(hashtextextended(u::text, 0)) from users u`) },
      { key: 'rowtext', label: '`sum(hashtextextended(row(<columns by name>)::text, 0))`', group: 'read', run: q(`select count(*), sum(hashtextextended(row(${sorted})::text, 0)) from users u`) },
      { key: 'ctas', label: '`CREATE TABLE AS SELECT id, email FROM users`', group: 'snapshot', reset: dropCopies, run: async () => String((await db.query('create table public.bench_ctas as select id, email from users')).rowCount) },
      { key: 'snapshot', label: 'Godwit snapshot: SHARE lock + `CREATE TABLE godwit_snapshots.x AS SELECT id, email FROM users`', group: 'snapshot', reset: dropCopies, run: snapshot(false) },
      { key: 'snapshot_checksum', label: 'Godwit snapshot + `tableChecksum` of the copy', group: 'snapshot', reset: dropCopies, run: snapshot(true) },
    ];

    const samples = new Map<string, number[]>(contenders.map((c) => [c.key, []]));
    const results = new Map<string, string>();
    for (let round = 0; round < WARMUP + RUNS; round++) {
      const warm = round < WARMUP;
      process.stdout.write(`${warm ? 'warm-up' : 'round'} ${warm ? round + 1 : round - WARMUP + 1}/${warm ? WARMUP : RUNS} `);
      for (let i = 0; i < contenders.length; i++) {
        const c = contenders[(i + round) % contenders.length]!;
        await c.reset?.();
        const t0 = performance.now();
        const result = await c.run();
        const ms = performance.now() - t0;
        const previous = results.get(c.key);
        if (previous !== undefined && previous !== result) throw new Error(`${c.key} gave ${result}, earlier ${previous}`);
        results.set(c.key, result);
        if (!warm) samples.get(c.key)!.push(ms);
        process.stdout.write('.');
      }
      out();
    }
    await dropCopies();
    // The three ways of running the checksum must agree, or the speed of one means nothing.
    const sums = ['checksum', 'checksum_chunked', 'checksum_serial'].map((k) => results.get(k));
    if (new Set(sums).size !== 1) throw new Error(`checksums disagree: ${sums.join(' / ')}`);
    const load1 = loadavg();

    const med = (key: string) => median(samples.get(key)!);
    // Per round, the two ran within seconds of each other: the median of those ratios is less
    // swayed by load that drifts over the run than the ratio of the medians.
    const paired = (a: string, b: string) => median(samples.get(a)!.map((ms, i) => ms / samples.get(b)![i]!));
    const lines: string[] = [];
    const L = (s = '') => lines.push(s);
    for (const group of ['read', 'snapshot'] as const) {
      const base = group === 'read' ? 'copy' : 'ctas';
      const name = group === 'read' ? 'COPY' : 'CREATE TABLE AS';
      L(`| ${group === 'read' ? 'reading users' : 'snapshot of id, email'} | median | min | max | ÷ ${name} (medians) | ÷ ${name} (median of per-round ratios) |`);
      L('|---|---:|---:|---:|---:|---:|');
      for (const c of contenders.filter((x) => x.group === group)) {
        const xs = samples.get(c.key)!;
        L(`| ${c.label} | ${fmtS(med(c.key))} | ${fmtS(Math.min(...xs))} | ${fmtS(Math.max(...xs))} | ${fmtX(med(c.key) / med(base))} | ${fmtX(paired(c.key, base))} |`);
      }
      L();
    }
    const verdict = (label: string, a: string, b: string, target?: number) => {
      const [ofMedians, perRound] = [med(a) / med(b), paired(a, b)];
      const met = target === undefined ? '' : ofMedians <= target && perRound <= target ? 'met' : ofMedians <= target || perRound <= target ? 'met by one measure' : '**missed**';
      L(`| ${label} | ${fmtX(ofMedians)} | ${fmtX(perRound)} | ${target === undefined ? '(no target)' : `≤ ${fmtX(target)}`} | ${met} |`);
    };
    L('| target | ratio of medians | median of per-round ratios | target | |');
    L('|---|---:|---:|---:|---|');
    verdict('checksum ÷ COPY to /dev/null', 'checksum', 'copy', 1);
    verdict('checksum ÷ pg_dump', 'checksum', 'pg_dump', 1);
    verdict('snapshot ÷ CREATE TABLE AS', 'snapshot', 'ctas', 1.1);
    verdict('snapshot + checksum of the copy ÷ CREATE TABLE AS', 'snapshot_checksum', 'ctas');
    verdict('resumable chunks ÷ COPY (tables over 1M rows, by default)', 'checksum_chunked', 'copy');
    const table = lines.join('\n');

    const plan = (await db.query(`explain (costs off) ${await checksumQuery(db, 'public', 'users')}`)).rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    const planHead = plan
      .split('\n')
      .filter((l) => !/^\s*(Output|Filter)/.test(l))
      .map((l) => (l.length > 100 ? `${l.slice(0, 97)}...` : l))
      .join('\n');
    const load = `load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end`;
    const meta =
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ` +
      `PostgreSQL ${info.version}, node ${process.version}; users: ${ROWS.toLocaleString('en')} rows, ${info.size} (heap ${info.heap}); ` +
      `${info.settings}; ${RUNS} rounds after ${WARMUP} warm-up, every contender once per round in rotated order; ${load}.`;

    out();
    out(meta);
    out();
    out(table);
    out();
    out(plan);
    out();
    out(`raw samples (ms): ${contenders.map((c) => `${c.key}=[${samples.get(c.key)!.map(Math.round).join(',')}]`).join(' ')}`);

    if (process.env.BENCH_NO_README !== '1') {
      const raw = contenders.map((c) => `- \`${c.key}\`: ${samples.get(c.key)!.map(Math.round).join(', ')}`).join('\n');
      writeReadmeSection({
        marker: 'checksum',
        command: 'npm run bench:checksum',
        source: 'bench/checksum.ts',
        heading: 'Data checksum and snapshots',
        body:
        `${meta}\n\n${table}\n\nThe checksum's plan (\`EXPLAIN\` of the one-pass statement, row expression cut):\n\n\`\`\`\n${planHead}\n\`\`\`\n\n` +
          `<details><summary>Raw samples (ms, in run order)</summary>\n\n${raw}\n\n</details>`,
      });
      out(`\nwrote the figures to ${README}`);
    }
  } finally {
    await db.end();
    if (process.env.BENCH_KEEP_DB !== '1') await dropDatabase();
  }
}

function pgDump(): string {
  const r = spawnSync('pg_dump', ['--dbname', dbUrl(), '--table', 'public.users', '--file', '/dev/null'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pg_dump failed (${r.status ?? r.signal}): ${r.stderr}`);
  return 'ok';
}

async function facts(db: pg.Client): Promise<{ size: string; heap: string; version: string; settings: string }> {
  const { rows } = await db.query(
    `select pg_size_pretty(pg_total_relation_size('users')) as size, pg_size_pretty(pg_relation_size('users')) as heap,
            current_setting('server_version') as version,
            current_setting('max_parallel_workers_per_gather') as workers, current_setting('jit') as jit,
            current_setting('shared_buffers') as shared_buffers`,
  );
  const r = rows[0];
  return {
    size: r.size,
    heap: r.heap,
    version: r.version,
    settings: `server defaults: max_parallel_workers_per_gather ${r.workers}, jit ${r.jit}, shared_buffers ${r.shared_buffers}; checksum settings pinned: ${PINNED_SETTINGS.map(([n, v]) => `${n}=${v}`).join(', ')}`,
  };
}

await main();
