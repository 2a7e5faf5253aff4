/**
 * The application the health probe tests watch: a small HTTP server with Prometheus metrics
 * (/metrics, text format), a JSON health endpoint (/health), one that turns unhealthy from a
 * given call on (/flaky), so a test can say which sample fails without timing, and endpoints
 * that are slow (/slow, 300 ms), not JSON (/text), failing (/broken, 503) or behind a bearer
 * token (/secure, `Bearer s3cret`).
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';

export interface ProbeApp {
  url: string;
  /** host:port, for Prometheus's scrape config. */
  address: string;
  /** Counts requests answered with a 5xx: raises the error ratio Prometheus sees. */
  raiseErrors(n: number): void;
  setHealth(status: string): void;
  /** /flaky answers { status: "degraded" } from this call on (1-based). */
  failFlakyFrom(call: number): void;
  close(): Promise<void>;
}

export async function startProbeApp(): Promise<ProbeApp> {
  const counts = { ok: 1000, errors: 0 };
  let health = 'ok';
  let flakyCalls = 0;
  let flakyFrom = Infinity;
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        [
          '# HELP app_requests_total Requests answered, by status code.',
          '# TYPE app_requests_total counter',
          `app_requests_total{code="200"} ${counts.ok}`,
          `app_requests_total{code="500"} ${counts.errors}`,
          '',
        ].join('\n'),
      );
      return;
    }
    if (req.url === '/health' || req.url === '/flaky') {
      const status = req.url === '/flaky' ? (++flakyCalls >= flakyFrom ? 'degraded' : 'ok') : health;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status, checks: { db: status === 'ok' } }));
      return;
    }
    if (req.url === '/slow') {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'), 300);
      return;
    }
    if (req.url === '/secure') {
      const ok = req.headers.authorization === 'Bearer s3cret';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unauthorized' }));
      return;
    }
    if (req.url === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('all good');
      return;
    }
    if (req.url === '/broken') {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"down"}');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    raiseErrors: (n) => void (counts.errors += n),
    setHealth: (s) => void (health = s),
    failFlakyFrom: (call) => void (flakyFrom = call),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on (bound, then closed): for a probe that cannot reach its endpoint. */
export async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
