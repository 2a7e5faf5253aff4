/**
 * A real Prometheus (Debian's package, /usr/bin/prometheus) of the test's own: a temporary
 * config scraping the test application every second, storage in a temporary directory, a free
 * port. Never the system's service. `.ci/run` installs the package when it is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './probe-app';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

/**
 * Whether the Prometheus tests run: always in CI (a missing binary fails there), elsewhere
 * only with the binary, saying why they are skipped.
 */
export function prometheusAvailable(): boolean {
  if (existsSync(PROMETHEUS_BIN) || process.env.CI) return true;
  console.warn(`skipping the Prometheus probe tests: ${PROMETHEUS_BIN} is missing; install it with \`apt-get install prometheus\` (.ci/run does)`);
  return false;
}

export interface TestPrometheus {
  url: string;
  /** Resolves once `query` returns a single value that satisfies `accept`. */
  waitFor(query: string, accept: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

async function instant(url: string, query: string): Promise<number | null> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  const v = body.data?.result?.[0]?.value[1];
  return v === undefined ? null : Number(v);
}

export async function startPrometheus(scrapeTarget: string): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: app', '    static_configs:', `      - targets: ['${scrapeTarget}']`, ''].join('\n'),
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

  const waitFor = async (query: string, accept: (value: number) => boolean, timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (failed !== null) throw new Error(`cannot start ${PROMETHEUS_BIN}: ${(failed as Error).message}; install it with \`apt-get install prometheus\` (.ci/run does)`);
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
      const v = await instant(url, query).catch(() => null);
      if (v !== null && accept(v)) return v;
      if (Date.now() > until) throw new Error(`prometheus never answered ${query} as expected (last: ${v}):\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  try {
    // Up, and the application scraped at least once.
    await waitFor('up{job="app"}', (v) => v === 1);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, waitFor, stop };
}
