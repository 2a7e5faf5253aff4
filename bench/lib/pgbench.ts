import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { nowEpochMs } from './timed';

/**
 * pgbench as the application of a benchmark: N clients running a custom script for a fixed
 * time, each transaction logged (`--log`), so the bench computes latencies itself and can lay
 * every transaction on the system clock next to a Temporal history.
 */

export interface PgbenchOptions {
  /** Admin-style connection URL; its host, port, user and password are used, the database is `db`. */
  url: string;
  db: string;
  clients: number;
  seconds: number;
  scriptFile: string;
  /** `-D name=value` variables for the script. */
  vars: Record<string, string | number>;
  /** An empty directory for this segment's per-transaction logs (created if missing). */
  logDir: string;
  pgbench?: string;
  /** Set pgbench's scheduling priority (nice value) once started. */
  priority?: number;
  /** Move pgbench into this cgroup (its cgroup.procs) once started. */
  cgroup?: string;
  /** Run pgbench on these CPUs only (a taskset list such as `1` or `2-3`). */
  cpus?: string;
}

/** One committed transaction from pgbench's per-transaction log. */
export interface Txn {
  client: number;
  /** When it ended, ms since the epoch (system clock, like Temporal's event times on this machine). */
  endMs: number;
  /** Its latency, ms: from when pgbench started it to its end. */
  latencyMs: number;
}

export interface PgbenchRun {
  /** System-clock time of the spawn call and of the exit, ms since the epoch. */
  spawnedAt: number;
  exitedAt: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Committed transactions, from the logs. */
  txns: Txn[];
  /** Transactions the log marks `failed` (serialization/deadlock errors) or `skipped`. */
  failed: number;
  /** pgbench's own count ("number of transactions actually processed"), NaN if it printed none. */
  reported: number;
  /** "client N aborted ..." lines: a client that hit an error stops for the rest of the run. */
  aborted: string[];
}

/** The pgbench command line for these options (connection from the URL, per-transaction logs). */
export function pgbenchArgs(o: PgbenchOptions): { args: string[]; env: NodeJS.ProcessEnv } {
  const url = new URL(o.url);
  const args = ['-n', '-c', String(o.clients), '-j', String(o.clients), '-T', String(o.seconds), '-f', o.scriptFile];
  for (const [k, v] of Object.entries(o.vars)) args.push('-D', `${k}=${v}`);
  args.push('--log', `--log-prefix=${join(o.logDir, 'tx')}`);
  args.push('-h', url.hostname || '127.0.0.1', '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres'), o.db);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  return { args, env };
}

/** Reads every per-transaction log in `dir` (one file per pgbench thread). */
export function readTxnLogs(dir: string): { txns: Txn[]; failed: number } {
  const txns: Txn[] = [];
  let failed = 0;
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('tx.')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      // client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
      const p = line.trim().split(/\s+/);
      if (p.length < 6) continue;
      if (p[2] === 'failed' || p[2] === 'skipped') {
        failed++;
        continue;
      }
      txns.push({ client: Number(p[0]), latencyMs: Number(p[2]) / 1000, endMs: Number(p[4]) * 1000 + Number(p[5]) / 1000 });
    }
  }
  return { txns, failed };
}

/** Starts pgbench; `done` resolves when it has exited and its logs are read. */
export function startPgbench(o: PgbenchOptions): { child: ChildProcess; done: Promise<PgbenchRun> } {
  mkdirSync(o.logDir, { recursive: true });
  const { args, env } = pgbenchArgs(o);
  const spawnedAt = nowEpochMs();
  const command = o.pgbench ?? 'pgbench';
  const child = o.cpus
    ? spawn('taskset', ['-c', o.cpus, command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // The application keeps the usual priority when the process that starts it runs deprioritized.
  if (o.priority !== undefined && child.pid !== undefined) setPriority(child.pid, o.priority);
  // ... and leaves a CPU-capped cgroup for the root one of that hierarchy.
  if (o.cgroup !== undefined && child.pid !== undefined) writeFileSync(join(o.cgroup, 'cgroup.procs'), String(child.pid));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<PgbenchRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const exitedAt = nowEpochMs();
      try {
        const { txns, failed } = readTxnLogs(o.logDir);
        const m = /number of transactions actually processed: (\d+)/.exec(stdout);
        const aborted = stderr.split('\n').filter((l) => /aborted/.test(l));
        resolve({ spawnedAt, exitedAt, code, stdout, stderr, txns, failed, reported: m ? Number(m[1]) : Number.NaN, aborted });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
  return { child, done };
}

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** p50 / p99 (nearest rank) and max of the transactions' latencies, ms; NaN when there are none. */
export function latencyStats(txns: readonly Txn[]): LatencyStats {
  const xs = txns.map((t) => t.latencyMs).sort((a, b) => a - b);
  const rank = (p: number) => xs[Math.min(xs.length, Math.max(1, Math.ceil((p / 100) * xs.length))) - 1] ?? Number.NaN;
  return { n: xs.length, p50: rank(50), p99: rank(99), max: xs.length ? xs[xs.length - 1]! : Number.NaN };
}

/** The transaction that waited longest, or null. */
export function slowest(txns: readonly Txn[]): Txn | null {
  let worst: Txn | null = null;
  for (const t of txns) if (!worst || t.latencyMs > worst.latencyMs) worst = t;
  return worst;
}
