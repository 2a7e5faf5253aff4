/**
 * Splitting this machine's CPUs between Godwit and the database (BENCH_SPLIT_CPUS=1 in the
 * benches that run an application): Godwit's processes (the bench with its worker, the Temporal
 * server, the CLI; whatever the bench process starts after the split inherits it) on the first
 * half, Postgres and pgbench on the other. Linux, root, and the Postgres server on this machine.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import pg from 'pg';

export interface CpuSplit {
  godwit: string;
  database: string;
  /** Each Postgres process's affinity before the split, to put back afterwards. */
  restore: Map<number, string>;
}

function taskset(args: string[]): string {
  return execFileSync('taskset', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The pids of the local Postgres server's processes (the postmaster first: backends fork from it and inherit its affinity). */
function postgresPids(): number[] {
  const out = execFileSync('ps', ['-C', 'postgres', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const rows = out.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const pids = new Set(rows.map(([pid]) => pid));
  return [...rows.filter(([, ppid]) => !pids.has(ppid)), ...rows.filter(([, ppid]) => pids.has(ppid))].map(([pid]) => pid);
}

/** The pids of every process below `root`. */
function descendants(root: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number) as [number, number];
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * BENCH_SPLIT_CPUS as the benches read it: `1` splits the CPUs, `spare` also gives the
 * migration's backends the first half (spareCore); anything else, no split. `text` heads the figures.
 */
export function splitModeFromEnv(): { mode: 'split' | 'spare' | null; text: string } {
  const v = process.env.BENCH_SPLIT_CPUS;
  if (v === 'spare') {
    return {
      mode: 'spare',
      text: "CPUs split, with a core to spare: Godwit and the other tools on one half, Postgres and pgbench on the other, the migration's own backends (every client backend but pgbench's) moved to the first half",
    };
  }
  return { mode: v === '1' ? 'split' : null, text: 'CPUs split: Godwit and the other tools on one half, Postgres and pgbench on the other' };
}

/**
 * Refuses to measure when the local Postgres is already held to fewer CPUs than the machine has
 * (a split or an experiment that was not undone): its backends would run on those alone, and a
 * speed figure, two lanes against one above all, would say nothing. No-op without a local server.
 */
export function assertPostgresOnAllCpus(): void {
  const [postmaster] = postgresPids();
  if (postmaster === undefined) return;
  const all = cpus().length;
  const list = /: (\S+)$/.exec(taskset(['-p', '-c', String(postmaster)]))?.[1] ?? '';
  const count = list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
  if (count < all) {
    throw new Error(
      `the local Postgres (postmaster ${postmaster}) may run on CPUs ${list} only, of ${all}; put it back first: ` +
        `for p in $(pgrep -x postgres); do taskset -a -p -c 0-${all - 1} $p; done`,
    );
  }
}

export function splitCpus(): CpuSplit {
  const n = cpus().length;
  if (n < 2) throw new Error('BENCH_SPLIT_CPUS=1 needs at least 2 CPUs');
  const half = Math.floor(n / 2);
  const range = (a: number, b: number) => (a === b ? String(a) : `${a}-${b}`);
  const split: CpuSplit = { godwit: range(0, half - 1), database: range(half, n - 1), restore: new Map() };
  const pids = postgresPids();
  if (pids.length === 0) throw new Error('BENCH_SPLIT_CPUS=1: no local postgres process found (ps -C postgres); the split needs the server on this machine');
  for (const pid of pids) {
    const before = /: (\S+)$/.exec(taskset(['-p', '-c', String(pid)]))?.[1];
    if (before) split.restore.set(pid, before);
    taskset(['-a', '-p', '-c', split.database, String(pid)]);
  }
  // This process and what it has started so far (a dev server started before the split);
  // what it starts later inherits the affinity.
  for (const pid of [process.pid, ...descendants(process.pid)]) {
    try {
      taskset(['-a', '-p', '-c', split.godwit, String(pid)]);
    } catch {
      // exited meanwhile
    }
  }
  return split;
}

/** Gives the Postgres processes their CPUs back (the postmaster's affinity is what new backends get). */
export function unsplitCpus(split: CpuSplit): void {
  for (const [pid, cpuList] of split.restore) {
    try {
      taskset(['-a', '-p', '-c', cpuList, String(pid)]);
    } catch {
      // a backend that has exited meanwhile
    }
  }
}

/**
 * BENCH_SPLIT_CPUS=spare: on top of the split, every client backend that is not the
 * application's (pgbench's, and their parallel workers) is moved to Godwit's CPUs as soon as it
 * is seen: the migration's own queries (Godwit's connections, psql's UPDATE, pgroll's) then run on
 * a core the application does not use, as on a database server with a core to spare, while the
 * application, its backends and Postgres's background processes (WAL writer, checkpointer) keep
 * the database's CPUs. What the migration still costs the application is what it does apart
 * from taking a CPU: its row locks, its WAL and I/O, its lock waits.
 *
 * Polls pg_stat_activity every `everyMs` through a connection of its own (moved too); a backend
 * runs on the database's CPUs for at most that long before it is moved. Returns a stop function.
 */
export async function spareCore(split: CpuSplit, url: string, everyMs = 50): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-spare-core' });
  await client.connect();
  // The backends seen by the last sweep: each is moved once, when it first shows (a pid the
  // system hands out again later is a new backend, and is moved again).
  let moved = new Set<number>();
  let stopped = false;
  const sweep = async () => {
    const { rows } = await client.query<{ pid: number }>(
      `select a.pid from pg_stat_activity a left join pg_stat_activity l on l.pid = a.leader_pid
        where a.backend_type in ('client backend', 'parallel worker')
          and coalesce(l.application_name, a.application_name) is distinct from 'pgbench'`,
    );
    for (const { pid } of rows) {
      if (moved.has(pid)) continue;
      try {
        taskset(['-p', '-c', split.godwit, String(pid)]);
      } catch {
        // ended meanwhile
      }
    }
    moved = new Set(rows.map((r) => r.pid));
  };
  const loop = (async () => {
    while (!stopped) {
      await sweep().catch(() => undefined);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    await client.end().catch(() => undefined);
  };
}
