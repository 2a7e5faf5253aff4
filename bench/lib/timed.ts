import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Wall-clock time on the system clock, in ms with sub-ms precision (comparable with Temporal's event times on this machine). */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface TimedLine {
  /** ms since spawn when the chunk holding the line arrived. */
  at: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface TimedRun {
  /** Spawn to exit, ms. */
  ms: number;
  /** System-clock time of the spawn call, ms since the epoch. */
  spawnedAt: number;
  /**
   * CPU time (user + system) of the process and every descendant it waited for, ms, from
   * GNU time's rusage; NaN when /usr/bin/time is not there. Unlike the wall clock it
   * hardly moves with other load on the machine.
   */
  cpuMs: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: TimedLine[];
}

/** GNU time, which wraps each command to read its CPU time (it adds about a millisecond of wall clock, the same for every command). */
const TIME = process.env.BENCH_NO_CPU_TIME === '1' ? null : existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/**
 * Runs a command as a whole process and measures it from just before spawn() to its
 * 'exit' event: process creation, runtime boot, module loading, the work, and
 * teardown. Output is piped (not a TTY) so it costs the same for every tool, and
 * each line is stamped with when it arrived.
 */
export function timedSpawn(cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const rusage = TIME ? join(mkdtempSync(join(tmpdir(), 'godwit-bench-time-')), 'rusage') : null;
    const [file, argv] = TIME && rusage ? [TIME, ['-f', '%U %S', '-o', rusage, cmd, ...args]] : [cmd, [...args]];
    const spawnedAt = nowEpochMs();
    const t0 = performance.now();
    const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const lines: TimedLine[] = [];
    const partial = { stdout: '', stderr: '' };
    const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const at = performance.now() - t0;
      const text = chunk.toString();
      if (stream === 'stdout') stdout += text;
      else stderr += text;
      const parts = (partial[stream] + text).split('\n');
      partial[stream] = parts.pop() ?? '';
      for (const p of parts) lines.push({ at, stream, text: p });
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      // Output still in the pipes arrives before 'close'; the time is already taken.
      child.once('close', () => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (partial[stream]) lines.push({ at: ms, stream, text: partial[stream] });
        }
        let cpuMs = Number.NaN;
        if (rusage) {
          try {
            const [user = Number.NaN, sys = Number.NaN] = readFileSync(rusage, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
            cpuMs = (user + sys) * 1000;
          } catch {
            // no rusage written (killed): leave NaN
          }
          rmSync(join(rusage, '..'), { recursive: true, force: true });
        }
        resolve({ ms, spawnedAt, cpuMs, code, signal, stdout, stderr, lines });
      });
    });
  });
}
