import { join } from 'node:path';
import { ensureTemporalCli } from './find';
import { packageRoot } from '../package-root';
import { DEFAULT_TEMPORAL_PORT, deriveUiUrl } from '../config/temporal';
import { DEV_SERVER_HOST, PortInUseError, startDevServer } from './server';
import { GodwitError } from '../errors';

export { deriveUiUrl };

/** Where Godwit's Temporal lives for this process: a server it was pointed at, or a dev server it started. */
export interface TemporalEndpoint {
  address: string;
  uiUrl: string;
  namespace: string;
  /** True when this process started the dev server (and `stop()` stops it). */
  started: boolean;
  /** Stops the dev server this process started; a no-op for a server given by TEMPORAL_ADDRESS. */
  stop(): Promise<void>;
}

export interface ConnectOrStartOptions {
  onNote?: (line: string) => void;
  /** Keep the started server's history in `<projectRoot>/.godwit/temporal.db` instead of memory. */
  persistent?: boolean;
  /** Environment to read TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and GODWIT_UI_URL from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  projectRoot?: string;
}

/** The ports `godwit dev` serves on: Temporal's usual ones. */
export const DEV_PORT = DEFAULT_TEMPORAL_PORT;
export const DEV_UI_PORT = 8233;

/** The SQLite file `godwit dev` (and `persistent: true`) keeps history in. */
export function devDbFile(projectRoot: string = packageRoot()): string {
  return join(projectRoot, '.godwit', 'temporal.db');
}


/**
 * Uses the Temporal server named by TEMPORAL_ADDRESS when it is set (starting nothing), otherwise
 * finds or builds the Temporal CLI and starts a dev server on free ports for this process.
 */
export async function connectOrStartTemporal(opts: ConnectOrStartOptions = {}): Promise<TemporalEndpoint> {
  const env = opts.env ?? process.env;
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const given = env.TEMPORAL_ADDRESS?.trim();
  if (given) {
    return {
      address: given,
      uiUrl: env.GODWIT_UI_URL?.trim() || deriveUiUrl(given, namespace),
      namespace,
      started: false,
      stop: async () => {},
    };
  }
  const projectRoot = opts.projectRoot ?? packageRoot();
  const cli = await ensureTemporalCli({ onNote: opts.onNote, projectRoot, env });
  const server = await startDevServer({
    cliPath: cli.path,
    namespace,
    dbFile: opts.persistent ? devDbFile(projectRoot) : undefined,
    onNote: opts.onNote,
  });
  opts.onNote?.(`Started a Temporal dev server at ${server.address} (Web UI ${server.uiUrl}); set TEMPORAL_ADDRESS to use another.`);
  return { address: server.address, uiUrl: server.uiUrl, namespace, started: true, stop: server.stop };
}

/** Thrown by `godwit dev` when Temporal's usual port is taken, most likely by a dev server already running. */
export class DevPortTakenError extends GodwitError {
  override readonly name = 'DevPortTakenError';
  constructor(
    readonly port: number,
    readonly purpose: string,
  ) {
    super(
      [
        `Cannot start the Temporal dev server: ${DEV_SERVER_HOST}:${port} (${purpose}) is already in use.`,
        `Maybe a Temporal dev server is already running there (another \`godwit dev\` or \`temporal server start-dev\`).`,
        `To use it, run Godwit with TEMPORAL_ADDRESS=${DEV_SERVER_HOST}:${DEV_PORT}; otherwise stop whatever listens on port ${port} (\`lsof -i :${port}\` names it).`,
      ].join('\n'),
    );
  }
}

export interface RunDevServerOptions {
  projectRoot?: string;
  /** The Temporal CLI binary; found or built with `ensureTemporalCli` when omitted. */
  cliPath?: string;
  /** Where the address, UI URL and progress lines go; defaults to console.log. */
  out?: (line: string) => void;
  /** Stops the server like SIGINT does (tests, embedding). */
  signal?: AbortSignal;
  port?: number;
  uiPort?: number;
}

/**
 * `godwit dev`: a Temporal dev server on 127.0.0.1:7233 (Web UI on 8233) whose history lives in
 * `.godwit/temporal.db`, so runs survive a restart. Resolves after SIGINT/SIGTERM (or `signal`) once
 * the server has stopped; rejects if the server cannot start or dies on its own.
 */
export async function runDevServer(opts: RunDevServerOptions = {}): Promise<void> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const projectRoot = opts.projectRoot ?? packageRoot();
  const port = opts.port ?? DEV_PORT;
  const uiPort = opts.uiPort ?? DEV_UI_PORT;
  const dbFile = devDbFile(projectRoot);

  const cliPath = opts.cliPath ?? (await ensureTemporalCli({ onNote: out, projectRoot })).path;
  let server;
  try {
    server = await startDevServer({ cliPath, port, uiPort, dbFile, onNote: out });
  } catch (err) {
    if (err instanceof PortInUseError) throw new DevPortTakenError(err.port, err.purpose);
    throw err;
  }

  out(`Temporal dev server: ${server.address} (namespace ${server.namespace})`);
  out(`Web UI:              ${server.uiUrl}`);
  out(`History:             ${dbFile}`);
  out(`Point Godwit at it:  export TEMPORAL_ADDRESS=${server.address}`);
  out('Press Ctrl+C to stop.');

  let onStop: (() => void) | undefined;
  const stopRequested = new Promise<'stop'>((resolve) => {
    onStop = () => resolve('stop');
  });
  const stopNow = (): void => onStop?.();
  process.once('SIGINT', stopNow);
  process.once('SIGTERM', stopNow);
  opts.signal?.addEventListener('abort', stopNow, { once: true });
  if (opts.signal?.aborted) stopNow();
  try {
    const why = await Promise.race([stopRequested, server.exited]);
    if (why !== 'stop') {
      throw new Error(
        `The Temporal dev server stopped on its own (${why.signal ?? `exit code ${why.code}`}). Last output:\n${server.logTail().trimEnd()}`,
      );
    }
    out('Stopping the Temporal dev server...');
  } finally {
    process.removeListener('SIGINT', stopNow);
    process.removeListener('SIGTERM', stopNow);
    opts.signal?.removeEventListener('abort', stopNow);
    await server.stop();
  }
  out('Temporal dev server stopped.');
}
