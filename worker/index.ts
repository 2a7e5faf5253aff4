import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { metricsInterceptor } from '../src/metrics/interceptor';
import { parseMetricsAddress, sdkMetricsAddress, serveMetrics, type MetricsServer } from '../src/metrics/server';
import { loadTracing, type Tracing } from '../src/metrics/tracing';
import { createActivities } from '../activities';
import type { ActivityDeps } from '../activities/context';
import { TargetPools } from '../src/db/pool';
import { ensureSearchAttributes } from '../src/devserver/search-attributes';
import { packageRoot } from '../src/package-root';
import { temporalUnreachable } from '../src/client/errors';
import { loadConfig } from '../src/config/targets';
import { temporalSettings, type TemporalConnectionOptions, type TemporalSettings } from '../src/config/temporal';

export const WORKFLOWS_PATH = join(packageRoot(), 'workflows', 'index.ts');

let runtimeInstalled = false;

/** Quiet by default: Godwit prints its own story; GODWIT_LOG_LEVEL=INFO shows the SDK's. */
export function installRuntime(level = (process.env.GODWIT_LOG_LEVEL ?? 'WARN') as LogLevel, sdkMetrics?: string): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // sdkMetrics: where the SDK's runtime exports its worker metrics (src/metrics/server.ts serves them on)
    Runtime.install({ logger: new DefaultLogger(level), ...(sdkMetrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetrics } } } } : {}) });
  } catch {
    // Something (a connection) already created the runtime with the SDK's defaults; keep it.
  }
}

/** Connects a worker connection, with Godwit's runtime settings installed first. */
export async function connectWorkerConnection(address: string, options: TemporalConnectionOptions = {}): Promise<NativeConnection> {
  installRuntime();
  return NativeConnection.connect({ address, ...options });
}

export interface GodwitWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  pools?: TargetPools;
  /** A bundle made by bundleWorkflowCode; saves bundling on every start (tests). */
  workflowBundlePath?: string;
  /** The godwit.yaml whose authorization section the worker enforces (default: $GODWIT_CONFIG or ./godwit.yaml). */
  configFile?: string;
  /** OpenTelemetry tracing (src/metrics/tracing.ts), when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  tracing?: Tracing | null;
}

/** What of godwit.yaml the activities enforce: who may do what, and the health policies per target. */
function workerPolicy(config: ReturnType<typeof loadConfig>): Pick<ActivityDeps, 'authorization' | 'policies'> {
  return { authorization: config.authorization, policies: config.policies };
}

export async function createGodwitWorker(opts: GodwitWorkerOptions): Promise<{ worker: Worker; pools: TargetPools }> {
  installRuntime();
  const pools = opts.pools ?? new TargetPools();
  const bundlePath = opts.workflowBundlePath ?? process.env.GODWIT_WORKFLOW_BUNDLE;
  const prebuilt = bundlePath !== undefined && existsSync(bundlePath);
  const tracing = opts.tracing ?? null;
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(prebuilt ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({ pools, ...workerPolicy(loadConfig(opts.configFile)) }),
    interceptors: {
      activity: [metricsInterceptor(pools), ...(tracing ? [tracing.activity] : [])],
      // workflow spans need the interceptor inside the bundle: only when the worker bundles it
      ...(tracing && !prebuilt ? { workflowModules: [tracing.workflowInterceptorModule] } : {}),
    },
    ...(tracing ? { sinks: tracing.sinks } : {}),
    shutdownGraceTime: '10 seconds',
  });
  return { worker, pools };
}

export async function connectNative(settings: Pick<TemporalSettings, 'address' | 'connection'>): Promise<NativeConnection> {
  try {
    return await connectWorkerConnection(settings.address, settings.connection);
  } catch (err) {
    throw temporalUnreachable(settings.address, (err as Error).message);
  }
}

/**
 * `godwit worker`: runs until SIGINT/SIGTERM, when the SDK's runtime shuts the
 * worker down gracefully (running activities get the grace time to finish).
 */
export async function runWorker(flags: { address?: string; namespace?: string; taskQueue?: string; metrics?: string } = {}, out: (line: string) => void = console.log): Promise<void> {
  const metricsAt = flags.metrics ? parseMetricsAddress(flags.metrics) : null;
  const settings = await temporalSettings(flags);
  // The SDK's runtime is installed once, before the first connection: its metrics port with it.
  const sdkMetrics = metricsAt ? await sdkMetricsAddress() : undefined;
  installRuntime(undefined, sdkMetrics);
  const connection = await connectNative(settings);
  const client = await Connection.connect({ address: settings.address, ...settings.connection });
  let metricsServer: MetricsServer | null = null;
  let tracing: Tracing | null = null;
  try {
    const { added } = await ensureSearchAttributes(client, settings.namespace);
    if (added.length > 0) out(`registered search attributes: ${added.join(', ')}`);
    tracing = loadTracing();
    if (tracing) out(`godwit worker: OpenTelemetry traces to ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}`);
    const { worker, pools } = await createGodwitWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, tracing });
    if (metricsAt) {
      metricsServer = await serveMetrics(metricsAt, { client: new Client({ connection: client, namespace: settings.namespace }), sdk: sdkMetrics ?? null });
      out(`godwit worker: Prometheus metrics at ${metricsServer.url}`);
    }
    out(`godwit worker: task queue '${settings.taskQueue}' on ${settings.address} (namespace ${settings.namespace}); Ctrl-C stops it`);
    try {
      await worker.run();
    } finally {
      await pools.close();
      out('godwit worker: stopped');
    }
  } finally {
    await metricsServer?.close();
    await tracing?.shutdown(); // flushes the spans not exported yet
    await client.close();
    await connection.close();
  }
}
