import { createServer } from 'node:http';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveMetrics, type MetricsServer } from '../../src/metrics/server';

// The endpoint alone: Godwit's registry followed by the SDK's text, fetched per scrape. The
// visibility counts come from a stand-in here; test/browser/ui.test.ts runs it all for real.
const sdk = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('# TYPE temporal_worker_start counter\ntemporal_worker_start 1\n'));
let server: MetricsServer;
let broken: MetricsServer;
const queries: string[] = [];
const client = { connection: { withDeadline: (_d: number, fn: () => unknown) => fn() }, workflow: { count: async (q: string) => (queries.push(q), { count: q.includes('rollback_failed') ? 2 : 1 }) } } as unknown as Client;

beforeAll(async () => {
  await new Promise<void>((resolve) => sdk.listen(0, '127.0.0.1', resolve));
  server = await serveMetrics({ host: '127.0.0.1', port: 0 }, { client, sdk: `127.0.0.1:${(sdk.address() as { port: number }).port}` });
  broken = await serveMetrics({ host: '127.0.0.1', port: 0 }, { client, sdk: '127.0.0.1:9' });
});

afterAll(async () => {
  await server?.close();
  await broken?.close();
  await new Promise((resolve) => sdk.close(resolve));
});

describe('the metrics endpoint', () => {
  it("serves Godwit's metrics, then the SDK's", async () => {
    const text = await (await fetch(server.url)).text();
    expect(text).toMatch(/^# HELP godwit_migrations_ended_total /m);
    expect(text.indexOf('godwit_migrations_ended_total')).toBeLessThan(text.indexOf('temporal_worker_start 1'));
  });

  it('counts the runs waiting for a person in the visibility store at scrape time', async () => {
    const text = await (await fetch(server.url)).text();
    expect(text).toContain('godwit_runs_waiting_for_person{state="awaiting_approval"} 1');
    expect(text).toContain('godwit_runs_waiting_for_person{state="rollback_failed"} 2');
    expect(queries).toContain('ExecutionStatus="Running" AND GodwitState="rollback_failed"');
  });

  it("still answers when the SDK's endpoint does not, saying so", async () => {
    const res = await fetch(broken.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^# Temporal SDK metrics unavailable: /m);
  });

  it('answers anything but /metrics with 404', async () => {
    expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
  });
});
