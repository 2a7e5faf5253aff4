/**
 * `godwit worker --metrics [host]:port`: one Prometheus endpoint for the worker. It serves
 * Godwit's own metrics (registry.ts) followed by the Temporal SDK's worker metrics, which the
 * SDK's runtime telemetry exports on a port of its own (bound to 127.0.0.1 on a free port, see
 * sdkMetricsAddress): each scrape fetches that endpoint and appends its text, so a Prometheus
 * scrapes one target per worker and the two sets of names (godwit_*, temporal_*) never meet.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTE } from '../contract/migration';
import { countWaitingWith, metrics, registry } from './registry';
import { GodwitError } from '../errors';

/** Thrown when `--metrics` is not a [host]:port. */
export class MetricsAddressError extends GodwitError {
  override readonly name = 'MetricsAddressError';
}

/** `:9464` (every interface), `127.0.0.1:9464`, `[::1]:9464` or `9464`. */
export function parseMetricsAddress(value: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new MetricsAddressError(`--metrics expects [host]:port, e.g. --metrics :9464 or --metrics 127.0.0.1:9464; got '${value}'`);
  }
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** A free port on 127.0.0.1 for the SDK's own exporter (asked of the OS, then let go). */
export async function sdkMetricsAddress(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

/** States in which a run waits for a person. */
const WAITING_STATES = ['awaiting_approval', 'rollback_failed'] as const;

/** How long a scrape waits for the visibility counts and the SDK's metrics. */
const SCRAPE_DEADLINE_MS = 3_000;

/**
 * Runs waiting for a person, counted in Temporal's visibility store when Prometheus scrapes:
 * every worker of a fleet reports the same numbers, and a worker that restarts does not forget
 * a run parked for days. A count that fails keeps the last value.
 */
function countWaitingRuns(client: Client): void {
  countWaitingWith(async () => {
    await Promise.all(
      WAITING_STATES.map(async (state) => {
        const query = `ExecutionStatus="Running" AND ${SEARCH_ATTRIBUTE.state}="${state}"`;
        try {
          const { count } = await client.connection.withDeadline(Date.now() + SCRAPE_DEADLINE_MS, () => client.workflow.count(query));
          metrics.waiting.set({ state }, count);
        } catch {
          // Temporal did not answer in time: the previous count stands
        }
      }),
    );
  });
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves /metrics on `address`; `sdk` is where the SDK's runtime exports its own. */
export async function serveMetrics(address: { host: string; port: number }, opts: { client: Client; sdk: string | null }): Promise<MetricsServer> {
  countWaitingRuns(opts.client);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || !req.url?.startsWith('/metrics')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: Prometheus metrics are at /metrics\n');
      return;
    }
    void (async () => {
      try {
        const own = await registry.metrics();
        const sdk = opts.sdk ? await fetchSdk(opts.sdk) : '';
        res.writeHead(200, { 'content-type': registry.contentType }).end(`${own}\n${sdk}`);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(address.port, address.host, resolve));
  const bound = server.address() as { port: number };
  const host = address.host === '0.0.0.0' || address.host === '::' ? '127.0.0.1' : address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${bound.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The SDK's metrics text, or a comment saying why it is missing (the scrape still succeeds). */
async function fetchSdk(address: string): Promise<string> {
  try {
    const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(SCRAPE_DEADLINE_MS) });
    if (!res.ok) return `# Temporal SDK metrics unavailable: HTTP ${res.status}\n`;
    return await res.text();
  } catch (err) {
    return `# Temporal SDK metrics unavailable: ${(err as Error).message}\n`;
  }
}
