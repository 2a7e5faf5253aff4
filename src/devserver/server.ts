import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureTemporalCli } from './find';
import { ensureSearchAttributes, SEARCH_ATTRIBUTES, SearchAttributeTypeMismatchError } from './search-attributes';

import { DEFAULT_TEMPORAL_HOST } from '../config/temporal';
import { GodwitError } from '../errors';

export const DEV_SERVER_HOST = DEFAULT_TEMPORAL_HOST;

/**
 * The dynamic config Godwit runs the dev server with: activities are handed to the worker in the
 * workflow-task response instead of through matching, which halves a short migration's wall time.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = { 'system.enableActivityEagerExecution': 'true' } as const;

export interface StartDevServerOptions {
  /** The Temporal CLI binary; found or built with `ensureTemporalCli` when omitted. */
  cliPath?: string;
  /** Used to find or build the CLI when `cliPath` is omitted. */
  projectRoot?: string;
  /** Front-end gRPC port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted. */
  uiPort?: number;
  /** SQLite file that keeps history across restarts; in-memory when omitted. */
  dbFile?: string;
  /** Namespace to create and check; `default` always exists. */
  namespace?: string;
  onNote?: (line: string) => void;
  /** How long to wait for the server to answer, in ms (default 60 s). */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL, in ms (default 5 s). */
  stopTimeoutMs?: number;
}

export interface DevServer {
  /** gRPC address, `127.0.0.1:PORT`. */
  address: string;
  /** Web UI, `http://127.0.0.1:UIPORT`. */
  uiUrl: string;
  /** The server's Prometheus endpoint, `http://127.0.0.1:PORT/metrics`. */
  metricsUrl: string;
  namespace: string;
  /** The `temporal` process id. */
  pid: number;
  /** The full command line the server was started with. */
  command: readonly string[];
  /** The last few KB of the server's stdout and stderr, for error messages. */
  logTail(): string;
  /** Settles when the server process has exited, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/** Thrown when the dev server exits during startup or does not answer in time; `output` is the tail of its logs. */
export class DevServerStartError extends GodwitError {
  override readonly name = 'DevServerStartError';
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(output.trim() === '' ? message : `${message}\nLast output of the Temporal dev server:\n${indent(output)}`);
  }
}

/** Thrown when a port the dev server should listen on is taken by another process. */
export class PortInUseError extends GodwitError {
  override readonly name = 'PortInUseError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly purpose: string,
  ) {
    super(`Port ${host}:${port} (${purpose}) is already in use.`);
  }
}

