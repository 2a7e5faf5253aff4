/**
 * A real Prometheus (Debian's /usr/bin/prometheus) of the test's own: a temporary config that
 * scrapes the given targets every second, a temporary TSDB, a free port. Tests wait on what it
 * answers (never on time): `until` polls a query until its result satisfies a predicate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Why a browser/Prometheus test cannot run here, or null. In CI a missing binary is a failure, not a skip. */
export function missingBinaries(): string | null {
  const missing = [PROMETHEUS_BIN, CHROMIUM_BIN].filter((b) => !existsSync(b));
  if (missing.length === 0) return null;
  const why = `${missing.join(' and ')} not installed (apt-get install -y chromium prometheus; .ci/run does it)`;
  if (process.env.CI) throw new Error(`CI must run the browser test: ${why}`);
  return why;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
  stop(): Promise<void>;
}

export async function startPrometheus(scrapeTargets: string[]): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: godwit-worker\n    static_configs:\n      - targets: [${scrapeTargets.map((t) => JSON.stringify(t)).join(', ')}]\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d) => (log = (log + String(d)).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    await sleep(200);
  }

  async function query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error ?? res.status}`);
    return body.data!.result;
  }
  return {
    url,
    query,
    async until(promql, ok, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      let last: Sample[] = [];
      while (Date.now() < deadline) {
        last = await query(promql);
        if (ok(last)) return last;
        await sleep(500);
      }
      throw new Error(`${promql} never satisfied the test; last result: ${JSON.stringify(last)}\n${log}`);
    },
    stop,
  };
}
