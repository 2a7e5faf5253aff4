import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/package-root';
import {
  connectOrStartTemporal,
  deriveUiUrl,
  DevPortTakenError,
  DevServerStartError,
  ensureSearchAttributes,
  ensureTemporalCli,
  findFreePorts,
  findTemporalCli,
  isPortFree,
  PortInUseError,
  runDevServer,
  SEARCH_ATTRIBUTES,
  startDevServer,
  TemporalUnavailableError,
  type DevServer,
} from '../../src/devserver';

const KEYWORD = encodeSearchAttributeIndexedValueType('KEYWORD');

let cliPath: string;
const scratch: string[] = [];

/** A scratch folder removed after the file; under .godwit/ when it must resolve the project's node_modules. */
function scratchDir(inProject = false): string {
  const base = inProject ? join(packageRoot(), '.godwit', 'tmp') : tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'godwit-devserver-'));
  scratch.push(dir);
  return dir;
}

function writeScript(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  // Builds the pinned CLI into .godwit/bin on a fresh clone (about 3 minutes, once).
  cliPath = (await ensureTemporalCli({ onNote: (line) => console.log(line) })).path;
});

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('startDevServer', () => {
  let server: DevServer;
  let connection: Connection;

  beforeAll(async () => {
    server = await startDevServer({ cliPath });
    connection = await Connection.connect({ address: server.address });
  });

  afterAll(async () => {
    await connection?.close();
    await server?.stop();
  });

  it('listens on 127.0.0.1 with the Web UI on its own port', () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.uiUrl).not.toContain(`:${server.address.split(':')[1]}`);
  });

  it('registers the Godwit search attributes as Keyword', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(customAttributes?.[name], name).toBe(KEYWORD);
  });

  it('serves the Web UI', async () => {
    const res = await fetch(server.uiUrl);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
  });

  it('hands activities to the worker eagerly', async () => {
    expect(server.command).toContain('system.enableActivityEagerExecution=true');
    const dir = scratchDir(true);
    const workflowsPath = join(dir, 'probe-workflow.ts');
    writeFileSync(
      workflowsPath,
      [
        "import { proxyActivities } from '@temporalio/workflow';",
        "const { ping } = proxyActivities<{ ping(): Promise<string> }>({ startToCloseTimeout: '10s' });",
        'export async function eagerProbe(): Promise<string> { return await ping(); }',
      ].join('\n'),
    );
    const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: quiet });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const taskQueue = 'eagerprobe'; // no dashes: Prometheus labels would show them as _
    try {
      const worker = await Worker.create({
        connection: nativeConnection,
        taskQueue,
        workflowBundle,
        activities: { ping: async () => 'pong' },
      });
      const client = new Client({ connection });
      const result = await worker.runUntil(
        client.workflow.execute('eagerProbe', { taskQueue, workflowId: `eager-probe-${Date.now()}` }),
      );
      expect(result).toBe('pong');
    } finally {
      await nativeConnection.close();
    }
    // The server counts every activity it handed out in a workflow-task response; its counters reach
    // /metrics on a ~1 s reporting tick, so poll briefly.
    const eagerCount = async (): Promise<number> => {
      const metrics = await (await fetch(server.metricsUrl)).text();
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('activity_eager_execution{') && l.includes(`taskqueue="${taskQueue}"`));
      return Number(line?.split(' ').pop() ?? 0);
    };
    let count = 0;
    for (let i = 0; i < 50 && count === 0; i++) {
      count = await eagerCount();
      if (count === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(count, 'activity_eager_execution for the probe task queue').toBeGreaterThanOrEqual(1);
  });

  it('ensureSearchAttributes adds a missing attribute once and is a no-op after', async () => {
    await connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['GodwitState'] });
    expect(await ensureSearchAttributes(connection, 'default')).toEqual({ added: ['GodwitState'] });
    expect(await ensureSearchAttributes(connection, 'default')).toEqual({ added: [] });
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(customAttributes?.GodwitState).toBe(KEYWORD);
  });

  it('stop() ends the process and frees both ports', async () => {
    const port = Number(server.address.split(':')[1]);
    const uiPort = Number(new URL(server.uiUrl).port);
    await connection.close();
    await server.stop();
    await expect(server.exited).resolves.toBeDefined();
    expect(isAlive(server.pid)).toBe(false);
    expect(await isPortFree(port)).toBe(true);
    expect(await isPortFree(uiPort)).toBe(true);
    await server.stop(); // idempotent
  });
});