const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ports the OS reports free right now: listen on port 0 for each, then release them together. */
export async function findFreePorts(count: number, host: string = DEV_SERVER_HOST): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('listening on port 0 gave no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** True when nothing listens on host:port (we can bind it ourselves). */
export function isPortFree(port: number, host: string = DEV_SERVER_HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

const searchAttributeFlagSupport = new Map<string, boolean>();

/** Older CLIs lack `--search-attribute`; for them the attributes are added through the operator API. */
function supportsSearchAttributeFlag(cliPath: string): boolean {
  let supported = searchAttributeFlagSupport.get(cliPath);
  if (supported === undefined) {
    const help = spawnSync(cliPath, ['server', 'start-dev', '--help'], { encoding: 'utf8', timeout: 10_000 });
    supported = `${help.stdout}`.includes('--search-attribute');
    searchAttributeFlagSupport.set(cliPath, supported);
  }
  return supported;
}

// On Linux, setpriv makes the kernel send SIGTERM to the server when its parent dies, even by SIGKILL.
const setpriv = process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) : undefined;

// Servers still running when this process exits get SIGTERM, so none outlives us.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});

/** The arguments after `temporal` that start the dev server. */
export function devServerArgs(opts: {
  port: number;
  uiPort: number;
  metricsPort?: number;
  dbFile?: string;
  namespace: string;
  searchAttributeFlag: boolean;
}): string[] {
  const args = ['server', 'start-dev', '--ip', DEV_SERVER_HOST, '--port', String(opts.port), '--ui-port', String(opts.uiPort)];
  if (opts.metricsPort !== undefined) args.push('--metrics-port', String(opts.metricsPort));
  args.push('--log-level', 'warn');
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${key}=${value}`);
  if (opts.searchAttributeFlag) {
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  }
  if (opts.dbFile !== undefined) args.push('--db-filename', opts.dbFile);
  if (opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  return args;
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 and resolves once it answers gRPC, has Godwit's
 * search attributes in `namespace` and serves the Web UI.
 */
export async function startDevServer(opts: StartDevServerOptions = {}): Promise<DevServer> {
  const cliPath = opts.cliPath ?? (await ensureTemporalCli({ onNote: opts.onNote, projectRoot: opts.projectRoot })).path;
  if (opts.dbFile !== undefined) mkdirSync(dirname(opts.dbFile), { recursive: true });

  // A free port can be taken between our check and the server's bind: retry with new ones.
  for (let attempt = 1; ; attempt++) {
    const [free1 = 0, free2 = 0, free3 = 0] = await findFreePorts(3);
    const port = opts.port ?? free1;
    const uiPort = opts.uiPort ?? free2;
    if (opts.port !== undefined && !(await isPortFree(port))) throw new PortInUseError(DEV_SERVER_HOST, port, 'Temporal gRPC');
    if (opts.uiPort !== undefined && !(await isPortFree(uiPort))) {
      throw new PortInUseError(DEV_SERVER_HOST, uiPort, 'Temporal Web UI');
    }
    try {
      return await launch(cliPath, { port, uiPort, metricsPort: free3 }, opts);
    } catch (err) {
      const raced = err instanceof DevServerStartError && /address already in use/i.test(err.output);
      if (!(raced && attempt < 3)) throw err;
    }
  }
}

async function launch(
  cliPath: string,
  ports: { port: number; uiPort: number; metricsPort: number },
  opts: StartDevServerOptions,
): Promise<DevServer> {
  const namespace = opts.namespace ?? 'default';
  const address = `${DEV_SERVER_HOST}:${ports.port}`;
  const uiUrl = `http://${DEV_SERVER_HOST}:${ports.uiPort}`;
  const metricsUrl = `http://${DEV_SERVER_HOST}:${ports.metricsPort}/metrics`;
  const searchAttributeFlag = supportsSearchAttributeFlag(cliPath);
  const args = devServerArgs({ ...ports, dbFile: opts.dbFile, namespace, searchAttributeFlag });
  const command = setpriv ? [setpriv, '--pdeathsig', 'TERM', '--', cliPath, ...args] : [cliPath, ...args];

  // With setpriv guarding against orphans, the server gets its own process group, so a Ctrl+C in the
  // terminal reaches only us and we stop the server in order; without it, it shares the Ctrl+C.
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: setpriv !== undefined });
  // The head and the tail of what it prints: a Go panic says why in its first line
  // (say, a port taken between the CLI's check and its bind), then dumps goroutines.
  let head = '';
  let tail = '';
  let total = 0;
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString();
    total += text.length;
    if (head.length < 2000) head = (head + text).slice(0, 2000);
    tail = (tail + text).slice(-6000);
  };
  const output = (): string => (total <= head.length + tail.length ? (total <= tail.length ? tail : `${head}${tail.slice(head.length + tail.length - total)}`) : `${head}\n[...]\n${tail}`);
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      keep(Buffer.from(`could not run ${cliPath}: ${err.message}\n`));
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  }).finally(() => running.delete(child));
  running.add(child);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (exitInfo) return;
      child.kill('SIGTERM');
      const escalate = setTimeout(() => child.kill('SIGKILL'), opts.stopTimeoutMs ?? 5000);
      await exited;
      clearTimeout(escalate);
    })());

  try {
    await waitUntilReady({
      address,
      uiUrl,
      namespace,
      searchAttributeFlag,
      opts,
      exited,
      hasExited: () => exitInfo,
      output,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl, metricsUrl, namespace, pid: child.pid!, command, logTail: () => tail, exited, stop };
}

async function waitUntilReady(ctx: {
  address: string;
  uiUrl: string;
  namespace: string;
  searchAttributeFlag: boolean;
  opts: StartDevServerOptions;
  exited: Promise<unknown>;
  hasExited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  output: () => string;
}): Promise<void> {
  const timeoutMs = ctx.opts.readyTimeoutMs ?? 60_000;
  const started = Date.now();
  let stage = 'answer gRPC';
  let lastError: unknown;
  let connection: Connection | undefined;
  let gaveUp = false;

  // One readiness probe: gRPC answers, the search attributes are there, the Web UI serves.
  const probe = async (): Promise<void> => {
    stage = 'answer gRPC';
    if (!connection) {
      const conn = await Connection.connect({ address: ctx.address, connectTimeout: 1000 });
      if (gaveUp) {
        await conn.close();
        return;
      }
      connection = conn;
    }
    const conn = connection;
    await conn.withDeadline(Date.now() + 2000, () => conn.workflowService.getSystemInfo({}));
    stage = `list the search attributes of namespace "${ctx.namespace}"`;
    if (ctx.searchAttributeFlag) {
      const { customAttributes } = await conn.operatorService.listSearchAttributes({ namespace: ctx.namespace });
      const missing = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !(name in (customAttributes ?? {})));
      // The flag registers them while the server starts; give it a moment before adding them ourselves.
      if (missing.length > 0 && Date.now() - started < 5000) throw new Error(`missing ${missing.join(', ')}`);
    }
    await ensureSearchAttributes(conn, ctx.namespace);
    stage = `serve the Web UI at ${ctx.uiUrl}`;
    const res = await fetch(ctx.uiUrl, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`Web UI answered HTTP ${res.status}`);
  };

  try {
    let noted = false;
    for (;;) {
      const exit = ctx.hasExited();
      if (exit) {
        throw new DevServerStartError(
          `The Temporal dev server exited during startup (${exit.signal ?? `exit code ${exit.code}`}) before it could ${stage} at ${ctx.address}.`,
          ctx.output(),
        );
      }
      if (Date.now() - started > timeoutMs) {
        throw new DevServerStartError(
          `The Temporal dev server at ${ctx.address} did not ${stage} within ${Math.round(timeoutMs / 1000)} s` +
            (lastError ? ` (last error: ${(lastError as Error).message})` : '') +
            '.',
          ctx.output(),
        );
      }
      if (!noted && Date.now() - started > 10_000) {
        ctx.opts.onNote?.(`Still waiting for the Temporal dev server at ${ctx.address} to ${stage}...`);
        noted = true;
      }
      const attempt = probe();
      attempt.catch(() => {}); // when the server exits first, nobody awaits this attempt
      try {
        // A server that dies mid-probe fails the start at once, not when the probe times out.
        const outcome = await Promise.race([attempt.then(() => 'ready' as const), ctx.exited.then(() => 'exited' as const)]);
        if (outcome === 'ready') return;
      } catch (err) {
        // Waiting cannot fix an attribute registered with the wrong type.
        if (err instanceof SearchAttributeTypeMismatchError) throw err;
        lastError = err;
        await sleep(100);
      }
    }
  } finally {
    gaveUp = true;
    await connection?.close();
  }
}
