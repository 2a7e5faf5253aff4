/**
 * A real Prometheus (Debian's package, /usr/bin/prometheus) of the test's own: a temporary
 * config scraping the given targets every second, storage in a temporary directory, a free
 * port. Never the system's service; `.ci/run` installs the package when it is missing. Tests
 * wait on what it answers, never on time: `until` polls a query until its result satisfies a
 * predicate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './probe-app';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const INSTALL = '`apt-get install prometheus` (.ci/run does)';

/**
 * Whether the Prometheus tests run: always in CI (a missing binary fails there), elsewhere
 * only with the binary, saying why they are skipped.
 */
export function prometheusAvailable(): boolean {
  if (existsSync(PROMETHEUS_BIN) || process.env.CI) return true;
  console.warn(`skipping the Prometheus tests: ${PROMETHEUS_BIN} is missing; install it with ${INSTALL}`);
  return false;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TestPrometheus {
  url: string;
  /** An instant query's result vector. */
  query(promql: string): Promise<Sample[]>;
  /** Polls `promql` until `ok` holds for its result (or `timeoutMs`, with the last result in the error). */
  until(promql: string, ok: (samples: Sample[]) => boolean, timeoutMs?: number): Promise<Sample[]>;
  /** Polls `promql` until its first sample's value satisfies `accept`; resolves to that value. */
  waitFor(promql: string, accept: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts Prometheus scraping `targets` (host:port) as job `job`; resolves once every target has been scraped up. */
export async function startPrometheus(targets: string | string[], job = 'app'): Promise<TestPrometheus> {
  const list = typeof targets === 'string' ? [targets] : targets;
  const dir = mkdtempSync(join(tmpdir(), 'godwit-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', `  - job_name: ${job}`, '    static_configs:', `      - targets: [${list.map((t) => JSON.stringify(t)).join(', ')}]`, ''].join('\n'),
  );
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + String(d)).slice(-4000)));
  let failed: Error | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    // A missing binary (CI without the package) is an error event, not an exit.
    child.once('error', (err) => {
      failed = err;
      resolve();
    });
  });
  const stop = async () => {
    if (failed === null && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  /** Throws when the process is gone: polling a dead server would only time out. */
  const alive = () => {
    if (failed !== null) throw new Error(`cannot start ${PROMETHEUS_BIN}: ${(failed as Error).message}; install it with ${INSTALL}`);
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
  };

  async function query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error ?? res.status}`);
    return body.data!.result;
  }
  async function until(promql: string, ok: (samples: Sample[]) => boolean, timeoutMs = 90_000): Promise<Sample[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      alive();
      // Not ready yet (connection refused, 503) counts as "not yet", like an unsatisfying result.
      const last = await query(promql).catch((err: unknown) => (err as Error).message);
      if (typeof last !== 'string' && ok(last)) return last;
      if (Date.now() > deadline) throw new Error(`${promql} never satisfied the test; last result: ${JSON.stringify(last)}\n${log}`);
      await sleep(250);
    }
  }
  async function waitFor(promql: string, accept: (value: number) => boolean, timeoutMs = 60_000): Promise<number> {
    const [first] = await until(promql, (s) => s.length > 0 && accept(Number(s[0]!.value[1])), timeoutMs);
    return Number(first!.value[1]);
  }

  try {
    // Up, and every target scraped at least once.
    await until(`up{job="${job}"} == 1`, (s) => s.length === list.length);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, query, until, waitFor, stop };
}