describe('startDevServer failures', () => {
  it('reports the output of a server that exits during startup', async () => {
    const fake = writeScript(join(scratchDir(), 'temporal'), 'echo "bind: something broke" >&2; exit 3');
    const err = await startDevServer({ cliPath: fake, readyTimeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DevServerStartError);
    expect((err as Error).message).toContain('exited during startup (exit code 3)');
    expect((err as Error).message).toContain('bind: something broke');
  });

  it('refuses a port that is already taken', async () => {
    const [port = 0] = await findFreePorts(1);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const err = await startDevServer({ cliPath, port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as PortInUseError).port).toBe(port);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('runDevServer', () => {
  it('keeps history in .godwit/temporal.db across a restart and stops on abort', async () => {
    const projectRoot = scratchDir();
    const [port = 0, uiPort = 0] = await findFreePorts(2);
    const runOnce = async (whileUp: (address: string) => Promise<void>): Promise<string[]> => {
      const lines: string[] = [];
      const stop = new AbortController();
      let ready!: () => void;
      const up = new Promise<void>((r) => (ready = r));
      const out = (line: string): void => {
        lines.push(line);
        if (line.startsWith('Press Ctrl+C')) ready();
      };
      const done = runDevServer({ projectRoot, cliPath, port, uiPort, out, signal: stop.signal });
      await Promise.race([up, done]);
      try {
        await whileUp(`127.0.0.1:${port}`);
      } finally {
        stop.abort();
        await done;
      }
      return lines;
    };

    const workflowId = `survives-restart-${Date.now()}`;
    const first = await runOnce(async (address) => {
      const connection = await Connection.connect({ address });
      try {
        await new Client({ connection }).workflow.start('NeverRuns', { taskQueue: 'nobody', workflowId });
      } finally {
        await connection.close();
      }
    });
    expect(first).toContain(`Web UI:              http://127.0.0.1:${uiPort}`);
    expect(first.at(-1)).toBe('Temporal dev server stopped.');
    expect(existsSync(join(projectRoot, '.godwit', 'temporal.db'))).toBe(true);
    expect(await isPortFree(port)).toBe(true);

    await runOnce(async (address) => {
      const connection = await Connection.connect({ address });
      try {
        const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
        expect(description.type).toBe('NeverRuns');
      } finally {
        await connection.close();
      }
    });
  });

  it('says a dev server may already be running when the port is taken', async () => {
    const [port = 0, uiPort = 0] = await findFreePorts(2);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const err = await runDevServer({ projectRoot: scratchDir(), cliPath, port, uiPort, out: () => {} }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DevPortTakenError);
      expect((err as Error).message).toContain('Maybe a Temporal dev server is already running');
      expect((err as Error).message).toContain('TEMPORAL_ADDRESS=127.0.0.1:7233');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('ensureTemporalCli', () => {
  it('throws TemporalUnavailableError listing all three ways when nothing is available', async () => {
    const projectRoot = scratchDir();
    const opts = { env: { PATH: '' }, projectRoot, goBinary: join(projectRoot, 'no-go-here') };
    expect(findTemporalCli(opts)).toBeNull();
    const err = await ensureTemporalCli(opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalUnavailableError);
    const { tried, message } = err as TemporalUnavailableError;
    expect(tried).toHaveLength(3);
    expect(tried[0]).toContain('`temporal` on PATH');
    expect(tried[1]).toContain(join(projectRoot, '.godwit', 'bin', 'temporal'));
    expect(tried[2]).toContain('`go` not found');
    expect(message).toContain('install Go');
    expect(message).toContain('put a `temporal` binary on PATH');
    expect(message).toContain('set TEMPORAL_ADDRESS');
  });

  it('prefers temporal on PATH, then the project-local binary', () => {
    const projectRoot = scratchDir();
    const pathDir = join(projectRoot, 'path-bin');
    mkdirSync(pathDir);
    mkdirSync(join(projectRoot, '.godwit', 'bin'), { recursive: true });
    const local = writeScript(join(projectRoot, '.godwit', 'bin', 'temporal'), 'exit 0');
    expect(findTemporalCli({ env: { PATH: pathDir }, projectRoot })).toEqual({ path: local, source: 'local' });
    const onPath = writeScript(join(pathDir, 'temporal'), 'exit 0');
    expect(findTemporalCli({ env: { PATH: pathDir }, projectRoot })).toEqual({ path: onPath, source: 'path' });
  });

  it('builds into .godwit/bin with go install, announcing it first', async () => {
    const projectRoot = scratchDir();
    // Stands in for `go install`: checks the arguments and drops a binary into GOBIN.
    const go = writeScript(
      join(projectRoot, 'go'),
      '[ "$1 $2" = "install github.com/temporalio/cli/cmd/temporal@v1.5.1" ] || exit 9\n' +
        'printf "#!/bin/sh\\n" > "$GOBIN/temporal" && /bin/chmod +x "$GOBIN/temporal"',
    );
    const notes: string[] = [];
    const cli = await ensureTemporalCli({ env: { PATH: '' }, projectRoot, goBinary: go, onNote: (l) => notes.push(l) });
    expect(cli).toEqual({ path: join(projectRoot, '.godwit', 'bin', 'temporal'), source: 'built' });
    expect(notes[0]).toBe(
      'Building the Temporal CLI v1.5.1 with Go into .godwit/bin (first time only, about 3 minutes)...',
    );
    expect(existsSync(join(projectRoot, '.godwit', 'bin', '.temporal-build.lock'))).toBe(false);
  });

  it('reports the tail of a failed go install', async () => {
    const projectRoot = scratchDir();
    const go = writeScript(join(projectRoot, 'go'), 'echo "go: module lookup disabled by GOPROXY=off" >&2; exit 1');
    const err = await ensureTemporalCli({ env: { PATH: '' }, projectRoot, goBinary: go }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalUnavailableError);
    expect((err as TemporalUnavailableError).tried[2]).toContain('go: module lookup disabled by GOPROXY=off');
  });
});

describe('connectOrStartTemporal', () => {
  it('uses TEMPORAL_ADDRESS without starting anything', async () => {
    const endpoint = await connectOrStartTemporal({ env: { TEMPORAL_ADDRESS: 'temporal.internal:7233' } });
    expect(endpoint).toMatchObject({
      address: 'temporal.internal:7233',
      uiUrl: 'http://temporal.internal:8233',
      namespace: 'default',
      started: false,
    });
    await endpoint.stop();
  });

  it('takes the UI URL from GODWIT_UI_URL and the namespace from TEMPORAL_NAMESPACE', async () => {
    const endpoint = await connectOrStartTemporal({
      env: { TEMPORAL_ADDRESS: '10.0.0.5:7233', TEMPORAL_NAMESPACE: 'payments', GODWIT_UI_URL: 'https://temporal.example.com' },
    });
    expect(endpoint).toMatchObject({ uiUrl: 'https://temporal.example.com', namespace: 'payments', started: false });
  });

  it('derives the Web UI of Temporal Cloud and of dev-server-style addresses', () => {
    expect(deriveUiUrl('my-ns.a1b2c.tmprl.cloud:7233', 'my-ns.a1b2c')).toBe('https://cloud.temporal.io/namespaces/my-ns.a1b2c');
    expect(deriveUiUrl('127.0.0.1:7300', 'default')).toBe('http://127.0.0.1:8300');
    expect(deriveUiUrl('localhost', 'default')).toBe('http://localhost:8233');
  });

  it('starts a dev server when TEMPORAL_ADDRESS is unset, and stops it', async () => {
    const endpoint = await connectOrStartTemporal({ env: { PATH: process.env.PATH } });
    try {
      expect(endpoint.started).toBe(true);
      expect(endpoint.address).toMatch(/^127\.0\.0\.1:\d+$/);
    } finally {
      await endpoint.stop();
    }
    expect(await isPortFree(Number(endpoint.address.split(':')[1]))).toBe(true);
  });
});
